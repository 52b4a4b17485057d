import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { freePort, get, root, scrape, startApp, sumSamples, type App } from './helpers.js';

/**
 * Zero-code caching as a user sees it: `node --import` the built preload on an app, with the function to
 * cache named in the config file only. The cache plugin being registered (src/builtin.ts) and the host
 * offering `wrapExports` are part of what is tested: without either, the tests fail.
 */
const script = path.join(root, 'test/fixtures/cache-server.mjs');
const config = path.join(root, 'test/fixtures/cache-config.mjs');

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

let metricsPort = 0;

async function start(kind: 'esm' | 'cjs'): Promise<App> {
  metricsPort = await freePort();
  app = await startApp({ script, env: { PLANDEX_PERF_CONFIG: config, CACHE_FIXTURE: kind, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) } });
  // A build where the cache is not registered, or the host cannot wrap exports, is a regression: red, not skipped.
  const stderr = app.stderr();
  expect(stderr, 'the cache plugin must be registered (src/builtin.ts)').toMatch(/plugin "cache" started/);
  expect(stderr, 'the host must offer wrapExports (PPERF_WRN_023)').not.toMatch(/PPERF_WRN_023/);
  return app;
}

for (const kind of ['esm', 'cjs'] as const) {
  describe(`zero-code cache (${kind})`, () => {
    it('serves the second call from L1: the function runs once, the result is frozen, metrics count the hit', async () => {
      const started = await start(kind);
      const first = JSON.parse((await get(`${started.url}/plans/7`)).body) as { originCalls: number; frozen: boolean };
      const second = JSON.parse((await get(`${started.url}/plans/7`)).body) as { originCalls: number; frozen: boolean };
      expect(first.originCalls).toBe(1);
      expect(second.originCalls).toBe(1);
      expect(second.frozen).toBe(true);
      const lines = await scrape(metricsPort);
      expect(sumSamples(lines, 'plandex_perf_cache_requests_total', { plandex_perf_cache_level: 'l1', plandex_perf_cache_result: 'hit' })).toBeGreaterThanOrEqual(1);
      expect(sumSamples(lines, 'plandex_perf_cache_requests_total', { plandex_perf_cache_level: 'origin' })).toBe(1);
    });
  });
}

describe('wrapping never breaks the app', () => {
  it('a real Fastify plugin (fastify-plugin symbols) and a hook factory wrapped by config: the app starts and works', async () => {
    const fastifyApp = await startApp({
      script: path.join(root, 'test/fixtures/cache-fastify/server.mjs'),
      env: { PLANDEX_PERF_CONFIG: path.join(root, 'test/fixtures/cache-fastify/config.mjs'), OTEL_METRICS_EXPORTER: 'none' },
    });
    app = fastifyApp;
    const first = JSON.parse((await get(`${fastifyApp.url}/`)).body) as Record<string, unknown>;
    expect(first).toEqual({ greeting: 'hello', seen: true, label: 'b' });
    expect(JSON.parse((await get(`${fastifyApp.url}/`)).body)).toEqual(first);
    expect(fastifyApp.stderr()).toMatch(/PPERF_WRN_040[^\n]*makeHook[^\n]*untouched/);
  });
});
