import { LRUCache } from 'lru-cache';

export interface QuerySummary {
  /** `SELECT`, `INSERT`, … the first keyword of the statement, after a `WITH` clause. */
  operation: string;
  /** The first table the statement names, lower-cased and unquoted, when one is found. */
  collection: string | undefined;
}

/** A cached summary, with a slot for what its user derives from it (the pg plugin: the query's attributes). */
export interface CachedSummary<M = unknown> extends QuerySummary {
  memo?: M;
}

const operations = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SET', 'SHOW', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'ANALYZE', 'VACUUM', 'EXPLAIN', 'CALL', 'LISTEN', 'NOTIFY', 'SAVEPOINT', 'RELEASE', 'WITH', 'VALUES', 'DECLARE', 'FETCH', 'CLOSE', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'LOCK', 'GRANT', 'REVOKE', 'REFRESH', 'REINDEX', 'CLUSTER', 'DISCARD', 'RESET', 'START', 'END']);

const MAIN_VERBS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);

const isWordChar = (c: string | undefined): boolean => c !== undefined && /[\w$\u0080-\uffff]/.test(c);
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y;

/** The end of a quoted string from `from` (at its opening quote); `backslash`: E'' strings, where `\'` escapes. */
function stringEnd(text: string, from: number, backslash: boolean): number {
  for (let j = from + 1; j < text.length; j++) {
    const c = text[j];
    if (backslash && c === '\\') j++;
    else if (c === "'") {
      if (text[j + 1] !== "'") return j + 1;
      j++;
    }
  }
  return text.length;
}

/**
 * If a literal value starts at `i`, the index just past it; else -1. Literals, as PostgreSQL's lexer reads
 * them: `'…'` (`''` inside), `E'…'` (backslash escapes), `B'…'`, `X'…'`, `N'…'`, `U&'…'`, and
 * dollar-quoted `$$…$$` / `$tag$…$tag$` (anything inside, quotes included, until the same tag). `$1` is a
 * placeholder, not a literal. An unterminated literal runs to the end.
 */
export function literalEnd(text: string, i: number): number {
  const c = text[i];
  if (c === "'") return stringEnd(text, i, false);
  if (c === '$') {
    if (isWordChar(text[i - 1])) return -1; // inside a name such as a$b
    DOLLAR_TAG.lastIndex = i;
    const tag = DOLLAR_TAG.exec(text)?.[0];
    if (tag === undefined) return -1;
    const close = text.indexOf(tag, i + tag.length);
    return close === -1 ? text.length : close + tag.length;
  }
  if (c === undefined || isWordChar(text[i - 1])) return -1;
  if ((c === 'E' || c === 'e') && text[i + 1] === "'") return stringEnd(text, i + 1, true);
  if ('BbXxNn'.includes(c) && text[i + 1] === "'") return stringEnd(text, i + 1, false);
  if ((c === 'U' || c === 'u') && text[i + 1] === '&' && text[i + 2] === "'") return stringEnd(text, i + 2, false);
  return -1;
}

/**
 * The statement's words outside any parentheses, strings and comments, lower-cased, with `(` kept as a
 * marker. Reading only the top level is what makes `extract(year FROM x)`, subqueries and CTE bodies
 * harmless: the verb and the table are always at depth 0.
 */
function topLevelTokens(text: string, limit = 64): string[] {
  const tokens: string[] = [];
  let depth = 0;
  // `schema . table`: a dot at the top level means the next name replaces the previous one.
  let dot = false;
  const push = (token: string): void => {
    if (dot && tokens.length > 0 && tokens.at(-1) !== '(') tokens[tokens.length - 1] = token;
    else tokens.push(token);
    dot = false;
  };
  for (let i = 0; i < text.length && tokens.length < limit; ) {
    const c = text[i]!;
    const literal = c === "'" || c === '$' || text[i + 1] === "'" || text[i + 1] === '&' ? literalEnd(text, i) : -1;
    if (literal !== -1) {
      i = literal;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === '(') {
      if (depth === 0) push('(');
      depth++;
      i++;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (c === '"') {
      // A quoted name, at any depth: a quote inside it ("it's") starts no string.
      let end = i + 1;
      while (end < text.length && !(text[end] === '"' && text[end + 1] !== '"')) end += text[end] === '"' ? 2 : 1;
      if (depth === 0) push(text.slice(i, end + 1));
      i = end + 1;
    } else if (depth > 0) {
      i++;
    } else if (c === '.') {
      dot = true;
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let end = i + 1;
      while (end < text.length && /[\w$]/.test(text[end]!)) end++;
      push(text.slice(i, end));
      i = end;
    } else {
      i++;
    }
  }
  return tokens;
}

function tableName(token: string | undefined): string | undefined {
  if (token === undefined || token === '(') return undefined;
  // Quoted names keep their case; bare ones are folded as PostgreSQL does.
  return token.startsWith('"') ? token.slice(1, -1).replace(/""/g, '"') : token.toLowerCase();
}

/** The word after `keyword` at the top level, skipping `ONLY` and `TABLE`. */
function after(tokens: string[], from: number, keyword: string): string | undefined {
  for (let i = from; i < tokens.length; i++) {
    if (tokens[i]!.toUpperCase() !== keyword) continue;
    let next = i + 1;
    while (next < tokens.length && ['ONLY', 'TABLE'].includes(tokens[next]!.toUpperCase())) next++;
    return tableName(tokens[next]);
  }
  return undefined;
}

/** Reads the operation and main table of a statement, cheaply; never the parameter values. */
export function summarize(text: string): QuerySummary {
  const tokens = topLevelTokens(text);
  let at = tokens.findIndex((t) => t !== '(');
  let word = at === -1 ? undefined : tokens[at]!.toUpperCase();
  if (word === 'WITH') {
    // The statement's own verb is the first main verb at the top level after the CTE list.
    const verb = tokens.findIndex((t, i) => i > at && MAIN_VERBS.has(t.toUpperCase()));
    at = verb;
    word = verb === -1 ? 'SELECT' : tokens[verb]!.toUpperCase();
  }
  const operation = word !== undefined && operations.has(word) ? word : 'OTHER';
  let collection: string | undefined;
  switch (operation) {
    case 'SELECT':
    case 'DELETE':
      collection = after(tokens, Math.max(at, 0), 'FROM');
      break;
    case 'INSERT':
    case 'MERGE':
      collection = after(tokens, Math.max(at, 0), 'INTO');
      break;
    case 'UPDATE':
    case 'COPY':
    case 'TRUNCATE':
      collection = after(tokens, Math.max(at, 0), operation);
      break;
  }
  return { operation, collection };
}

/** Summaries by statement text; bounded, since apps that inline values make every text distinct. */
export class SummaryCache<M = unknown> {
  private readonly cache = new LRUCache<string, CachedSummary<M>>({ max: 2000 });
  // The last statement asked for: a host mostly repeats one (a loop, a hot route), and the LRU's own lookup
  // (recency, TTL and status bookkeeping) costs more than comparing the text. A summary depends on the text only.
  private lastText: string | undefined;
  private lastSummary: CachedSummary<M> | undefined;

  get(text: string): CachedSummary<M> {
    if (text === this.lastText && this.lastSummary !== undefined) return this.lastSummary;
    let summary = this.cache.get(text);
    if (summary === undefined) {
      summary = summarize(text);
      // Very long texts are summarized each time rather than pinned in memory.
      if (text.length <= 4096) this.cache.set(text, summary);
    }
    if (text.length <= 4096) {
      this.lastText = text;
      this.lastSummary = summary;
    }
    return summary;
  }
}
