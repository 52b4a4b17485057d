import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

/** Issue 11: every way of querying through pg gets full labels, and every pool of pg.Clients is reported. */
const databaseUrl = inject('databaseUrl');
const database = new URL(databaseUrl).pathname.slice(1);
const host = path.join(root, 'test/fixtures/pg-labels.mjs');
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function start(env: Record<string, string> = {}) {
  const metricsPort = await freePort();
  app = await startApp({ script: host, env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  return { app, metricsPort };
}

const ok = async (url: string) => {
  const response = await get(url);
  expect(response.status, response.body).toBe(200);
  return JSON.parse(response.body) as Record<string, unknown>;
};
const duration = (lines: string[], table: string, extra: Record<string, string> = {}) => ({
  count: sumSamples(lines, 'db_client_operation_duration_count', { db_operation_name: 'SELECT', db_collection_name: table, ...extra }),
  seconds: sumSamples(lines, 'db_client_operation_duration_sum', { db_operation_name: 'SELECT', db_collection_name: table, ...extra }),
});
/** Query series with no operation: what a stream used to be counted as. */
const unlabelled = (lines: string[]) => lines.filter((l) => l.startsWith('db_client_operation_duration_count{') && !l.includes('db_operation_name='));

describe('pg: streams and cursors', () => {
  it('pg-query-stream with and without a callback, and pg-cursor: operation and table, timed until the stream ends', async () => {
    const { app, metricsPort } = await start();
    expect(await ok(`${app.url}/stream-callback`)).toEqual({ rows: 3, called: 1 });
    expect(await ok(`${app.url}/stream`)).toEqual({ rows: 3, called: 0 });
    expect(await ok(`${app.url}/cursor`)).toEqual({ rows: 4 });
    const lines = await scrape(metricsPort);
    // Each stream runs 3 × pg_sleep(0.1): measured to its end, not to its first row.
    for (const table of ['plans', 'contexts']) {
      const { count, seconds } = duration(lines, table);
      expect(count, table).toBe(1);
      expect(seconds, table).toBeGreaterThanOrEqual(0.28);
      expect(seconds, table).toBeLessThan(2);
    }
    expect(duration(lines, 'conversations').count).toBe(1);
    expect(unlabelled(lines)).toEqual([]);
  });

  it('a failing stream is recorded with its error, and its error still reaches the app', async () => {
    const { app, metricsPort } = await start();
    expect(await ok(`${app.url}/stream-error`)).toEqual({ error: '42P01' });
    const lines = await scrape(metricsPort);
    expect(duration(lines, 'no_such_table', { error_type: '42P01', db_response_status_code: '42P01' }).count).toBe(1);
  });

  it('knex .stream() is measured with its table', async () => {
    const { app, metricsPort } = await start();
    expect(await ok(`${app.url}/knex-stream`)).toEqual({ rows: 5 });
    expect(duration(await scrape(metricsPort), 'plan_files').count).toBe(1);
  });
});

describe("pg: other libraries' pools", () => {
  it("knex's pool (tarn) has db.client.connection.* series: idle and used, max, pending", async () => {
    const { app, metricsPort } = await start();
    const name = `knex:${database}@127.0.0.1:5432`;
    await ok(`${app.url}/knex-stream`); // the first connect from knex makes its pool known
    const holding = ok(`${app.url}/knex-hold?ms=1500`);
    const during = await waitFor(async () => {
      const lines = await scrape(metricsPort);
      return sumSamples(lines, 'db_client_connection_count', { db_client_connection_pool_name: name, db_client_connection_state: 'used' }) === 1 ? lines : undefined;
    });
    expect(sumSamples(during, 'db_client_connection_max', { db_client_connection_pool_name: name })).toBe(3);
    expect(sumSamples(during, 'db_client_connection_pending_requests', { db_client_connection_pool_name: name })).toBe(0);
    await holding;
    const after = await scrape(metricsPort);
    expect(sumSamples(after, 'db_client_connection_count', { db_client_connection_pool_name: name, db_client_connection_state: 'used' })).toBe(0);
    expect(sumSamples(after, 'db_client_connection_count', { db_client_connection_pool_name: name, db_client_connection_state: 'idle' })).toBeGreaterThanOrEqual(1);
    const snapshot = JSON.parse((await get(`http://127.0.0.1:${metricsPort}/debug/snapshot`)).body) as { pools: { name: string; owner: string; max: number }[] };
    expect(snapshot.pools.find((p) => p.owner === 'knex')).toMatchObject({ name, max: 3 });
  });

  it('pg-promise (its own copy of pg): full labels, and its pg.Pool reported under its own name', async () => {
    const { app, metricsPort } = await start();
    expect(await ok(`${app.url}/pgp`)).toEqual({ rows: 3 });
    const lines = await scrape(metricsPort);
    expect(duration(lines, 'users').count).toBe(1);
    expect(unlabelled(lines)).toEqual([]);
    // The app's own pg.Pool is the first pool to this database, pg-promise's the second.
    const name = `${database}@127.0.0.1:5432#2`;
    expect(sumSamples(lines, 'db_client_connection_max', { db_client_connection_pool_name: name })).toBe(10);
    expect(sumSamples(lines, 'db_client_connection_count', { db_client_connection_pool_name: name, db_client_connection_state: 'idle' })).toBe(1);
    expect(app.stderr()).toContain(`pg pool "${name}": max=10 (pg default)`);
  });
});
