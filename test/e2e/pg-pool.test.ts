import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { appRoutes, esmApp, freePort, get, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

const databaseUrl = inject('databaseUrl');
const poolApp = path.join(root, 'test/fixtures/pool-server.mjs');
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function start(script: string, env: Record<string, string> = {}) {
  const metricsPort = await freePort();
  app = await startApp({ script, env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  return { app, metricsPort };
}

/** Users by number of live plans, to pick ones above and below the N+1 threshold. */
async function usersWithPlans(): Promise<{ many: number; few: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ user_id: string; n: number }>(
      'SELECT user_id, count(*)::int AS n FROM plans WHERE archived_at IS NULL AND deleted_at IS NULL GROUP BY user_id ORDER BY user_id',
    );
    return { many: Number(rows.find((r) => r.n >= 6)!.user_id), few: Number(rows.find((r) => r.n <= 3)!.user_id) };
  } finally {
    await client.end();
  }
}

describe('pg-pool: the tuned pool', () => {
  it('an explicit profile fills unset options, logged once with their origin and without the password; per-pool metrics', async () => {
    const { app, metricsPort } = await start(poolApp, { PLANDEX_PERF_PROFILE: 'container-512m' });
    expect(await get(`${app.url}/backends`)).toMatchObject({ status: 200 });
    const body = JSON.parse((await get(`${app.url}/backends`)).body);
    expect(body.max).toBe(3);
    const log = app.stderr();
    expect(log.match(/pg pool "/g)).toHaveLength(1);
    expect(log).toMatch(/pg pool ".*": max=3 \(profile container-512m\), min=0 \(profile container-512m\), .*connectionTimeoutMillis=5000 \(profile container-512m\)/);
    expect(log).toContain('query_timeout=31000 (profile container-512m, statement_timeout + 1 s)');
    expect(log).not.toMatch(/password/i);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'db_client_connection_idle_max')).toBe(3);
    expect(sumSamples(lines, 'db_client_connection_wait_time_count')).toBeGreaterThanOrEqual(2);
    expect(sumSamples(lines, 'db_client_connection_use_time_count')).toBeGreaterThanOrEqual(2);
    expect(sumSamples(lines, 'db_client_connection_create_time_count')).toBeGreaterThanOrEqual(1);
  });

  it("keeps the app's explicit value, unless the option is enforced", async () => {
    let { app } = await start(poolApp, { POOL_MAX: '7', PLANDEX_PERF_PROFILE: 'laptop-4g' });
    expect(JSON.parse((await get(`${app.url}/backends`)).body).max).toBe(7);
    await app.stop();
    ({ app } = await start(poolApp, { POOL_MAX: '7', PLANDEX_PERF_PG_POOL_ENFORCE: 'max', PLANDEX_PERF_PG_POOL_MAX: '2' }));
    expect(JSON.parse((await get(`${app.url}/backends`)).body).max).toBe(2);
  });

  it('an idle client killed by the server does not crash the host', async () => {
    const { app, metricsPort } = await start(poolApp, { OTEL_SERVICE_NAME: 'idle-error-test' });
    expect((await get(`${app.url}/query`)).status).toBe(200);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'idle-error-test'");
    await admin.end();
    await waitFor(() => app.stderr().includes('PPERF_WRN_008'));
    expect(app.child.exitCode).toBeNull();
    expect((await get(`${app.url}/query`)).status).toBe(200);
    expect(sumSamples(await scrape(metricsPort), 'plandex_perf_pg_idle_client_errors_total')).toBeGreaterThanOrEqual(1);
  });

  it('an exhausted pool fails acquirers after the timeout with a coded error instead of hanging', async () => {
    const { app, metricsPort } = await start(poolApp, { POOL_MAX: '1', PLANDEX_PERF_PG_POOL_CONNECTION_TIMEOUT_MILLIS: '300' });
    // Open the one connection first: on a loaded machine, opening it can itself take longer than 300 ms.
    await waitFor(async () => ((await get(`${app.url}/query`)).status === 200 ? true : undefined), 10_000);
    expect((await get(`${app.url}/hold?ms=3000`)).status).toBe(200);
    const started = Date.now();
    const response = await get(`${app.url}/query`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body).code).toBe('PPERF_ERR_PG_POOL_TIMEOUT');
    expect(app.stderr()).toContain('PPERF_ERR_PG_POOL_TIMEOUT');
    expect(sumSamples(await scrape(metricsPort), 'db_client_connection_timeouts_total')).toBeGreaterThanOrEqual(1);
  });
});

