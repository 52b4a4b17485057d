/**
 * A small schema builder for plugin options: one declaration gives the validator (every problem, with
 * its path, at once), the TypeScript types, the defaults, the environment coercion and the docs table.
 *
 * Why not zod: the preload's own budget is ≤ +150 ms start-up and ≤ +30 MB RSS, and zod 4 alone cost
 * +76 ms and +13 MB here even bundled (measured 2026-11-25, Node 24.21). Options are flat and simple,
 * so this stays small.
 */
export interface Issue {
  path: (string | number)[];
  message: string;
}

export type Kind = 'number' | 'integer' | 'string' | 'boolean' | 'enum' | 'array' | 'record' | 'list';

export interface FieldMeta {
  kind: Kind;
  description: string;
  hasDefault: boolean;
  default?: unknown;
  optional: boolean;
  min?: number;
  max?: number;
  values?: readonly string[];
  item?: Kind;
}

const INVALID = Symbol('invalid');
type Checker<T> = (value: unknown, path: (string | number)[], issues: Issue[]) => T | typeof INVALID;

export class Field<T, I = T> {
  declare readonly _output: T;
  declare readonly _input: I;
  constructor(
    readonly meta: FieldMeta,
    readonly check: Checker<T>,
  ) {}
  describe(description: string): Field<T, I> {
    return new Field<T, I>({ ...this.meta, description }, this.check);
  }
  default(value: T): Field<T, I | undefined> {
    return new Field<T, I | undefined>({ ...this.meta, hasDefault: true, default: value }, this.check);
  }
  optional(): Field<T | undefined, I | undefined> {
    return new Field<T | undefined, I | undefined>({ ...this.meta, optional: true }, this.check as Checker<T | undefined>);
  }
}

type AnyField = Field<unknown, unknown>;
export type Shape = Record<string, AnyField>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends S[K]['_input'] ? K : never }[keyof S];
export type Output<S extends Shape> = { [K in keyof S]: S[K]['_output'] };
export type Input<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: S[K]['_input'] } & { [K in OptionalKeys<S>]?: S[K]['_input'] };

export type SafeParse<T> = { success: true; data: T } | { success: false; issues: Issue[] };

/** A rule between fields of one section, checked once every field is valid: the issue it finds, if any. */
export type Rule<S extends Shape> = (section: Output<S>) => Issue | undefined;
/** Rules are kept behind a method (bivariant), so a plugin's schema still fits the plugin list's `Shape`. */
interface RuleCheck<S extends Shape> {
  check(section: Output<S>): Issue | undefined;
}

export class ObjectSchema<S extends Shape> {
  declare readonly _output: Output<S>;
  declare readonly _input: Input<S>;
  constructor(
    readonly fields: S,
    private readonly rules: readonly RuleCheck<S>[] = [],
  ) {}

  /** The same schema with a rule between fields (`softHeapRatio ≤ hardHeapRatio`): it fails with the path the rule names. */
  rule(rule: Rule<S>): ObjectSchema<S> {
    return new ObjectSchema(this.fields, [...this.rules, { check: rule }]);
  }

  /** Validates a whole section; unknown keys are problems too (typos should not pass silently). */
  safeParse(value: unknown): SafeParse<Output<S>> {
    const issues: Issue[] = [];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { success: false, issues: [{ path: [], message: 'expected an object' }] };
    }
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(this.fields, key)) issues.push({ path: [key], message: `unknown option "${key}" (known: ${Object.keys(this.fields).join(', ')})` });
    }
    for (const [key, field] of Object.entries(this.fields)) {
      const raw = input[key];
      if (raw === undefined) {
        if (field.meta.hasDefault) out[key] = structuredClone(field.meta.default);
        else if (!field.meta.optional) issues.push({ path: [key], message: 'required' });
        continue;
      }
      const checked = field.check(raw, [key], issues);
      if (checked !== INVALID) out[key] = checked;
    }
    if (issues.length === 0) {
      for (const rule of this.rules) {
        const issue = rule.check(out as Output<S>);
        if (issue) issues.push(issue);
      }
    }
    return issues.length > 0 ? { success: false, issues } : { success: true, data: out as Output<S> };
  }

  /** The defaults alone, as the validated section with nothing set. */
  defaults(): Output<S> {
    const result = this.safeParse({});
    if (!result.success) throw new Error(`schema has required fields: ${result.issues.map((i) => i.path.join('.')).join(', ')}`);
    return result.data;
  }
}

const base = (kind: Kind, extra: Partial<FieldMeta> = {}): FieldMeta => ({ kind, description: '', hasDefault: false, optional: false, ...extra });

function fail(issues: Issue[], path: (string | number)[], message: string): typeof INVALID {
  issues.push({ path, message });
  return INVALID;
}

function inRange(value: number, min: number | undefined, max: number | undefined, path: (string | number)[], issues: Issue[]): number | typeof INVALID {
  if (min !== undefined && value < min) return fail(issues, path, `must be ≥ ${min} (got ${value})`);
  if (max !== undefined && value > max) return fail(issues, path, `must be ≤ ${max} (got ${value})`);
  return value;
}

