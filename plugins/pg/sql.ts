import { LRUCache } from 'lru-cache';

export interface QuerySummary {
  /** `SELECT`, `INSERT`, … the first keyword of the statement, after a `WITH` clause. */
  operation: string;
  /** The first table the statement names, lower-cased and unquoted, when one is found. */
  collection: string | undefined;
}

const operations = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'BEGIN', 'COMMIT', 'ROLLBACK', 'SET', 'SHOW', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'ANALYZE', 'VACUUM', 'EXPLAIN', 'CALL', 'LISTEN', 'NOTIFY', 'SAVEPOINT', 'RELEASE', 'WITH', 'VALUES', 'DECLARE', 'FETCH', 'CLOSE', 'PREPARE', 'EXECUTE', 'DEALLOCATE', 'LOCK', 'GRANT', 'REVOKE', 'REFRESH', 'REINDEX', 'CLUSTER', 'DISCARD', 'RESET', 'START', 'END']);

const comment = /^\s*(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)/;
const identifier = String.raw`("(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*("(?:[^"]|"")+"|[A-Za-z_][\w$]*))?`;
const tableAfter: Record<string, RegExp> = {
  SELECT: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${identifier}`, 'i'),
  DELETE: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${identifier}`, 'i'),
  INSERT: new RegExp(String.raw`\bINTO\s+${identifier}`, 'i'),
  UPDATE: new RegExp(String.raw`^\s*UPDATE\s+(?:ONLY\s+)?${identifier}`, 'i'),
  MERGE: new RegExp(String.raw`\bINTO\s+${identifier}`, 'i'),
  COPY: new RegExp(String.raw`^\s*COPY\s+${identifier}`, 'i'),
  TRUNCATE: new RegExp(String.raw`^\s*TRUNCATE\s+(?:TABLE\s+)?${identifier}`, 'i'),
};

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
}

/** Reads the operation and main table of a statement, cheaply; never the parameter values. */
export function summarize(text: string): QuerySummary {
  let rest = text;
  for (let m = comment.exec(rest); m; m = comment.exec(rest)) rest = rest.slice(m[0].length);
  const word = /^\s*\(?\s*([A-Za-z]+)/.exec(rest)?.[1]?.toUpperCase();
  let operation = word !== undefined && operations.has(word) ? word : 'OTHER';
  if (operation === 'WITH') {
    // The statement's verb follows the last CTE: `WITH x AS (...) SELECT ...`.
    const main = /\)\s*(SELECT|INSERT|UPDATE|DELETE|MERGE)\b/gi;
    let last: RegExpExecArray | null = null;
    for (let m = main.exec(rest); m; m = main.exec(rest)) last = m;
    operation = last?.[1]?.toUpperCase() ?? 'SELECT';
    if (last) rest = rest.slice(last.index + 1);
  }
  const pattern = tableAfter[operation];
  const match = pattern?.exec(rest);
  const collection = match ? unquote(match[2] ?? match[1]!) : undefined;
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
