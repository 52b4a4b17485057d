import type { Filter, FilterValue, Step, TableEffects } from '../pg/tables.js';
import { hashText } from './keys.js';
import { tableTag } from './trace.js';

/**
 * Tags for rows, so that a write to one user's plans does not drop every user's entries. For table T:
 * - every read of T carries `@pg:T` (a write the parser cannot bound drops it: the whole table);
 * - a read with no usable filter carries `@pg:T|*` too;
 * - a read filtered on `c = v` (or `c IN (…)`, `c = ANY($n)`) carries `@pg:T|c!` and `@pg:T|c=<hash of v>`.
 * A write whose rows are pinned on `c = w` (an UPDATE or DELETE … WHERE c = w that does not SET c; an
 * INSERT … VALUES listing c) drops `@pg:T|*`, `@pg:T|c=<hash of w>`, and `@pg:T|x!` for every other
 * column x of T (the catalog lists them): a read filtered on another column may hold any of those rows.
 *
 * A value only becomes a tag when two equal values in PostgreSQL always give the same text here, which
 * depends on the column's type (the catalog gives it): integers (written canonically, `'007'` is `7`),
 * numeric, text (trimmed and lower-cased: `'Bob'` and `'bob'` merge — a needless invalidation at worst,
 * never a missed one) and uuid (hyphens and braces dropped). Booleans (`'t'` is `true`), timestamps and
 * dates (many spellings, time zones), floats, json, arrays and everything else count as unknown values:
 * the read or write falls back to its whole table. So does a column the catalog does not list for the
 * table (an unqualified name that PostgreSQL resolved to an outer query's column).
 */
export type ColumnKind = 'int' | 'numeric' | 'text' | 'uuid' | 'other';

/** A table's columns and the kind of each, from the catalog. */
export type Columns = ReadonlyMap<string, ColumnKind>;
export type ColumnsOf = (table: string) => Columns | undefined;

const wholeTag = (table: string): string => `${tableTag(table)}|*`;
const columnTag = (table: string, column: string): string => `${tableTag(table)}|${column}!`;
const valueTag = (table: string, column: string, value: string): string => `${tableTag(table)}|${column}=${hashText(value).slice(0, 16)}`;

/** True for the tags of single values (`@pg:T|c=…`): they are per row, so not worth remembering per function. */
export const isValueTag = (tag: string): boolean => tag.includes('|') && tag.includes('=');

/** The kind of a PostgreSQL type name (`pg_type.typname`). */
export function columnKind(typname: string): ColumnKind {
  switch (typname) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
      return 'int';
    case 'numeric':
      return 'numeric';
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'citext':
    case 'name':
      return 'text';
    case 'uuid':
      return 'uuid';
    default:
      return 'other';
  }
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * The normalised text of a value compared with a column of this kind, or undefined when it cannot stand
 * for one: normalisation may merge distinct values, never split equal ones.
 */
export function normalizeValue(value: unknown, kind: ColumnKind): string | undefined {
  if (kind === 'other') return undefined;
  if (value === null || value === undefined) return 'null';
  let text: string;
  if (typeof value === 'string') text = value.trim().toLowerCase();
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === 'bigint') text = value.toString();
  else return undefined; // Dates, Buffers, arrays, objects: pg's own serialisation decides their text
  switch (kind) {
    case 'int':
      return INTEGER.test(text) ? BigInt(text).toString() : undefined;
    case 'numeric': {
      if (!DECIMAL.test(text)) return undefined;
      // Equal decimals give the same double; distinct ones beyond its precision merge (harmless).
      return String(Number(text));
    }
    case 'uuid':
      return text.replace(/[{}-]/g, '');
    case 'text':
      return text;
  }
}

/** Every value a filter value stands for, normalised; undefined when one of them is unknown. */
function resolve(v: FilterValue, values: readonly unknown[] | undefined, kind: ColumnKind): string[] | undefined {
  if ('literal' in v) {
    const text = normalizeValue(v.literal, kind);
    return text === undefined ? undefined : [text];
  }
  const index = 'param' in v ? v.param : v.anyOf;
  if (values === undefined || index < 1 || index > values.length) return undefined;
  const value = values[index - 1];
  const list = 'anyOf' in v ? value : [value];
  if (!Array.isArray(list) || list.length > 1000) return undefined;
  const out: string[] = [];
  for (const item of list) {
    const text = normalizeValue(item, kind);
    if (text === undefined) return undefined;
    out.push(text);
  }
  return out;
}

function resolveAll(list: readonly (FilterValue | undefined)[], values: readonly unknown[] | undefined, kind: ColumnKind): string[] | undefined {
  const out: string[] = [];
  for (const v of list) {
    const texts = v === undefined ? undefined : resolve(v, values, kind);
    if (texts === undefined) return undefined;
    out.push(...texts);
  }
  return out;
}

/** The tags of what a statement read. */
export function readTags(e: TableEffects, values: readonly unknown[] | undefined, columnsOf: ColumnsOf): string[] {
  const tags: string[] = [];
  for (const table of e.reads) {
    tags.push(tableTag(table));
    const filters: readonly Filter[] | undefined = e.filters[table];
    const columns = filters === undefined ? undefined : columnsOf(table);
    const resolved = filters?.map((f) => {
      const kind = columns?.get(f.column);
      return { column: f.column, values: kind === undefined ? undefined : resolveAll(f.values, values, kind) };
    });
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

/** Per pinned column of the write's target, the values of every row it touches; undefined when unknown. */
function pinnedValues(step: Step, columns: Columns, values: readonly unknown[] | undefined): Map<string, string[]> | undefined {
  const pins = new Map<string, string[]>();
  if (step.filter !== undefined) {
    const kind = columns.get(step.filter.column);
    const texts = kind === undefined ? undefined : resolveAll(step.filter.values, values, kind);
    if (texts === undefined) return undefined;
    pins.set(step.filter.column, texts);
    return pins;
  }
  const insert = step.insert;
  if (insert === undefined || insert.columns === undefined) return undefined;
  // Every listed column must be a column of the table, or this is some other table of that name.
  if (insert.columns.some((c) => !columns.has(c))) return undefined;
  for (const column of insert.pinned) {
    const at = insert.columns.indexOf(column);
    const texts = resolveAll(
      insert.rows.map((row) => row[at]),
      values,
      columns.get(column)!,
    );
    if (texts !== undefined) pins.set(column, texts);
  }
  return pins;
}

/**
 * The tags a write step drops: row tags for its target when its rows are pinned and the columns of that
 * table are known, table tags for the rest (cascades, views, partitions: `changed`, from the catalog).
 */
export function writeTags(step: Step, changed: readonly string[], values: readonly unknown[] | undefined, columnsOf: ColumnsOf): string[] {
  const tags: string[] = [];
  const target = (step.filter !== undefined || step.insert !== undefined) && step.tables.length === 1 ? step.tables[0] : undefined;
  for (const table of changed) {
    const columns = table === target ? columnsOf(table) : undefined;
    const pins = columns === undefined ? undefined : pinnedValues(step, columns, values);
    if (columns === undefined || pins === undefined) {
      tags.push(tableTag(table));
      continue;
    }
    tags.push(wholeTag(table));
    for (const column of columns.keys()) {
      const texts = pins.get(column);
      if (texts === undefined) tags.push(columnTag(table, column));
      else for (const v of texts) tags.push(valueTag(table, column, v));
    }
  }
  return tags;
}
