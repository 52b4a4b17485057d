/**
 * The pg_stat_statements section of `plandex-perf db-report`. The extension is optional, so every way of
 * not having it (not shipped, not created, not preloaded) ends as advice on how to get it, never as a
 * failed report.
 */
import { MARK, STATEMENTS_EXTENSION_SQL, STATEMENTS_SETUP_SQL, slowStatementsSql, type Queryable } from './sql.js';

/**
 * `enabled`: statements listed. `not-installed`: CREATE EXTENSION was not run in this database.
 * `not-loaded`: created, but the library is not in shared_preload_libraries, so the view errors.
 * `unavailable`: the server does not ship the extension (no contrib package).
 */
export type StatementsStatus = 'enabled' | 'not-installed' | 'not-loaded' | 'unavailable';

export interface SlowStatement {
  /** Normalised by PostgreSQL ($1 for values); literals it keeps (utility statements) are masked too. */
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  /** Mean time at or above the `slowMs` option: counted as a problem. */
  slow: boolean;
}

export interface StatementsSection {
  status: StatementsStatus;
  /** Steps to enable the extension; empty when enabled. */
  advice: string[];
  statements: SlowStatement[];
}

const PRELOAD_STEP =
  "Add it to shared_preload_libraries in postgresql.conf, keeping any library already listed (shared_preload_libraries = 'pg_stat_statements'), and restart PostgreSQL. Managed services: set it in the parameter group (RDS, Aurora) or database flags (Cloud SQL, Azure); many enable it by default.";
const createStep = (database: string) => `In database "${database}", run: CREATE EXTENSION IF NOT EXISTS pg_stat_statements;`;
const CONTRIB_STEP = "Install the server's contrib package, which ships the extension (Debian/Ubuntu: postgresql-contrib; RHEL/Fedora: postgresqlNN-contrib).";

/** `preloaded`: whether shared_preload_libraries lists it; `undefined` when the role may not read that setting. */
export function statementsAdvice(status: StatementsStatus, database: string, preloaded?: boolean): string[] {
  switch (status) {
    case 'enabled':
      return [];
    case 'not-loaded':
      return [PRELOAD_STEP];
    case 'not-installed':
      return preloaded ? [createStep(database)] : [PRELOAD_STEP, createStep(database)];
    case 'unavailable':
      return [CONTRIB_STEP, PRELOAD_STEP, createStep(database)];
  }
}

/** Whether a shared_preload_libraries value (`'a', "b" , c`) names pg_stat_statements; `undefined` if unreadable. */
export function preloads(setting: string | null | undefined): boolean | undefined {
  if (setting === null || setting === undefined) return undefined;
  return setting.split(',').some((entry) => entry.trim().replace(/^["']|["']$/g, '') === 'pg_stat_statements');
}

/** One line, string literals masked: a utility statement such as ALTER ROLE … PASSWORD '…' is recorded verbatim. */
export function displayQuery(text: string, maxLength = 2000): string {
  const out = text.replace(/'(?:[^']|'')*'/g, "'?'").replace(/\s+/g, ' ').trim();
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}

type Row = Record<string, unknown>;

/** SQLSTATE 55000: "pg_stat_statements must be loaded via shared_preload_libraries". */
const NOT_LOADED = '55000';

export async function readStatements(db: Queryable, options: { database: string; limit: number; slowMs: number; minCalls: number }): Promise<StatementsSection> {
  const [extension] = (await db.query(STATEMENTS_EXTENSION_SQL)).rows as Row[];
  if (!extension) {
    const [setup] = (await db.query(STATEMENTS_SETUP_SQL)).rows as Row[];
    const status: StatementsStatus = setup?.available === true ? 'not-installed' : 'unavailable';
    const preload = typeof setup?.preload === 'string' ? setup.preload : undefined;
    return { status, advice: statementsAdvice(status, options.database, preloads(preload)), statements: [] };
  }
  const columns = Array.isArray(extension.time_columns) ? extension.time_columns : [];
  const schema = `"${String(extension.schema).replaceAll('"', '""')}"`;
  // A savepoint, because the not-loaded error would otherwise abort the report's whole transaction.
  await db.query(`SAVEPOINT ${MARK} pperf_statements`);
  let rows: Row[];
  try {
    rows = (await db.query(slowStatementsSql(schema, columns.includes('total_exec_time')), [options.limit, options.minCalls, MARK])).rows as Row[];
    await db.query(`RELEASE ${MARK} pperf_statements`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== NOT_LOADED) throw error;
    await db.query(`ROLLBACK ${MARK} TO pperf_statements`);
    return { status: 'not-loaded', advice: statementsAdvice('not-loaded', options.database), statements: [] };
  }
  return {
    status: 'enabled',
    advice: [],
    statements: rows.map((r) => {
      const meanMs = Number(r.mean_ms ?? 0);
      return { query: displayQuery(String(r.query ?? '')), calls: Number(r.calls ?? 0), totalMs: Number(r.total_ms ?? 0), meanMs, rows: Number(r.rows ?? 0), slow: meanMs >= options.slowMs };
    }),
  };
}
