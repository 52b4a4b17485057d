import { LRUCache } from 'lru-cache';

/**
 * What a statement text does to tables, for the cache's invalidation: the tables it reads (every FROM and
 * JOIN item at any depth: joins, subqueries, CTE bodies), the tables it writes (INSERT, UPDATE, DELETE,
 * MERGE, TRUNCATE, COPY … FROM, writes inside CTEs) and its transaction verbs, in order (a simple-protocol
 * text may hold `BEGIN; UPDATE …; COMMIT`).
 *
 * It errs on one side only: a table it is unsure about is counted (a column after `extract(… FROM x)` is
 * read as a table — a needless invalidation at worst), and a statement whose effects it cannot know
 * (`CALL`, `DO`, `EXECUTE`, DDL) writes "every table". It never reads parameter values.
 *
 * Names are normalised the way PostgreSQL resolves them, minus the schema: bare names fold to lower case,
 * quoted ones keep theirs, `public.users`, `"users"` and `USERS` are all `users`. Dropping the schema means
 * two schemas' tables of one name invalidate each other: more misses, never a wrong answer.
 */
export type StepKind = 'begin' | 'commit' | 'rollback' | 'write';

/**
 * A value in a filter: the 1-based index of a parameter, a constant as written, or a parameter holding an
 * array whose elements are the values (`col = ANY($1)`).
 */
export type FilterValue = { param: number } | { literal: string } | { anyOf: number };

/**
 * The rows an `INSERT … VALUES` adds: its column list (undefined when it names none: the values follow
 * the table's own column order, which is not read here) and, per row, each column's value when it is a
 * parameter or a constant (undefined for an expression or DEFAULT). With `ON CONFLICT (…) DO UPDATE`, an
 * existing row may be updated instead: only the conflict columns are then known, in `pinned`.
 */
export interface InsertRows {
  columns: readonly string[] | undefined;
  rows: readonly (readonly (FilterValue | undefined)[])[];
  /** The columns whose values are known for every touched row (all of `columns` without ON CONFLICT DO UPDATE). */
  pinned: readonly string[];
}

/** The verb of a one-table write, for the foreign keys that act on it (an INSERT cascades nowhere). */
export type WriteOp = 'insert' | 'update' | 'delete';

/**
 * `column = value` (or `column IN (values)`), a conjunct of the WHERE clause at the table's own level with
 * no OR beside it: the statement reads (or writes) only rows with one of these values in that column.
 */
export interface Filter {
  column: string;
  values: readonly FilterValue[];
}

export interface Step {
  kind: StepKind;
  /** Tables a `write` step writes (before foreign-key cascades). */
  tables: readonly string[];
  /** The step's effects are unknown (CALL, DO, EXECUTE, DDL, COMMIT PREPARED): every table. */
  all: boolean;
  /** TRUNCATE (… CASCADE): every table referencing these by foreign key is emptied too. */
  truncate: boolean;
  /** A one-table UPDATE or DELETE that touches only rows matching this (and does not SET its column). */
  filter?: Filter;
  /** A one-table INSERT … VALUES (not inside a CTE): the rows it adds. */
  insert?: InsertRows;
  /** The verb, for a statement with one write at its own level (not MERGE, not inside a CTE). */
  op?: WriteOp;
}

export interface TableEffects {
  /** Tables read (written tables included: `UPDATE … RETURNING` reads its table). */
  reads: readonly string[];
  /** For tables every read of which is filtered: the filters (rows outside them were not read). */
  filters: Readonly<Record<string, readonly Filter[]>>;
  /** Writes and transaction verbs in statement order; empty for a plain read. */
  steps: readonly Step[];
  /** A statement that may change the schema (DDL): foreign keys and views should be read again. */
  schemaChange: boolean;
}

