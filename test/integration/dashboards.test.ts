/**
 * Every dashboard query against a real Prometheus scraping real apps under the preload: the reference
 * app under the shared load scenario (every endpoint, the POST and the N+1 one included), and a small
 * app that causes the rare events (pool timeouts, leaks, idle-client errors, unpooled connects, object
 * pool failures), so the panels for those have data too. Each query must parse and return at least
 * one series; queries over pending metrics (dashboards/pending-metrics.json) must only parse.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appRoutes, esmApp, freePort, get, root, startApp, type App } from '../e2e/helpers.js';
// @ts-expect-error plain ESM shared with the k6 scripts
import { runLoadOptions } from '../../loadtests/scenarios/reference-app.mjs';
// @ts-expect-error plain ESM load generator shared with the benches
import { runLoad } from '../../loadtests/lib/load.mjs';
import { allowedNameRegexes, loadDashboards, otelNamesOf, pendingMetrics, queriesOf, substitute, variableQueriesOf } from './dashboards-lib.js';
import { prometheusMissing, promtoolCheckMetrics, startPrometheus, type Prometheus } from './prometheus.js';

const missing = prometheusMissing();
if (missing) console.warn(`[dashboards] skipping the Prometheus checks: ${missing}`);

/**
 * What `promtool check metrics` reports about our own output, on purpose listed here rather than
 * filtered: the test fails when one appears or goes away.
 *   - `db.client.connection.count` is the OpenTelemetry semantic convention's name for the pool's
 *     connections gauge; in Prometheus form it ends in `_count`, which promtool reserves for
 *     histograms and summaries (and which a histogram named `db_client_connection` would clash with).
 */
const KNOWN_PROMTOOL_FINDINGS = ['db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix'];

/**
 * An app that triggers each rare event once; served on loopback like the reference app. An Express app,
 * so that a request no route matched lands in the unmatched bucket (the reference app has no router).
 */
const TROUBLE_APP = `
import http from 'node:http';
import { createRequire } from 'node:module';
const require = createRequire(process.env.TROUBLE_PACKAGE_JSON);
const pg = require('pg');
const genericPool = require('generic-pool');
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
const failing = genericPool.createPool({ create: async () => { throw new Error('backend down'); }, destroy: async () => {} }, { max: 1 });
const things = genericPool.createPool({ create: async () => ({}), destroy: async () => {} }, { max: 2 });
// Redis commands and an outbound call, for the Redis and outbound HTTP panels. Without a Redis the
// commands fail at once (no offline queue), which still gives every Redis panel its series.
const Redis = require('ioredis');
const redis = new Redis({ host: '127.0.0.1', port: 6379, enableOfflineQueue: false, retryStrategy: () => 200, keyPrefix: 'pperf-dash-redis:' });
redis.on('error', () => {});
let port = 0;
const api = await import(process.env.PPERF_API);
const double = api.cached(async (x) => x * 2, { name: 'dashboard-demo', ttl: '30s', tags: ['demo'] });
const routes = {
  async '/cache'() { await double(1); },
  async '/invalidate'() { await api.invalidateTags(['demo']); },
  async '/hold'(url) { const client = await pool.connect(); setTimeout(() => client.release(), Number(url.searchParams.get('ms'))); },
  async '/query'() { await pool.query('SELECT 1'); },
  async '/client'() { const c = new pg.Client({ connectionString: process.env.DATABASE_URL }); await c.connect(); await c.end(); },
  async '/pool-fail'() { await failing.acquire(); },
  async '/pool-leak'() { await things.acquire(); },
  async '/redis'() { await redis.set('n', 'x').catch(() => {}); await redis.get('n').catch(() => {}); await redis.incr('n').catch(() => {}); },
  async '/outbound'() { await (await fetch('http://127.0.0.1:' + port + '/query-missing')).arrayBuffer(); },
};
const app = require('express')();
app.get('/health', (_req, res) => res.end('ok')); // excluded (PLANDEX_PERF_HTTP_EXCLUDE)
for (const [path, route] of Object.entries(routes)) {
  app.get(path, (req, res) => {
    route(new URL(req.originalUrl, 'http://x')).then(() => res.status(200).end('ok'), (error) => res.status(500).end(String(error.code ?? error.message)));
  });
}
app.use((_req, res) => res.status(404).end());
app.listen(0, '127.0.0.1', function () { port = this.address().port; console.log(JSON.stringify({ event: 'listening', port })); });
`;

