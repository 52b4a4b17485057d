import { LRUCache } from 'lru-cache';

export interface QuerySummary {
  /** `SELECT`, `INSERT`, … the first keyword of the statement, after a `WITH` clause. */
  operation: string;
  /** The first table the statement names, lower-cased and unquoted, when one is found. */
  collection: string | undefined;
}

const operations = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SET', 'SHOW', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'ANALYZE', 'VACUUM', 'EXPLAIN', 'CALL', 'LISTEN', 'NOTIFY', 'SAVEPOINT', 'RELEASE', 'WITH', 'VALUES', 'DECLARE', 'FETCH', 'CLOSE', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'LOCK', 'GRANT', 'REVOKE', 'REFRESH', 'REINDEX', 'CLUSTER', 'DISCARD', 'RESET', 'START', 'END']);

const MAIN_VERBS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);

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
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '(') {
      if (depth === 0) push('(');
      depth++;
      i++;
    } else if (c === ')') {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (depth > 0) {
      i++;
    } else if (c === '"') {
      let end = i + 1;
      while (end < text.length && !(text[end] === '"' && text[end + 1] !== '"')) end += text[end] === '"' ? 2 : 1;
      push(text.slice(i, end + 1));
      i = end + 1;
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
export class SummaryCache {
  private readonly cache = new LRUCache<string, QuerySummary>({ max: 2000 });
  get(text: string): QuerySummary {
    let summary = this.cache.get(text);
    if (summary === undefined) {
      summary = summarize(text);
      // Very long texts are summarized each time rather than pinned in memory.
      if (text.length <= 4096) this.cache.set(text, summary);
    }
    return summary;
  }
}
