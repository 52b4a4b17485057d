/**
 * `plandex-perf cache install-triggers|uninstall-triggers|list-triggers --url URL --tables a,b [--channel C]`:
 * the triggers that tell the cache about writes it cannot see (another app, psql). The logic is in
 * plugins/cache/triggers.ts; this file only reads the arguments (every flag known, none ignored).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CHANNEL, installedTables, installSql, runInTransaction, uninstallSql } from '../../plugins/cache/triggers.js';
import type { PgClientLike } from '../../plugins/cache/pg-listen.js';

const usage = `Usage: plandex-perf cache <install-triggers|uninstall-triggers|list-triggers> [options]

  --url URL          the database (default: DATABASE_URL)
  --tables a,b       tables to notify about (schema-qualified or not; "Quoted" names keep their case)
  --channel NAME     notification channel (default ${DEFAULT_CHANNEL}; cache.listenChannel must match)

Writes this process cannot see (another app, psql, a trigger) are otherwise bounded by the TTL. The
triggers send NOTIFY on every INSERT, UPDATE, DELETE and TRUNCATE; start the app with cache.listen: true.
`;

export async function cacheTriggersCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { url: { type: 'string' }, tables: { type: 'string' }, channel: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    console.error(`PPERF_ERR_CACHE_TRIGGERS: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  const [action] = parsed.positionals;
  if (parsed.values.help || action === undefined) {
    process.stdout.write(usage);
    return action === undefined && !parsed.values.help ? 2 : 0;
  }
  if (!['install-triggers', 'uninstall-triggers', 'list-triggers'].includes(action) || parsed.positionals.length > 1) {
    console.error(`PPERF_ERR_CACHE_TRIGGERS: unknown command "${parsed.positionals.join(' ')}"\n\n${usage}`);
    return 2;
  }
  const url = parsed.values.url ?? process.env.DATABASE_URL;
  if (!url) {
    console.error('PPERF_ERR_CACHE_TRIGGERS: --url (or DATABASE_URL) is required');
    return 2;
  }
  const tables = (parsed.values.tables ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (action !== 'list-triggers' && tables.length === 0) {
    console.error('PPERF_ERR_CACHE_TRIGGERS: --tables is required (e.g. --tables users,plans)');
    return 2;
  }
  let client: PgClientLike | undefined;
  try {
    const pg = (await import('pg')).default;
    client = new pg.Client({ connectionString: url, application_name: 'plandex-perf-cache' }) as unknown as PgClientLike;
    await client.connect();
    if (action === 'list-triggers') {
      console.log((await installedTables(client)).join('\n'));
      return 0;
    }
    const statements = action === 'install-triggers' ? installSql(tables, parsed.values.channel ?? DEFAULT_CHANNEL) : uninstallSql(tables);
    await runInTransaction(client, statements);
    console.log(`${action === 'install-triggers' ? 'installed' : 'removed'} the cache notification trigger on ${tables.join(', ')}`);
    return 0;
  } catch (error) {
    console.error(`PPERF_ERR_CACHE_TRIGGERS: ${(error as Error).message}`);
    return 2;
  } finally {
    await client?.end().catch(() => {});
  }
}