describe('pg-pool: what it detects', () => {
  it('a client held past the leak threshold: one warning with the checkout stack, and a metric', async () => {
    const { app, metricsPort } = await start(poolApp, { PLANDEX_PERF_PG_POOL_LEAK_DETECTION_MS: '200' });
    await get(`${app.url}/hold?ms=1500`);
    await waitFor(() => app.stderr().includes('PPERF_WRN_009'));
    expect(app.stderr()).toContain('pool-server.mjs');
    await get(`${app.url}/query`); // pool.query checkouts are short and never reported
    expect(app.stderr().match(/PPERF_WRN_009/g)).toHaveLength(1);
    expect(sumSamples(await scrape(metricsPort), 'plandex_perf_pg_leaked_connections_total')).toBe(1);
  });

  it('a pool.query longer than the leak threshold is slow, not a leak: no warning (issue 12)', async () => {
    const { app, metricsPort } = await start(poolApp, { PLANDEX_PERF_PG_POOL_LEAK_DETECTION_MS: '100' });
    const started = Date.now();
    expect((await get(`${app.url}/slow`)).status).toBe(200); // pool.query('SELECT pg_sleep(0.2)'), twice the threshold
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await new Promise((r) => setTimeout(r, 300)); // sweeps run every 50 ms here
    expect(app.stderr()).not.toContain('PPERF_WRN_009');
    expect(sumSamples(await scrape(metricsPort), 'plandex_perf_pg_leaked_connections_total')).toBe(0);
    // The control: a pool.connect() held as long is reported.
    await get(`${app.url}/hold?ms=400`);
    await waitFor(() => app.stderr().includes('PPERF_WRN_009'));
  });

  it('a slow query is logged with its fingerprint and route, never its values', async () => {
    const { app } = await start(poolApp, { PLANDEX_PERF_HTTP_ROUTES: '/slow' });
    await get(`${app.url}/slow`);
    await waitFor(() => app.stderr().includes('PPERF_WRN_010'));
    expect(app.stderr()).toContain('"fingerprint":"SELECT pg_sleep(?)"');
    expect(app.stderr()).toContain('"route":"/slow"');
  });

  it('a new pg.Client per request is reported once, with where it happens', async () => {
    const { app } = await start(poolApp, { PLANDEX_PERF_PG_POOL_UNPOOLED_CONNECTS_PER_MINUTE: '5' });
    for (let i = 0; i < 6; i++) expect((await get(`${app.url}/client`)).status).toBe(200);
    expect(app.stderr().match(/PPERF_WRN_012/g)).toHaveLength(1);
    expect(app.stderr()).toContain('pool-server.mjs');
  });

  it("knex's own pool of pg.Clients: queries measured, its connections not taken for unpooled ones, reported as knex's pool", async () => {
    const { app, metricsPort } = await start(poolApp, { PLANDEX_PERF_PG_POOL_UNPOOLED_CONNECTS_PER_MINUTE: '3' });
    let created = 0;
    for (let i = 0; i < 6; i++) {
      const response = await get(`${app.url}/knex`);
      expect(response.status).toBe(200);
      created = JSON.parse(response.body).created;
      await new Promise((r) => setTimeout(r, 80)); // knex reaps the idle connection: the next request opens one again
    }
    // More connects than the unpooled threshold (3), counted by tarn: as unpooled ones, they would have been reported.
    expect(created).toBeGreaterThan(3);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'db_client_operation_duration_count', { db_operation_name: 'SELECT' })).toBeGreaterThanOrEqual(6);
    expect(sumSamples(lines, 'plandex_perf_pg_unpooled_connects_total')).toBe(0);
    expect(app.stderr()).not.toContain('PPERF_WRN_012');
    expect(app.stderr().match(/pg clients from knex's own pool/g)).toHaveLength(1);
    const name = `knex:${new URL(databaseUrl).pathname.slice(1)}@127.0.0.1:5432`;
    expect(sumSamples(lines, 'db_client_connection_max', { db_client_connection_pool_name: name })).toBe(2);
    const snapshot = JSON.parse((await get(`http://127.0.0.1:${metricsPort}/debug/snapshot`)).body) as { pools: { name: string; owner: string; max: number }[] };
    expect(snapshot.pools.find((p) => p.owner === 'knex')).toMatchObject({ name, max: 2 });
    // The same traffic from hand-made clients is still reported (the control).
    for (let i = 0; i < 3; i++) expect((await get(`${app.url}/client`)).status).toBe(200);
    expect(app.stderr().match(/PPERF_WRN_012/g)).toHaveLength(1);
  });

  it("the reference app's N+1 endpoint triggers the N+1 warning; its other endpoints do not", async () => {
    const { many, few } = await usersWithPlans();
    const { app, metricsPort } = await start(esmApp, { PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(',') });
    for (const id of [many, few]) {
      for (const endpoint of [`/users/${id}`, `/users/${id}/plans`, `/plans/${id}/stats`]) expect((await get(`${app.url}${endpoint}`)).status).toBe(200);
    }
    expect(app.stderr()).not.toContain('PPERF_WRN_011');
    await get(`${app.url}/users/${few}/plans-n1`);
    expect(app.stderr()).not.toContain('PPERF_WRN_011');
    await get(`${app.url}/users/${many}/plans-n1`);
    await get(`${app.url}/users/${many}/plans-n1`);
    expect(app.stderr().match(/PPERF_WRN_011/g)).toHaveLength(1);
    expect(app.stderr()).toContain('"route":"/users/:id/plans-n1"');
    expect(app.stderr()).toContain('FROM contexts WHERE plan_id = $n');
    expect(sumSamples(await scrape(metricsPort), 'plandex_perf_pg_n_plus_one_total', { http_route: '/users/:id/plans-n1' })).toBe(2);
  });

  it('with one connection and concurrent requests, each query counts for the request that issued it (a parked callback keeps its caller’s context)', async () => {
    // pg-pool hands the released connection to the next waiter from inside the release: without the
    // connect wrap's context binding, an N+1 request's queries would be counted for whichever request released.
    const { many } = await usersWithPlans();
    const { app, metricsPort } = await start(esmApp, { PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(','), PLANDEX_PERF_PG_POOL_MAX: '1' });
    const requests: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 6; i++) {
      requests.push(get(`${app.url}/users/${many}/plans-n1`));
      for (let j = 0; j < 4; j++) requests.push(get(`${app.url}/users/${many}`));
    }
    expect((await Promise.all(requests)).map((r) => r.status)).toEqual(requests.map(() => 200));
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'plandex_perf_pg_n_plus_one_total', { http_route: '/users/:id/plans-n1' })).toBe(6);
    expect(sumSamples(lines, 'plandex_perf_pg_n_plus_one_total', { http_route: '/users/:id' })).toBe(0);
  });
});