const enum T {
  Word,
  Quoted,
  Punct,
  /** `$3`: text is the 1-based index. */
  Param,
  /** A number or a string constant: text is its value. */
  Literal,
}
interface Token {
  type: T;
  /** Word: upper-cased; quoted: the name; punct: the character. */
  text: string;
  /** Word: as written (for folding). */
  raw: string;
  depth: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[\w$\u0080-\uffff]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      // Comments nest in PostgreSQL.
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (text[i] === '/' && text[i + 1] === '*') (level++, (i += 2));
        else if (text[i] === '*' && text[i + 1] === '/') (level--, (i += 2));
        else i++;
      }
    } else if (c === "'") {
      // E'…' strings take backslash escapes; the E was just read as a word.
      const last = tokens.at(-1);
      const escapes = last !== undefined && last.type === T.Word && last.text === 'E' && last.raw.length === 1;
      if (escapes) tokens.pop();
      i++;
      let value = '';
      while (i < n) {
        if (escapes && text[i] === '\\') (value += text[i + 1] ?? '', (i += 2));
        else if (text[i] === "'" && text[i + 1] === "'") (value += "'", (i += 2));
        else if (text[i] === "'") break;
        else value += text[i++];
      }
      i++;
      tokens.push({ type: T.Literal, text: value, raw: value, depth });
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? n : end + tag[0].length;
      } else {
        let end = i + 1;
        while (end < n && /\d/.test(text[end]!)) end++;
        if (end > i + 1) tokens.push({ type: T.Param, text: text.slice(i + 1, end), raw: text.slice(i, end), depth });
        i = end;
      }
    } else if (c === '"') {
      let end = i + 1;
      let name = '';
      while (end < n) {
        if (text[end] === '"' && text[end + 1] === '"') (name += '"', (end += 2));
        else if (text[end] === '"') break;
        else name += text[end++];
      }
      tokens.push({ type: T.Quoted, text: name, raw: name, depth });
      i = end + 1;
    } else if (WORD_START.test(c)) {
      let end = i + 1;
      while (end < n && WORD_PART.test(text[end]!)) end++;
      const raw = text.slice(i, end);
      tokens.push({ type: T.Word, text: raw.toUpperCase(), raw, depth });
      i = end;
    } else if (/\d/.test(c)) {
      let end = i + 1;
      while (end < n && /[\d.eE]/.test(text[end]!)) end++;
      tokens.push({ type: T.Literal, text: text.slice(i, end), raw: text.slice(i, end), depth });
      i = end;
    } else if (c === ':' && text[i + 1] === ':') {
      tokens.push({ type: T.Punct, text: '::', raw: '::', depth });
      i += 2;
    } else if (/[+\-*/<>=~!@#%^&|`?]/.test(c) && !(c === '*' && !/[+\-/<>=~!@#%^&|`?]/.test(text[i + 1] ?? ''))) {
      // An operator: the whole run, so `>=` is never read as `=`.
      let end = i + 1;
      while (end < n && /[+\-*/<>=~!@#%^&|`?]/.test(text[end]!) && !(text[end] === '-' && text[end + 1] === '-') && !(text[end] === '/' && text[end + 1] === '*')) end++;
      tokens.push({ type: T.Punct, text: text.slice(i, end), raw: text.slice(i, end), depth });
      i = end;
    } else if (c === '(' || c === ')' || c === ',' || c === ';' || c === '.' || c === '*') {
      if (c === ')') depth = Math.max(0, depth - 1);
      tokens.push({ type: T.Punct, text: c, raw: c, depth });
      if (c === '(') depth++;
      i++;
    } else {
      i++;
    }
  }
  return tokens;
}

/** Ends a FROM clause (at its own depth). */
const CLAUSE_END = new Set(['WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT', 'RETURNING', 'WINDOW', 'FOR', 'FETCH', 'SET', 'VALUES', 'SELECT', 'INTO', 'DO', 'WHEN', 'THEN', 'TO', 'QUALIFY']);
/** Not an alias after a table name. */
const NOT_ALIAS = new Set([...CLAUSE_END, 'ON', 'USING', 'JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'OUTER', 'CROSS', 'NATURAL', 'LATERAL', 'TABLESAMPLE', 'WITH', 'AS']);

/** Ends a WHERE clause at its own depth. */
const WHERE_END = new Set(['GROUP', 'HAVING', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT', 'RETURNING', 'WINDOW', 'FOR', 'FETCH']);

interface Item {
  table: string;
  alias: string | undefined;
}

class Statement {
  readonly reads = new Set<string>();
  readonly cteNames = new Set<string>();
  /** Every read of each table, with its filter if it had one. */
  readonly occurrences: { table: string; filter: Filter | undefined }[] = [];
  constructor(readonly tokens: Token[]) {}

  word(i: number): string | undefined {
    const t = this.tokens[i];
    return t !== undefined && t.type === T.Word ? t.text : undefined;
  }

  isPunct(i: number, c: string): boolean {
    const t = this.tokens[i];
    return t !== undefined && t.type === T.Punct && t.text === c;
  }

  /** A (possibly qualified) name at `i`: its last part, normalised, and the index after it. */
  name(i: number): { name: string; next: number } | undefined {
    let t = this.tokens[i];
    if (t === undefined || (t.type !== T.Word && t.type !== T.Quoted)) return undefined;
    let name = t.type === T.Quoted ? t.text : t.raw.toLowerCase();
    let next = i + 1;
    while (this.isPunct(next, '.')) {
      t = this.tokens[next + 1];
      if (t === undefined || (t.type !== T.Word && t.type !== T.Quoted)) break;
      name = t.type === T.Quoted ? t.text : t.raw.toLowerCase();
      next += 2;
    }
    return { name, next };
  }

  /** Index after the parenthesis group opening at `i`. */
  skipGroup(i: number): number {
    const depth = this.tokens[i]!.depth;
    let j = i + 1;
    while (j < this.tokens.length && !(this.isPunct(j, ')') && this.tokens[j]!.depth === depth)) j++;
    return j + 1;
  }

  /** A table name to write at `i` (after INTO, UPDATE, …), skipping ONLY and TABLE. */
  target(i: number): string | undefined {
    while (this.word(i) === 'ONLY' || this.word(i) === 'TABLE' || this.word(i) === 'IF' || this.word(i) === 'EXISTS') i++;
    if (this.word(i) === 'SET') return undefined;
    return this.name(i)?.name;
  }

  /** Collects CTE names (`WITH x AS (`, `, y(a, b) AS MATERIALIZED (`), which are not tables. */
  collectCtes(): void {
    const tokens = this.tokens;
    for (let i = 0; i < tokens.length; i++) {
      if (this.word(i) !== 'AS') continue;
      let j = i + 1;
      if (this.word(j) === 'NOT') j++;
      if (this.word(j) === 'MATERIALIZED') j++;
      if (!this.isPunct(j, '(')) continue;
      let k = i - 1;
      if (this.isPunct(k, ')')) {
        // a column list: walk back to its '('
        const depth = tokens[k]!.depth;
        while (k > 0 && !(this.isPunct(k, '(') && tokens[k]!.depth === depth)) k--;
        k--;
      }
      const before = this.word(k - 1) ?? tokens[k - 1]?.text;
      const t = tokens[k];
      if (t !== undefined && t.type !== T.Punct && (before === 'WITH' || before === 'RECURSIVE' || before === ',')) {
        this.cteNames.add(t.type === T.Quoted ? t.text : t.raw.toLowerCase());
      }
    }
  }

  /** Every FROM/JOIN item at any depth. */
  collectReads(): void {
    const tokens = this.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const w = this.word(i);
      if (w === 'JOIN') this.fromItem(i + 1);
      else if (w === 'FROM' && this.word(i - 1) !== 'DISTINCT') this.fromClause(i + 1, tokens[i]!.depth);
      else if (w === 'TABLE' && (i === 0 || this.isPunct(i - 1, '(') || this.word(i - 1) === 'UNION' || this.word(i - 1) === 'ALL')) this.fromItem(i + 1);
    }
  }

  /** A FROM list: items separated by commas (or joined) at the clause's own depth, until the clause ends; then its WHERE. */
  private fromClause(i: number, depth: number): void {
    let expectItem = true;
    const items: Item[] = [];
    let where: number | undefined;
    for (let j = i; j < this.tokens.length; j++) {
      const t = this.tokens[j]!;
      if (t.depth < depth) break;
      if (t.depth > depth) continue;
      if (t.type === T.Punct && t.text === ';') break;
      if (t.type === T.Word && t.text === 'WHERE') {
        where = j;
        break;
      }
      if (t.type === T.Word && CLAUSE_END.has(t.text)) break;
      if ((t.type === T.Punct && t.text === ',') || (t.type === T.Word && t.text === 'JOIN')) {
        expectItem = true;
        continue;
      }
      if (expectItem) {
        const item = this.fromItem(j);
        if (item) items.push(item);
        expectItem = false;
      }
    }
    const conjuncts = where === undefined ? [] : this.conjuncts(where + 1, depth);
    for (const item of items) this.occurrences.push({ table: item.table, filter: filterFor(item, items.length, conjuncts) });
  }

  private fromItem(i: number): Item | undefined {
    while (this.word(i) === 'ONLY' || this.word(i) === 'LATERAL') i++;
    const t = this.tokens[i];
    if (t === undefined || (t.type !== T.Word && t.type !== T.Quoted)) return undefined; // a subquery or a parenthesised join: scanned on its own
    if (t.type === T.Word && NOT_ALIAS.has(t.text)) return undefined;
    const found = this.name(i);
    if (found === undefined || this.isPunct(found.next, '(')) return undefined; // a function in FROM
    if (this.cteNames.has(found.name)) return undefined;
    this.reads.add(found.name);
    return { table: found.name, alias: this.aliasAt(found.next) };
  }

  /** The alias after a table name at `i` (`AS x`, or a bare name that is not a keyword). */
  aliasAt(i: number): string | undefined {
    if (this.word(i) === 'AS') i++;
    const t = this.tokens[i];
    if (t === undefined) return undefined;
    if (t.type === T.Quoted) return t.text;
    if (t.type === T.Word && !NOT_ALIAS.has(t.text) && t.text !== 'SET' && t.text !== 'USING') return t.raw.toLowerCase();
    return undefined;
  }

  /**
   * The equality conjuncts of the WHERE clause starting at `i` (depth `depth`): none when an OR stands
   * at that level, since then no single conjunct bounds the rows.
   */
  conjuncts(i: number, depth: number): Conjunct[] {
    const parts: Token[][] = [[]];
    for (let j = i; j < this.tokens.length; j++) {
      const t = this.tokens[j]!;
      if (t.depth < depth || (t.type === T.Punct && t.text === ';')) break;
      if (t.depth === depth && t.type === T.Word) {
        if (WHERE_END.has(t.text)) break;
        if (t.text === 'OR') return [];
        if (t.text === 'AND') {
          parts.push([]);
          continue;
        }
      }
      parts.at(-1)!.push(t);
    }
    return parts.map(conjunct).filter((c): c is Conjunct => c !== undefined);
  }
}

interface Conjunct {
  qualifier: string | undefined;
  column: string;
  values: FilterValue[];
}

const isName = (t: Token | undefined): t is Token => t !== undefined && (t.type === T.Quoted || (t.type === T.Word && !['TRUE', 'FALSE', 'NULL', 'NOT', 'CURRENT_USER', 'CURRENT_DATE'].includes(t.text)));
const nameOf = (t: Token): string => (t.type === T.Quoted ? t.text : t.raw.toLowerCase());
const valueOf = (t: Token | undefined): FilterValue | undefined => (t?.type === T.Param ? { param: Number(t.text) } : t?.type === T.Literal ? { literal: t.text } : undefined);

/** `[q.]col = v`, `v = [q.]col` or `[q.]col IN (v, …)`, each v a parameter or a constant, optionally cast (`$1::int`). */
function conjunct(tokens: Token[]): Conjunct | undefined {
  let list = tokens;
  // Drop casts after values: `$1::bigint`.
  const out: Token[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if (t.type === T.Punct && t.text === '::' && isName(list[i + 1])) {
      i++;
      continue;
    }
    out.push(t);
  }
  list = out;
  const column = (from: number): { qualifier: string | undefined; column: string; next: number } | undefined => {
    const a = list[from];
    if (!isName(a)) return undefined;
    if (list[from + 1]?.type === T.Punct && list[from + 1]!.text === '.' && isName(list[from + 2])) return { qualifier: nameOf(a), column: nameOf(list[from + 2]!), next: from + 3 };
    return { qualifier: undefined, column: nameOf(a), next: from + 1 };
  };
  const eq = (t: Token | undefined) => t !== undefined && t.type === T.Punct && t.text === '=';
  const left = column(0);
  if (left !== undefined) {
    if (eq(list[left.next]) && list[left.next + 1]?.type === T.Word && list[left.next + 1]!.text === 'ANY' && list[left.next + 2]?.text === '(' && list[left.next + 3]?.type === T.Param && list[left.next + 4]?.text === ')' && list.length === left.next + 5) {
      return { qualifier: left.qualifier, column: left.column, values: [{ anyOf: Number(list[left.next + 3]!.text) }] };
    }
    if (eq(list[left.next]) && list.length === left.next + 2) {
      const value = valueOf(list[left.next + 1]);
      return value === undefined ? undefined : { qualifier: left.qualifier, column: left.column, values: [value] };
    }
    if (list[left.next]?.type === T.Word && list[left.next]!.text === 'IN' && list[left.next + 1]?.text === '(' && list.at(-1)?.text === ')') {
      const inner = list.slice(left.next + 2, -1);
      const values: FilterValue[] = [];
      for (let i = 0; i < inner.length; i += 2) {
        const value = valueOf(inner[i]);
        if (value === undefined || (i + 1 < inner.length && inner[i + 1]!.text !== ',')) return undefined;
        values.push(value);
      }
      return values.length > 0 ? { qualifier: left.qualifier, column: left.column, values } : undefined;
    }
    return undefined;
  }
  const value = valueOf(list[0]);
  if (value !== undefined && eq(list[1])) {
    const right = column(2);
    if (right !== undefined && right.next === list.length) return { qualifier: right.qualifier, column: right.column, values: [value] };
  }
  return undefined;
}

/** The first conjunct that names this item's columns (by alias or table name, or bare when it is the only item). */
function filterFor(item: Item, items: number, conjuncts: readonly Conjunct[]): Filter | undefined {
  for (const c of conjuncts) {
    const mine = c.qualifier === undefined ? items === 1 : c.qualifier === (item.alias ?? item.table) || (item.alias === undefined && c.qualifier === item.table);
    if (mine) return { column: c.column, values: c.values };
  }
  return undefined;
}

/** The statement's first word, and its index. */
function verbOf(s: Statement): { verb: string | undefined; at: number } {
  let at = 0;
  while (s.isPunct(at, '(')) at++;
  return { verb: s.word(at), at };
}

const NOTHING = new Set(['SET', 'SHOW', 'RESET', 'DISCARD', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'FETCH', 'MOVE', 'CLOSE', 'DEALLOCATE', 'PREPARE', 'SAVEPOINT', 'RELEASE', 'VACUUM', 'ANALYZE', 'REINDEX', 'CLUSTER', 'LOCK', 'GRANT', 'REVOKE', 'COMMENT', 'SECURITY', 'CHECKPOINT', 'LOAD']);
const UNKNOWN_EFFECTS = new Set(['CALL', 'DO', 'EXECUTE', 'IMPORT', 'REASSIGN']);

interface Effects {
  reads: Set<string>;
  /** Per table: its filters, or null once one read of it was unfiltered. */
  filters: Map<string, Filter[] | null>;
  steps: Step[];
  schemaChange: boolean;
}

function readWhole(effects: Effects, table: string): void {
  effects.reads.add(table);
  effects.filters.set(table, null);
}

/** The rows a one-table UPDATE (not setting the filter's column) or DELETE touches, from its WHERE. */
function writeFilter(s: Statement, at: number, verb: 'UPDATE' | 'DELETE'): Filter | undefined {
  const depth = s.tokens[at]!.depth;
  let i = verb === 'UPDATE' ? at + 1 : at + 2;
  while (s.word(i) === 'ONLY') i++;
  const found = s.name(i);
  if (found === undefined) return undefined;
  const item = { table: found.name, alias: s.aliasAt(found.next) };
  const set = new Set<string>();
  let others = false;
  let where: number | undefined;
  let expectColumn = false;
  for (let j = found.next; j < s.tokens.length; j++) {
    const t = s.tokens[j]!;
    if (t.depth < depth || (t.type === T.Punct && t.text === ';')) break;
    if (t.depth > depth) continue;
    if (t.type === T.Word && t.text === 'SET') {
      expectColumn = true;
      continue;
    }
    if (t.type === T.Word && (t.text === 'FROM' || t.text === 'USING')) others = true;
    if (t.type === T.Word && t.text === 'WHERE') {
      where = j;
      break;
    }
    if (t.type === T.Word && t.text === 'RETURNING') break;
    if (expectColumn) {
      // `SET (a, b) = …` names its columns in a group: give up on a filter.
      if (t.type === T.Punct && t.text === '(') return undefined;
      if (t.type === T.Word || t.type === T.Quoted) set.add(nameOf(t));
      expectColumn = false;
    } else if (t.type === T.Punct && t.text === ',' && set.size > 0 && !others) expectColumn = true;
  }
  if (where === undefined) return undefined;
  const filter = filterFor(item, others ? 2 : 1, s.conjuncts(where + 1, depth));
  return filter !== undefined && !set.has(filter.column) ? filter : undefined;
}

/** A single parameter or constant (optionally cast), or undefined for anything else. */
function singleValue(tokens: readonly Token[]): FilterValue | undefined {
  const t = tokens[0];
  const cast = tokens.length === 3 && tokens[1]!.type === T.Punct && tokens[1]!.text === '::' && isName(tokens[2]);
  if (tokens.length !== 1 && !cast) return undefined;
  return valueOf(t);
}

/**
 * The column list of a group opening at `i` (names only, no subscripts or fields), and the index after it.
 * Undefined when the group holds anything but names and commas.
 */
function nameList(s: Statement, i: number): { names: string[]; next: number } | undefined {
  if (!s.isPunct(i, '(')) return undefined;
  const depth = s.tokens[i]!.depth + 1;
  const names: string[] = [];
  let j = i + 1;
  for (; j < s.tokens.length; j++) {
    const t = s.tokens[j]!;
    if (t.type === T.Punct && t.text === ')' && t.depth === depth - 1) break;
    if (t.depth !== depth) return undefined;
    if ((names.length === 0 || s.isPunct(j - 1, ',')) && (t.type === T.Word || t.type === T.Quoted)) names.push(nameOf(t));
    else if (!(t.type === T.Punct && t.text === ',' && !s.isPunct(j - 1, ','))) return undefined;
  }
  return names.length > 0 ? { names, next: j + 1 } : undefined;
}

/** The rows of `INSERT INTO t [AS a] [(cols)] [OVERRIDING …] VALUES (…), … | DEFAULT VALUES [ON CONFLICT …]`, from its verb at `at`. */
function insertRows(s: Statement, at: number): InsertRows | undefined {
  let i = at + 2;
  const found = s.name(i);
  if (found === undefined) return undefined;
  i = found.next;
  if (s.word(i) === 'AS') i += 2;
  let columns: string[] | undefined;
  if (s.isPunct(i, '(')) {
    const list = nameList(s, i);
    if (list === undefined) return undefined;
    columns = list.names;
    i = list.next;
  }
  if (s.word(i) === 'OVERRIDING') i += 3;
  const rows: (FilterValue | undefined)[][] = [];
  if (s.word(i) === 'DEFAULT' && s.word(i + 1) === 'VALUES') {
    rows.push([]);
    i += 2;
  } else {
    // INSERT … SELECT (or TABLE, or a parenthesised query): its rows are not known here.
    if (s.word(i) !== 'VALUES') return undefined;
    i++;
    for (;;) {
      if (!s.isPunct(i, '(')) return undefined;
      const depth = s.tokens[i]!.depth + 1;
      const end = s.skipGroup(i);
      const row: (FilterValue | undefined)[] = [];
      let item: Token[] = [];
      for (let j = i + 1; j < end - 1; j++) {
        const t = s.tokens[j]!;
        if (t.depth === depth && t.type === T.Punct && t.text === ',') {
          row.push(singleValue(item));
          item = [];
        } else item.push(t);
      }
      row.push(singleValue(item));
      if (columns !== undefined && row.length !== columns.length) return undefined;
      rows.push(row);
      i = end;
      if (!s.isPunct(i, ',')) break;
      i++;
    }
  }
  let pinned: readonly string[] = columns ?? [];
  if (s.word(i) === 'ON' && s.word(i + 1) === 'CONFLICT') {
    i += 2;
    const target = nameList(s, i);
    const rest = s.tokens.slice(target?.next ?? i).map((t) => (t.type === T.Word ? t.text : ''));
    const doUpdate = rest.includes('UPDATE');
    if (doUpdate) {
      // An existing row may be updated instead: only the conflict columns are then known, if the
      // update does not set them.
      if (target === undefined) return undefined;
      const set = new Set<string>();
      for (let j = target.next; j < s.tokens.length; j++) {
        const t = s.tokens[j]!;
        if ((t.type === T.Word || t.type === T.Quoted) && (s.word(j - 1) === 'SET' || s.isPunct(j - 1, ',')) && s.isPunct(j + 1, '=')) set.add(nameOf(t));
        if (s.isPunct(j, '(') && s.word(j - 1) === 'SET') return undefined;
      }
      pinned = target.names.filter((c) => columns?.includes(c) === true && !set.has(c));
    }
  }
  return { columns, rows, pinned };
}

function analyzeStatement(tokens: Token[], effects: Effects): void {
  const s = new Statement(tokens);
  const { verb, at } = verbOf(s);
  if (verb === undefined) return;
  const step = (kind: StepKind, tables: string[] = [], all = false, truncate = false): void => void effects.steps.push({ kind, tables, all, truncate });
  const next = s.word(at + 1);
  switch (verb) {
    case 'BEGIN':
    case 'START':
      return step('begin');
    case 'COMMIT':
    case 'END':
      // COMMIT PREPARED ends a transaction this client may never have seen: its writes are unknown.
      return next === 'PREPARED' ? step('write', [], true) : step('commit');
    case 'ROLLBACK':
    case 'ABORT':
      // ROLLBACK TO SAVEPOINT keeps the transaction (and its earlier writes) going.
      if (next === 'TO' || next === 'PREPARED') return;
      return step('rollback');
    case 'PREPARE':
      // PREPARE TRANSACTION: this client's part ends here, the commit comes from anywhere.
      if (next === 'TRANSACTION') return step('commit');
      return;
    case 'TRUNCATE': {
      const tables: string[] = [];
      let i = at + 1;
      while (s.word(i) === 'TABLE' || s.word(i) === 'ONLY') i++;
      for (;;) {
        const found = s.name(i);
        if (!found) break;
        tables.push(found.name);
        i = found.next;
        if (s.isPunct(i, '*')) i++;
        if (!s.isPunct(i, ',')) break;
        i++;
        if (s.word(i) === 'ONLY') i++;
      }
      for (const t of tables) readWhole(effects, t);
      return step('write', tables, tables.length === 0, true);
    }
    case 'COPY': {
      if (s.isPunct(at + 1, '(')) {
        // COPY (query) TO: a read.
        s.collectCtes();
        s.collectReads();
        for (const t of s.reads) readWhole(effects, t);
        return;
      }
      const found = s.name(at + 1);
      if (!found) return;
      readWhole(effects, found.name);
      let i = found.next;
      if (s.isPunct(i, '(')) i = s.skipGroup(i);
      if (s.word(i) === 'FROM') step('write', [found.name]);
      return;
    }
    case 'REFRESH': {
      let i = at + 1;
      while (s.word(i) === 'MATERIALIZED' || s.word(i) === 'VIEW' || s.word(i) === 'CONCURRENTLY') i++;
      const found = s.name(i);
      return step('write', found ? [found.name] : [], found === undefined);
    }
    case 'ALTER':
    case 'DROP':
      effects.schemaChange = true;
      return step('write', [], true);
    case 'CREATE': {
      effects.schemaChange = true;
      // A view, rule or trigger (or anything replaced) changes what reads return; a new table, index or
      // function does not change any cached read.
      const words = new Set(tokens.slice(at + 1, at + 6).map((t) => t.text));
      if (words.has('VIEW') || words.has('RULE') || words.has('TRIGGER') || words.has('REPLACE')) return step('write', [], true);
      return;
    }
    case 'EXPLAIN':
      // EXPLAIN ANALYZE runs the statement: scan it as one (a plain EXPLAIN of a write over-invalidates).
      break;
    default:
      if (NOTHING.has(verb)) return;
      if (UNKNOWN_EFFECTS.has(verb)) return step('write', [], true);
      if (!['SELECT', 'WITH', 'VALUES', 'TABLE', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'DECLARE'].includes(verb)) {
        // A verb this reader does not know: assume the worst.
        return step('write', [], true);
      }
  }
  s.collectCtes();
  s.collectReads();
  const writes = new Set<string>();
  let filter: Filter | undefined;
  let insert: InsertRows | undefined;
  let op: WriteOp | undefined;
  let writeCount = 0;
  const ownDepth = tokens[at]!.depth;
  for (let i = 0; i < tokens.length; i++) {
    const w = s.word(i);
    let target: string | undefined;
    let verb: 'UPDATE' | 'DELETE' | 'INSERT' | undefined;
    if (w === 'INSERT' && s.word(i + 1) === 'INTO') (target = s.target(i + 2)), (verb = 'INSERT');
    else if (w === 'MERGE' && s.word(i + 1) === 'INTO') target = s.target(i + 2);
    else if (w === 'DELETE' && s.word(i + 1) === 'FROM') (target = s.target(i + 2)), (verb = 'DELETE');
    else if (w === 'UPDATE') {
      // Not a write: SELECT … FOR [NO KEY] UPDATE, ON CONFLICT DO UPDATE, MERGE's THEN UPDATE SET.
      const before = s.word(i - 1);
      if (before !== 'FOR' && before !== 'KEY' && before !== 'DO' && before !== 'THEN') (target = s.target(i + 1)), (verb = 'UPDATE');
    }
    if (target === undefined || s.cteNames.has(target)) continue;
    writes.add(target);
    writeCount++;
    // Rows are only read off the statement's own write: one inside a CTE (`WITH x AS (DELETE …)`) counts
    // for its whole table.
    const own = tokens[i]!.depth === ownDepth;
    op = own && verb !== undefined ? (verb.toLowerCase() as WriteOp) : undefined;
    // ON CONFLICT DO UPDATE updates existing rows: their ON UPDATE foreign-key actions may fire.
    if (op === 'insert' && tokens.some((t, j) => j > i && t.type === T.Word && t.text === 'UPDATE' && s.word(j - 1) === 'DO')) op = 'update';
    filter = own && (verb === 'UPDATE' || verb === 'DELETE') ? writeFilter(s, i, verb) : undefined;
    insert = own && verb === 'INSERT' ? insertRows(s, i) : undefined;
  }
  for (const o of s.occurrences) {
    effects.reads.add(o.table);
    const known = effects.filters.get(o.table);
    if (o.filter === undefined || known === null) effects.filters.set(o.table, null);
    else effects.filters.set(o.table, [...(known ?? []), o.filter]);
  }
  for (const t of s.reads) if (!effects.filters.has(t)) readWhole(effects, t);
  for (const t of writes) readWhole(effects, t);
  if (writes.size > 0) {
    // Only a statement with a single write keeps its filter (a CTE that writes elsewhere too does not).
    const one = writeCount === 1;
    effects.steps.push({ kind: 'write', tables: [...writes], all: false, truncate: false, ...(one && filter !== undefined ? { filter } : {}), ...(one && insert !== undefined ? { insert } : {}), ...(one && op !== undefined ? { op } : {}) });
  }
}

/** Reads the tables and transaction verbs of a statement text (one or more statements). */
export function analyzeTables(text: string): TableEffects {
  const tokens = tokenize(text);
  const effects: Effects = { reads: new Set<string>(), filters: new Map(), steps: [], schemaChange: false };
  let start = 0;
  for (let i = 0; i <= tokens.length; i++) {
    const t = tokens[i];
    if (t === undefined || (t.type === T.Punct && t.text === ';' && t.depth === 0)) {
      if (i > start) analyzeStatement(tokens.slice(start, i), effects);
      start = i + 1;
    }
  }
  const filters: Record<string, Filter[]> = {};
  for (const [table, list] of effects.filters) if (list !== null && list.length > 0) filters[table] = list;
  return { reads: [...effects.reads], filters, steps: effects.steps, schemaChange: effects.schemaChange };
}

/** Effects by statement text; bounded, since apps that inline values make every text distinct. */
export class TableEffectsCache {
  private readonly cache = new LRUCache<string, TableEffects>({ max: 2000 });
  get(text: string): TableEffects {
    let effects = this.cache.get(text);
    if (effects === undefined) {
      effects = analyzeTables(text);
      // Very long texts are analysed each time rather than pinned in memory.
      if (text.length <= 8192) this.cache.set(text, effects);
    }
    return effects;
  }
}
