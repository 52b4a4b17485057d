import { afterEach, describe, expect, inject, it } from 'vitest';
import { appRoutes, cjsApp, esmApp, expressApp, fastifyApp, freePort, get, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

const databaseUrl = inject('databaseUrl');
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function startWithMetrics(script: string, env: Record<string, string> = {}): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  app = await startApp({ script, env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  return { app, metricsPort };
}

describe('ESM reference app under the preload', () => {
  it('reports HTTP by route, pg queries and pools, and runtime metrics', async () => {
    const { app, metricsPort } = await startWithMetrics(esmApp, { PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(','), PLANDEX_PERF_PG_POOL_MAX: '7' });
    for (const id of [1, 2, 3]) expect((await get(`${app.url}/users/${id}/plans`)).status).toBe(200);
    expect((await get(`${app.url}/hello`)).status).toBe(200);
    expect((await get(`${app.url}/nope/123`)).status).toBe(404);

    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, 'http_server_request_duration_count') >= 5 ? l : undefined;
    });
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '/users/:id/plans', http_response_status_code: '200' })).toBe(3);
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '/hello' })).toBe(1);
    // The path no template matches is counted in the unmatched bucket, never as a raw path.
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_response_status_code: '404', http_route: '_UNMATCHED' })).toBe(1);
    expect(lines.some((l) => l.includes('/nope/123'))).toBe(false);
    // The scrapes themselves are not measured.
    expect(lines.some((l) => l.includes('/metrics'))).toBe(false);

    expect(sumSamples(lines, 'db_client_operation_duration_count', { db_system_name: 'postgresql', db_operation_name: 'SELECT', db_collection_name: 'plans' })).toBeGreaterThanOrEqual(3);
    expect(sumSamples(lines, 'db_client_connection_max')).toBe(7);
    expect(lines.some((l) => l.startsWith('db_client_connection_count{') && l.includes('db_client_connection_state="idle"'))).toBe(true);

    for (const name of ['nodejs_eventloop_utilization', 'nodejs_eventloop_delay_p99', 'v8js_memory_heap_used', 'process_memory_usage']) {
      expect(lines.some((l) => l.startsWith(name)), name).toBe(true);
    }
    expect(sumSamples(lines, 'process_memory_usage')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('keeps the label set bounded under a flood of distinct paths', async () => {
    const { app, metricsPort } = await startWithMetrics(esmApp, { PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(','), PLANDEX_PERF_HTTP_MAX_ROUTES: '3' });
    for (let i = 0; i < 300; i++) await get(`${app.url}/random/${i}`);
    for (const id of [1, 2]) await get(`${app.url}/users/${id}`);
    await get(`${app.url}/hello`);
    await get(`${app.url}/health`);
    await get(`${app.url}/plans/1/stats`);
    const lines = await scrape(metricsPort);
    const series = lines.filter((l) => l.startsWith('http_server_request_duration_count'));
    // 404s (no route) + at most 3 routes + _OTHER, not 300 paths.
    expect(series.length).toBeLessThanOrEqual(6);
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '_OTHER' })).toBeGreaterThanOrEqual(1);
    expect(app.stderr()).toContain('PPERF_WRN_002');
  });

  it('instruments pg through the legacy Module._load hook too', async () => {
    const { app, metricsPort } = await startWithMetrics(esmApp, { PLANDEX_PERF_HOOKS: 'legacy' });
    await get(`${app.url}/users/7`);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'db_client_operation_duration_count', { db_collection_name: 'users' })).toBe(1);
    expect(app.stderr()).toContain('module hooks installed (legacy)');
  });
});

describe('CommonJS fixture under the preload', () => {
  it('reports HTTP and pg metrics', async () => {
    const { app, metricsPort } = await startWithMetrics(cjsApp, { PLANDEX_PERF_HTTP_ROUTES: '/users/:id,/hello' });
    for (const id of [1, 2]) expect((await get(`${app.url}/users/${id}`)).status).toBe(200);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '/users/:id' })).toBe(2);
    expect(sumSamples(lines, 'db_client_operation_duration_count', { db_collection_name: 'users', db_operation_name: 'SELECT' })).toBe(2);
  });
});

describe('Express app under the preload', () => {
  it("takes http.route from Express's matched route, with no configuration", async () => {
    const { app, metricsPort } = await startWithMetrics(expressApp);
    for (const id of ['a1', 'b2', 'c3']) expect((await get(`${app.url}/items/${id}`)).status).toBe(200);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '/items/:itemId' })).toBe(3);
    expect(lines.some((l) => l.includes('/items/a1'))).toBe(false);
  });
});

describe('Fastify app (CommonJS) under the preload', () => {
  it("takes http.route from Fastify's handler channel", async () => {
    const { app, metricsPort } = await startWithMetrics(fastifyApp);
    for (const id of [1, 2]) expect((await get(`${app.url}/orders/${id}/lines/9`)).status).toBe(200);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'http_server_request_duration_count', { http_route: '/orders/:orderId/lines/:line' })).toBe(2);
  });
});