export const s = {
  object<S extends Shape>(fields: S): ObjectSchema<S> {
    return new ObjectSchema(fields);
  },
  number(limits: { min?: number; max?: number } = {}): Field<number> {
    return new Field(base('number', limits), (v, path, issues) =>
      typeof v === 'number' && Number.isFinite(v) ? inRange(v, limits.min, limits.max, path, issues) : fail(issues, path, `expected a number (got ${JSON.stringify(v)})`),
    );
  },
  integer(limits: { min?: number; max?: number } = {}): Field<number> {
    return new Field(base('integer', limits), (v, path, issues) =>
      typeof v === 'number' && Number.isInteger(v) ? inRange(v, limits.min, limits.max, path, issues) : fail(issues, path, `expected an integer (got ${JSON.stringify(v)})`),
    );
  },
  string(rules: { min?: number; startsWith?: string; url?: boolean } = {}): Field<string> {
    return new Field(base('string', rules.min === undefined ? {} : { min: rules.min }), (v, path, issues) => {
      if (typeof v !== 'string') return fail(issues, path, `expected a string (got ${JSON.stringify(v)})`);
      if (rules.min !== undefined && v.length < rules.min) return fail(issues, path, `must have at least ${rules.min} characters`);
      if (rules.startsWith !== undefined && !v.startsWith(rules.startsWith)) return fail(issues, path, `must start with "${rules.startsWith}"`);
      if (rules.url && !URL.canParse(v)) return fail(issues, path, `expected a URL (got "${v}")`);
      return v;
    });
  },
  boolean(): Field<boolean> {
    return new Field(base('boolean'), (v, path, issues) => (typeof v === 'boolean' ? v : fail(issues, path, `expected true or false (got ${JSON.stringify(v)})`)));
  },
  enum<const V extends readonly string[]>(values: V): Field<V[number]> {
    return new Field(base('enum', { values }), (v, path, issues) =>
      typeof v === 'string' && values.includes(v) ? (v as V[number]) : fail(issues, path, `expected one of ${values.map((x) => `"${x}"`).join(', ')} (got ${JSON.stringify(v)})`),
    );
  },
  /** Named entries, each validated by `entry` (e.g. pools declared in the config file). */
  record<S extends Shape>(entry: ObjectSchema<S>, limits: { max?: number } = {}): Field<Record<string, Output<S>>> {
    return new Field(base('record', limits.max === undefined ? {} : { max: limits.max }), (v, path, issues) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(issues, path, `expected an object of named entries (got ${JSON.stringify(v)})`);
      const entries = Object.entries(v as Record<string, unknown>);
      if (limits.max !== undefined && entries.length > limits.max) return fail(issues, path, `must have at most ${limits.max} entries`);
      const out: Record<string, Output<S>> = {};
      let ok = true;
      for (const [name, value] of entries) {
        const result = entry.safeParse(value);
        if (result.success) out[name] = result.data;
        else {
          ok = false;
          for (const issue of result.issues) issues.push({ path: [...path, name, ...issue.path], message: issue.message });
        }
      }
      return ok ? out : INVALID;
    });
  },
  /** A list of entries, each validated by `entry` (e.g. functions to cache declared in the config file). */
  list<S extends Shape>(entry: ObjectSchema<S>, limits: { max?: number } = {}): Field<Output<S>[]> {
    return new Field(base('list', limits.max === undefined ? {} : { max: limits.max }), (v, path, issues) => {
      if (!Array.isArray(v)) return fail(issues, path, `expected a list (got ${JSON.stringify(v)})`);
      if (limits.max !== undefined && v.length > limits.max) return fail(issues, path, `must have at most ${limits.max} items`);
      const out: Output<S>[] = [];
      let ok = true;
      v.forEach((value, i) => {
        const result = entry.safeParse(value);
        if (result.success) out.push(result.data);
        else {
          ok = false;
          for (const issue of result.issues) issues.push({ path: [...path, i, ...issue.path], message: issue.message });
        }
      });
      return ok ? out : INVALID;
    });
  },
  array<T>(item: Field<T>, limits: { max?: number } = {}): Field<T[]> {
    return new Field(base('array', { item: item.meta.kind, ...(limits.max === undefined ? {} : { max: limits.max }) }), (v, path, issues) => {
      if (!Array.isArray(v)) return fail(issues, path, `expected a list (got ${JSON.stringify(v)})`);
      if (limits.max !== undefined && v.length > limits.max) return fail(issues, path, `must have at most ${limits.max} items`);
      const out: T[] = [];
      let ok = true;
      v.forEach((element, i) => {
        const checked = item.check(element, [...path, i], issues);
        if (checked === INVALID) ok = false;
        else out.push(checked);
      });
      return ok ? out : INVALID;
    });
  },
};
