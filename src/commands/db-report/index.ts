import { createRequire } from 'node:module';
import path from 'node:path';
import { collectReport, defaultReportOptions, type Queryable } from './report.js';
import { exitCodeFor, renderJson, renderText } from './format.js';
import { helpOption, parseFlags, reportUsage, UsageError } from '../args.js';

export const dbReportUsage = `Usage: plandex-perf db-report [--json] [--url URL]

Connects to PostgreSQL (--url, else DATABASE_URL) and reports foreign keys without an index (with the
CREATE INDEX statements to add), the slowest statements (pg_stat_statements), unused indexes and tables
read by heavy sequential scans. Read-only. Exit status: 0 clean, 1 problems found, 2 could not run.
`;

type DbReportCode = 'PPERF_ERR_DB_REPORT_USAGE' | 'PPERF_ERR_DB_REPORT_CONNECT' | 'PPERF_ERR_DB_REPORT_PG_MISSING' | 'PPERF_ERR_DB_REPORT_QUERY';

/** The command's failures, each with a code documented in src/errors.ts; all of them exit 2. */
export class DbReportError extends Error {
  readonly code: DbReportCode;
  constructor(code: DbReportCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbReportError';
    this.code = code;
  }
}

/** The part of node-postgres used here, declared locally: `pg` is the user's dependency, not ours. */
interface PgClient extends Queryable {
  connect(): Promise<unknown>;
  end(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgModule {
  Client: new (config: Record<string, unknown>) => PgClient;
}

/**
 * `pg` from the first place that has it: the user's project first (the driver and version their app
 * really uses), then next to this package. Each entry is a file path or URL to resolve from.
 */
export function loadPg(from: readonly string[]): PgModule {
  for (const base of from) {
    try {
      const loaded = createRequire(base)('pg') as PgModule | { default?: PgModule };
      const pg = 'Client' in loaded ? loaded : loaded.default;
      if (pg && typeof pg.Client === 'function') return pg;
    } catch {
      // Not resolvable from here: try the next place.
    }
  }
  throw new DbReportError('PPERF_ERR_DB_REPORT_PG_MISSING', 'the PostgreSQL driver "pg" was not found in this project; install it: npm install pg');
}

const SECRET_PARAMS = ['password', 'sslpassword'];

/** The URL with its password (and password query parameters) replaced by ***, for output and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of SECRET_PARAMS) if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
    return parsed.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    // Not a URL (a key=value connection string): mask the values of password keys.
    return url.replace(/\b(password|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi, '$1=***');
  }
}

/** Removes every spelling of the URL's secrets from a message, in case a driver error echoes one. */
function scrub(message: string, url: string | undefined): string {
  if (!url) return message;
  const secrets = new Set<string>();
  try {
    const parsed = new URL(url);
    for (const value of [parsed.password, ...SECRET_PARAMS.map((k) => parsed.searchParams.get(k) ?? '')]) {
      if (!value) continue;
      secrets.add(value);
      try {
        secrets.add(decodeURIComponent(value));
      } catch {
        // A stray % that is not an escape: the raw spelling is already covered.
      }
    }
  } catch {
    for (const m of url.matchAll(/\b(?:password|sslpassword)\s*=\s*'?([^'\s]+)/gi)) if (m[1]) secrets.add(m[1]);
  }
  let out = message.replaceAll(url, redactUrl(url));
  for (const secret of secrets) out = out.replaceAll(secret, '***');
  return out;
}

const options = { ...helpOption, json: { type: 'boolean' }, url: { type: 'string' } } as const;

function parseDbReportArgs(argv: readonly string[]): { json: boolean; help: boolean; url: string | undefined } {
  const { values } = parseFlags(argv, options, 'PPERF_ERR_DB_REPORT_USAGE');
  return { json: values.json === true, help: values.help === true, url: values.url };
}

const CONNECT_TIMEOUT_MS = 5000;

const reason = (error: unknown): string => {
  const { message, code } = error as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' && message ? message : String(error);
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `${text} (SQLSTATE ${code})` : text;
};

async function report(pg: PgModule, url: string): Promise<Awaited<ReturnType<typeof collectReport>>> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // Client-side backstop for a server that stops answering; the server-side statement_timeout is set per query.
    query_timeout: defaultReportOptions.statementTimeoutMs + CONNECT_TIMEOUT_MS,
    application_name: 'plandex-perf db-report',
  });
  // Without a listener, a connection dropped mid-report is an uncaught 'error' event; the pending query rejects anyway.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new DbReportError('PPERF_ERR_DB_REPORT_CONNECT', `cannot connect to ${redactUrl(url)}: ${reason(error)}`, { cause: error });
  }
  try {
    return await collectReport(client);
  } catch (error) {
    throw new DbReportError('PPERF_ERR_DB_REPORT_QUERY', `a report query failed on ${redactUrl(url)}: ${reason(error)}`, { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface DbReportIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  /** Where the user's project (and its `pg`) is. */
  cwd: string;
}

/** `plandex-perf db-report [--json] [--url URL]`: 0 clean, 1 problems, 2 usage or connection error. */
export async function runDbReport(argv: readonly string[], io: Partial<DbReportIo> = {}): Promise<number> {
  const { stdout = process.stdout, stderr = process.stderr, env = process.env, cwd = process.cwd() } = io;
  let url: string | undefined;
  let args;
  try {
    args = parseDbReportArgs(argv);
  } catch (error) {
    // A stray URL (`db-report postgres://app:pw@db/app`) is echoed back: mask its password as everywhere else.
    if (error instanceof UsageError) error.message = error.message.replace(/(\/\/[^:/@\s]*):[^@\s]*@/g, '$1:***@');
    return reportUsage(error, dbReportUsage, stderr);
  }
  try {
    if (args.help) {
      stdout.write(dbReportUsage);
      return 0;
    }
    url = args.url ?? env.DATABASE_URL;
    if (!url) throw new DbReportError('PPERF_ERR_DB_REPORT_USAGE', 'no database to report on: pass --url URL or set DATABASE_URL');
    const pg = loadPg([path.join(cwd, 'package.json'), import.meta.url]);
    const result = await report(pg, url);
    stdout.write(args.json ? renderJson(result, redactUrl(url)) : renderText(result, redactUrl(url)));
    return exitCodeFor(result);
  } catch (error) {
    const code = error instanceof DbReportError ? error.code : 'PPERF_ERR_DB_REPORT_QUERY';
    stderr.write(`${code}: ${scrub(error instanceof Error ? error.message : String(error), url)}\n`);
    return 2;
  }
}
