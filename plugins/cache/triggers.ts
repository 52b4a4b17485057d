import { quoteIdent, type PgClientLike } from './pg-listen.js';

/**
 * Writes the process cannot see (another app, psql, a trigger, a function) are bounded by the TTL. For
 * the tables where that is too long, a statement-level trigger sends `NOTIFY <channel>, '<table>'` on
 * every INSERT, UPDATE, DELETE and TRUNCATE; the cache (`cache.listen: true`) LISTENs and drops the
 * entries that read the table. NOTIFY is delivered at commit, so a rolled-back write notifies nobody.
 */
export const DEFAULT_CHANNEL = 'pperf_table_writes';
const FUNCTION = 'pperf_notify_table_write';
const TRIGGER = 'pperf_table_writes';

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const NAME = new RegExp(String.raw`^\s*${IDENT}(?:\.${IDENT})?\s*$`);

/** A table as the user names it (`a`, `app.a`, `"Mixed"`), quoted part by part for SQL; anything else throws. */
export function qualifiedName(name: string): string {
  const match = NAME.exec(name);
  if (!match) throw new Error(`not a table name: ${JSON.stringify(name)}`);
  return [match[1], match[2]]
    .filter((part): part is string => part !== undefined)
    .map((part) => (part.startsWith('"') ? part : quoteIdent(part.toLowerCase())))
    .join('.');
}

export function installSql(tables: readonly string[], channel = DEFAULT_CHANNEL): string[] {
  const fn = `CREATE OR REPLACE FUNCTION ${FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $pperf$
BEGIN
  PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME);
  RETURN NULL;
END
$pperf$`;
  const statements = [fn];
  for (const table of tables) {
    const name = qualifiedName(table);
    statements.push(`DROP TRIGGER IF EXISTS ${TRIGGER} ON ${name}`);
    statements.push(`CREATE TRIGGER ${TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${name} FOR EACH STATEMENT EXECUTE FUNCTION ${FUNCTION}(${quoteLiteral(channel)})`);
  }
  return statements;
}

export function uninstallSql(tables: readonly string[]): string[] {
  return tables.map((table) => `DROP TRIGGER IF EXISTS ${TRIGGER} ON ${qualifiedName(table)}`);
}

const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Runs the statements in one transaction: all triggers are in place, or none. */
export async function runInTransaction(client: PgClientLike, statements: readonly string[]): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The tables that have our trigger, for `--list`. */
export async function installedTables(client: PgClientLike): Promise<string[]> {
  const { rows } = await client.query(`SELECT DISTINCT c.relname AS table FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = $1 ORDER BY 1`, [TRIGGER]);
  return (rows as { table: string }[]).map((r) => r.table);
}
