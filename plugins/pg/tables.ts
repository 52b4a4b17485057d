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

export interface Step {
  kind: StepKind;
  /** Tables a `write` step writes (before foreign-key cascades). */
  tables: readonly string[];
  /** The step's effects are unknown (CALL, DO, EXECUTE, DDL, COMMIT PREPARED): every table. */
  all: boolean;
  /** TRUNCATE (… CASCADE): every table referencing these by foreign key is emptied too. */
  truncate: boolean;
}

export interface TableEffects {
  /** Tables read (written tables included: `UPDATE … RETURNING` reads its table). */
  reads: readonly string[];
  /** Writes and transaction verbs in statement order; empty for a plain read. */
  steps: readonly Step[];
  /** A statement that may change the schema (DDL): foreign keys and views should be read again. */
  schemaChange: boolean;
}

const enum T {
  Word,
  Quoted,
  Punct,
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
      while (i < n) {
        if (escapes && text[i] === '\\') i += 2;
        else if (text[i] === "'" && text[i + 1] === "'") i += 2;
        else if (text[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? n : end + tag[0].length;
      } else {
        i++;
        while (i < n && /\d/.test(text[i]!)) i++;
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
      i++;
      while (i < n && /[\d.eE]/.test(text[i]!)) i++;
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

class Statement {
  readonly reads = new Set<string>();
  readonly cteNames = new Set<string>();
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
    if (t === undefined || t.type === T.Punct) return undefined;
    let name = t.type === T.Quoted ? t.text : t.raw.toLowerCase();
    let next = i + 1;
    while (this.isPunct(next, '.')) {
      t = this.tokens[next + 1];
      if (t === undefined || t.type === T.Punct) break;
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

  /** A FROM list: items separated by commas at the clause's own depth, until the clause ends. */
  private fromClause(i: number, depth: number): void {
    let expectItem = true;
    for (let j = i; j < this.tokens.length; j++) {
      const t = this.tokens[j]!;
      if (t.depth < depth) return;
      if (t.depth > depth) continue;
      if (t.type === T.Punct && t.text === ';') return;
      if (t.type === T.Word && CLAUSE_END.has(t.text)) return;
      if (t.type === T.Punct && t.text === ',') {
        expectItem = true;
        continue;
      }
      if (expectItem) {
        this.fromItem(j);
        expectItem = false;
      }
    }
  }

  private fromItem(i: number): void {
    while (this.word(i) === 'ONLY' || this.word(i) === 'LATERAL') i++;
    const t = this.tokens[i];
    if (t === undefined || t.type === T.Punct) return; // a subquery or a parenthesised join: scanned on its own
    if (t.type === T.Word && NOT_ALIAS.has(t.text)) return;
    const found = this.name(i);
    if (found === undefined || this.isPunct(found.next, '(')) return; // a function in FROM
    if (!this.cteNames.has(found.name)) this.reads.add(found.name);
  }
}

/** The statement's first word, and its index. */
function verbOf(s: Statement): { verb: string | undefined; at: number } {
  let at = 0;
  while (s.isPunct(at, '(')) at++;
  return { verb: s.word(at), at };
}

const NOTHING = new Set(['SET', 'SHOW', 'RESET', 'DISCARD', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'FETCH', 'MOVE', 'CLOSE', 'DEALLOCATE', 'PREPARE', 'SAVEPOINT', 'RELEASE', 'VACUUM', 'ANALYZE', 'REINDEX', 'CLUSTER', 'LOCK', 'GRANT', 'REVOKE', 'COMMENT', 'SECURITY', 'CHECKPOINT', 'LOAD']);
const UNKNOWN_EFFECTS = new Set(['CALL', 'DO', 'EXECUTE', 'IMPORT', 'REASSIGN']);

function analyzeStatement(tokens: Token[], effects: { reads: Set<string>; steps: Step[]; schemaChange: boolean }): void {
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
      for (const t of tables) effects.reads.add(t);
      return step('write', tables, tables.length === 0, true);
    }
    case 'COPY': {
      if (s.isPunct(at + 1, '(')) {
        // COPY (query) TO: a read.
        s.collectCtes();
        s.collectReads();
        for (const t of s.reads) effects.reads.add(t);
        return;
      }
      const found = s.name(at + 1);
      if (!found) return;
      effects.reads.add(found.name);
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
  for (let i = 0; i < tokens.length; i++) {
    const w = s.word(i);
    let target: string | undefined;
    if (w === 'INSERT' && s.word(i + 1) === 'INTO') target = s.target(i + 2);
    else if (w === 'MERGE' && s.word(i + 1) === 'INTO') target = s.target(i + 2);
    else if (w === 'DELETE' && s.word(i + 1) === 'FROM') target = s.target(i + 2);
    else if (w === 'UPDATE') {
      // Not a write: SELECT … FOR [NO KEY] UPDATE, ON CONFLICT DO UPDATE, MERGE's THEN UPDATE SET.
      const before = s.word(i - 1);
      if (before !== 'FOR' && before !== 'KEY' && before !== 'DO' && before !== 'THEN') target = s.target(i + 1);
    }
    if (target !== undefined && !s.cteNames.has(target)) writes.add(target);
  }
  for (const t of s.reads) effects.reads.add(t);
  for (const t of writes) effects.reads.add(t);
  if (writes.size > 0) step('write', [...writes]);
}

/** Reads the tables and transaction verbs of a statement text (one or more statements). */
export function analyzeTables(text: string): TableEffects {
  const tokens = tokenize(text);
  const effects = { reads: new Set<string>(), steps: [] as Step[], schemaChange: false };
  let start = 0;
  for (let i = 0; i <= tokens.length; i++) {
    const t = tokens[i];
    if (t === undefined || (t.type === T.Punct && t.text === ';' && t.depth === 0)) {
      if (i > start) analyzeStatement(tokens.slice(start, i), effects);
      start = i + 1;
    }
  }
  return { reads: [...effects.reads], steps: effects.steps, schemaChange: effects.schemaChange };
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
