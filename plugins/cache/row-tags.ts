import type { Filter, FilterValue, Step, TableEffects } from '../pg/tables.js';
import { hashText } from './keys.js';
import { tableTag } from './trace.js';

/**
 * Tags for rows, so that a write to one user's plans does not drop every user's entries. For table T:
 * - every read of T carries `@pg:T` (an unfiltered write drops it: the whole table);
 * - a read with no usable filter carries `@pg:T|*` too;
 * - a read filtered on `c = v` carries `@pg:T|c!` and `@pg:T|c=<hash of v>` instead.
 * A write filtered on `c = w` (that does not SET c) drops `@pg:T|*`, `@pg:T|c=<hash of w>`, and
 * `@pg:T|x!` for every other column x of T (the catalog lists them): a read filtered on another column
 * may hold any of the written rows. Values are hashed (tags travel to Redis as key names) after a
 * normalisation that may only merge values, never split equal ones: text is trimmed and lower-cased,
 * numbers are written canonically (`'007'` and `7` are one value; `'Bob'` and `'bob'` too — a needless
 * invalidation at worst).
 */
const wholeTag = (table: string): string => `${tableTag(table)}|*`;
const columnTag = (table: string, column: string): string => `${tableTag(table)}|${column}!`;
const valueTag = (table: string, column: string, value: string): string => `${tableTag(table)}|${column}=${hashText(value).slice(0, 16)}`;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The normalised text of a filter value, or undefined when it cannot stand for one (arrays, objects). */
export function normalizeValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (NUMBER.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? String(n) : text;
  }
  return text;
}

function resolve(v: FilterValue, values: readonly unknown[] | undefined): string | undefined {
  if ('literal' in v) return normalizeValue(v.literal);
  if (values === undefined || v.param < 1 || v.param > values.length) return undefined;
  return normalizeValue(values[v.param - 1]);
}

function resolveAll(filter: Filter, values: readonly unknown[] | undefined): string[] | undefined {
  const out: string[] = [];
  for (const v of filter.values) {
    const text = resolve(v, values);
    if (text === undefined) return undefined;
    out.push(text);
  }
  return out;
}

/** The tags of what a statement read. */
export function readTags(e: TableEffects, values: readonly unknown[] | undefined): string[] {
  const tags: string[] = [];
  for (const table of e.reads) {
    tags.push(tableTag(table));
    const filters = e.filters[table];
    const resolved = filters?.map((f) => ({ column: f.column, values: resolveAll(f, values) }));
    if (resolved === undefined || resolved.some((f) => f.values === undefined)) {
      tags.push(wholeTag(table));
      continue;
    }
    for (const f of resolved) {
      tags.push(columnTag(table, f.column));
      for (const v of f.values!) tags.push(valueTag(table, f.column, v));
    }
  }
  return tags;
}

/**
 * The tags a write step drops: row tags for its filtered table when the columns of that table are known,
 * table tags for the rest (cascades, views, partitions: `changed`, from the catalog).
 */
export function writeTags(step: Step, changed: readonly string[], values: readonly unknown[] | undefined, columnsOf: (table: string) => readonly string[] | undefined): string[] {
  const tags: string[] = [];
  const target = step.filter !== undefined && step.tables.length === 1 ? step.tables[0] : undefined;
  for (const table of changed) {
    const columns = table === target ? columnsOf(table) : undefined;
    const resolved = columns !== undefined && step.filter !== undefined ? resolveAll(step.filter, values) : undefined;
    if (resolved === undefined || columns === undefined || !columns.includes(step.filter!.column)) {
      tags.push(tableTag(table));
      continue;
    }
    const column = step.filter!.column;
    tags.push(wholeTag(table));
    for (const v of resolved) tags.push(valueTag(table, column, v));
    for (const other of columns) if (other !== column) tags.push(columnTag(table, other));
  }
  return tags;
}