const databaseUrl = inject('databaseUrl');
let prometheus: Prometheus | undefined;
const apps: App[] = [];
let tmp = '';
const referenceMetrics = { port: 0, text: '' };
let troubleMetricsPort = 0;
let redisUp = false;

describe.skipIf(missing !== undefined)('dashboards against a real Prometheus', () => {
  beforeAll(async () => {
    redisUp = await new Promise<boolean>((resolve) => {
      const socket = net.connect(6379, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (!redisUp) console.warn('[dashboards] no Redis on 127.0.0.1:6379: the cache dashboard queries are only checked to parse');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-dash-'));
    fs.writeFileSync(path.join(tmp, 'trouble-app.mjs'), TROUBLE_APP);
    referenceMetrics.port = await freePort();
    troubleMetricsPort = await freePort();
    const reference = await startApp({
      script: esmApp,
      env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(referenceMetrics.port), OTEL_SERVICE_NAME: 'reference-app', PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(','), PLANDEX_PERF_LOG_LEVEL: 'warn' },
    });
    apps.push(reference);
    const trouble = await startApp({
      script: path.join(tmp, 'trouble-app.mjs'),
      env: {
        DATABASE_URL: databaseUrl,
        TROUBLE_PACKAGE_JSON: path.join(root, 'package.json'),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(troubleMetricsPort),
        OTEL_SERVICE_NAME: 'trouble-app',
        PLANDEX_PERF_LOG_LEVEL: 'silent',
        // The tenant panels' attribute, and an excluded health check.
        PLANDEX_PERF_HTTP_ATTRIBUTES: 'tenant.id=header:x-tenant-id',
        PLANDEX_PERF_HTTP_EXCLUDE: '/health',
        PLANDEX_PERF_PG_POOL_CONNECTION_TIMEOUT_MILLIS: '300',
        PLANDEX_PERF_PG_POOL_LEAK_DETECTION_MS: '200',
        PLANDEX_PERF_OBJECT_POOL_LEAK_DETECTION_MS: '200',
        // The cache's L2, lease and bus panels need Redis traffic: L1 re-checks L2 after 200 ms.
        PPERF_API: path.join(root, 'dist/src/api.js'),
        ...(redisUp ? { PLANDEX_PERF_CACHE_L2: 'redis://127.0.0.1:6379', PLANDEX_PERF_CACHE_L1_MAX_TTL: '200ms', PLANDEX_PERF_CACHE_KEY_PREFIX: `pperf-dash-${process.pid}` } : {}),
      },
    });
    apps.push(trouble);
    prometheus = await startPrometheus({ 'reference-app': [`127.0.0.1:${referenceMetrics.port}`], 'trouble-app': [`127.0.0.1:${troubleMetricsPort}`] });

    // The rare events, each once.
    expect((await get(`${trouble.url}/hold?ms=1500`)).status).toBe(200);
    expect(await get(`${trouble.url}/query`)).toMatchObject({ status: 500, body: 'PPERF_ERR_PG_POOL_TIMEOUT' });
    for (let i = 0; i < 3; i++) expect((await get(`${trouble.url}/client`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get(`${trouble.url}/cache`)).status).toBe(200); // a miss, then L1 hits
    await new Promise((r) => setTimeout(r, 400));
    expect((await get(`${trouble.url}/cache`)).status).toBe(200); // L1 re-checks L2: an L2 hit
    expect((await get(`${trouble.url}/invalidate`)).status).toBe(200); // a bus message
    expect((await get(`${trouble.url}/pool-fail`, { headers: { 'x-tenant-id': 'acme' } })).status).toBe(500);
    for (const tenant of ['acme', 'globex']) expect((await get(`${trouble.url}/cache`, { headers: { 'x-tenant-id': tenant } })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get(`${trouble.url}/health`)).status).toBe(200);
    expect((await get(`${trouble.url}/pool-leak`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await get(`${trouble.url}/redis`)).status).toBe(200); // SET, GET, an INCR that fails
    for (let i = 0; i < 3; i++) expect((await get(`${trouble.url}/outbound`)).status).toBe(200); // a 404 from itself
    await new Promise((r) => setTimeout(r, 1600)); // the held client is back in the pool, idle
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'trouble-app'");
    await admin.end();

    // The reference app: the shared scenario's mix, plus requests that fail on purpose (a 404 from
    // an unknown user, a foreign-key violation from a POST to a plan that does not exist).
    const load = runLoad(runLoadOptions('smoke', { baseUrl: reference.url, durationSec: 6, connections: 4 }));
    for (let i = 0; i < 5; i++) {
      await get(`${reference.url}/users/99999999`);
      await get(`${reference.url}/plans/99999999/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"x"}' });
    }
    const result = (await load) as { requests: number; errors: number };
    expect(result.requests).toBeGreaterThan(50);
    expect(result.errors).toBe(0);
    referenceMetrics.text = (await get(`http://127.0.0.1:${referenceMetrics.port}/metrics`)).body;
    await prometheus.waitForScrapes(2);
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all(apps.map((app) => app.stop()));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('every query parses and returns data; queries over pending metrics parse', async () => {
    const pending = new Set(pendingMetrics().map((m) => m.name));
    const allowed = allowedNameRegexes(pending);
    const failures: string[] = [];
    let checked = 0;
    let pendingChecked = 0;
    for (const { dashboard } of loadDashboards()) {
      for (const query of queriesOf(dashboard)) {
        const where = `${query.dashboard} / ${query.panel} / ${query.refId}`;
        const isPending = otelNamesOf(query.expr, allowed).some((name) => pending.has(name)) || (!redisUp && query.dashboard === 'pperf-cache');
        const response = await prometheus!.query(substitute(query.expr));
        if (response.status !== 'success') failures.push(`${where}: ${response.errorType}: ${response.error}`);
        else if (isPending) pendingChecked++;
        else if (response.data!.result.length === 0) failures.push(`${where}: no series for ${substitute(query.expr)}`);
        else checked++;
      }
    }
    expect(failures).toEqual([]);
    console.info(`[dashboards] ${checked} queries returned data; ${pendingChecked} over pending metrics parsed`);
    expect(checked).toBeGreaterThan(50);
    if (pending.size > 0 || !redisUp) expect(pendingChecked).toBeGreaterThan(0);
  });

  it('the variables list the apps, and the service variable filters by service name', async () => {
    for (const { dashboard } of loadDashboards()) {
      for (const variable of variableQueriesOf(dashboard)) {
        const response = await prometheus!.query(substitute(variable.promql));
        expect(response.status, `${dashboard.uid} $${variable.name}: ${response.error}`).toBe('success');
        const values = response.data!.result.map((r) => r.metric[variable.label]);
        expect(values.length, `${dashboard.uid} $${variable.name} has no values`).toBeGreaterThan(0);
        if (variable.name === 'job') expect(values.sort()).toEqual(['reference-app', 'trouble-app']);
        if (variable.name === 'service') expect(values.sort()).toEqual(['reference-app', 'trouble-app']);
      }
    }
    const overview = loadDashboards().find((d) => d.dashboard.uid === 'pperf-overview')!.dashboard;
    const requests = queriesOf(overview).find((q) => q.panel === 'Requests / s')!.expr;
    expect((await prometheus!.query(substitute(requests, { service: 'reference-app' }))).data!.result).toHaveLength(1);
    expect((await prometheus!.query(substitute(requests, { service: 'no-such-service' }))).data!.result).toHaveLength(0);
  });

  it('promtool check metrics finds nothing in our output but the known findings', async () => {
    const trouble = (await get(`http://127.0.0.1:${troubleMetricsPort}/metrics`)).body;
    for (const [name, text] of [['reference app', referenceMetrics.text], ['trouble app', trouble]] as const) {
      const findings = promtoolCheckMetrics(text);
      if (findings.length) console.warn(`[dashboards] promtool check metrics (${name}):\n  ${findings.join('\n  ')}`);
      expect(findings, name).toEqual(KNOWN_PROMTOOL_FINDINGS);
    }
  });
});
