import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, type App } from './helpers.js';

/**
 * Issue 13, adaptive pool size, against the real PostgreSQL: a pool nobody sized grows past pg's 10 while a
 * burst's callers wait, and serves the burst without an error; an explicit `max` is never exceeded.
 */
const databaseUrl = inject('databaseUrl');
const host = path.join(root, 'test/fixtures/pg-host.mjs');
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

async function start(name: string, env: Record<string, string> = {}): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  const app = await startApp({ script: host, env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), OTEL_SERVICE_NAME: name, ...env } });
  apps.push(app);
  return { app, metricsPort };
}

/** 200 requests at once, each one query of 60–190 ms, while the app's backends are counted every 20 ms. */
async function burst(app: App, name: string): Promise<{ failed: number; ms: number; peakBackends: number }> {
  const watcher = new pg.Client({ connectionString: databaseUrl });
  await watcher.connect();
  let peakBackends = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await watcher.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]);
      peakBackends = Math.max(peakBackends, rows[0].n);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => get(`${app.url}/sleep?ms=${60 + ((i * 37) % 131)}`)));
    return { failed: results.filter((r) => r.status !== 200).length, ms: Date.now() - started, peakBackends };
  } finally {
    sampling = false;
    await sampler;
    await watcher.end();
  }
}

const sizeOf = async (app: App): Promise<number> => JSON.parse((await get(`${app.url}/settings`)).body).options.max;

describe('pg-pool: adaptive pool size', () => {
  it('a burst whose callers wait makes a pool nobody sized grow above pg’s 10, within the server cap, with 0 errors', { timeout: 60_000 }, async () => {
    const { app, metricsPort } = await start('adaptive-burst');
    expect(await sizeOf(app)).toBe(10);
    const result = await burst(app, 'adaptive-burst');
    const grown = await sizeOf(app);
    console.error(`[pg-adaptive] burst of 200: ${result.failed} failed in ${result.ms} ms; size after ${grown}; peak backends ${result.peakBackends}`);
    expect(result.failed).toBe(0);
    expect(grown).toBeGreaterThan(10);
    expect(grown).toBeLessThanOrEqual(50); // adaptiveMax
    expect(result.peakBackends).toBeGreaterThan(11); // the server saw it too (10 + the one-off headroom read at most, else)
    const log = app.stderr();
    expect(log).toMatch(/pg pool ".*": size 10 → \d+ \(callers waited\)/);
    expect(log).toMatch(/server headroom \{"maxConnections":\d+/);
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'db_client_connection_max')).toBe(grown);
    expect(sumSamples(lines, 'plandex_perf_pg_pool_resizes_total', { direction: 'grow' })).toBeGreaterThan(0);
  });

  it('an explicit max is the fixed size: never exceeded, never changed, however long callers wait', { timeout: 60_000 }, async () => {
    const { app } = await start('adaptive-explicit', { POOL_MAX: '7' });
    const result = await burst(app, 'adaptive-explicit');
    console.error(`[pg-adaptive] explicit max 7: ${result.failed} failed in ${result.ms} ms; peak backends ${result.peakBackends}`);
    expect(result.failed).toBe(0);
    expect(result.peakBackends).toBeGreaterThan(0); // the sampler saw the pool at all
    expect(result.peakBackends).toBeLessThanOrEqual(7);
    expect(await sizeOf(app)).toBe(7);
    expect(app.stderr()).not.toMatch(/size \d+ → \d+|adaptive size/);
  });

  it("the config's max (here from the environment) is a fixed size too", { timeout: 60_000 }, async () => {
    const { app } = await start('adaptive-config', { PLANDEX_PERF_PG_POOL_MAX: '6' });
    const result = await burst(app, 'adaptive-config');
    expect(result.failed).toBe(0);
    expect(result.peakBackends).toBeGreaterThan(0);
    expect(result.peakBackends).toBeLessThanOrEqual(6);
    expect(await sizeOf(app)).toBe(6);
    expect(app.stderr()).not.toMatch(/size \d+ → \d+|adaptive size/);
  });

  it('opted in below an explicit max: starts at adaptiveMin, grows under the burst, never past the max', { timeout: 60_000 }, async () => {
    const { app } = await start('adaptive-below', { POOL_MAX: '12', PLANDEX_PERF_PG_POOL_ADAPTIVE_BELOW_MAX: 'true', PLANDEX_PERF_PG_POOL_ADAPTIVE_MIN: '3' });
    expect(await sizeOf(app)).toBe(3);
    const result = await burst(app, 'adaptive-below');
    const size = await sizeOf(app);
    console.error(`[pg-adaptive] below max 12 from 3: ${result.failed} failed in ${result.ms} ms; size after ${size}; peak backends ${result.peakBackends}`);
    expect(result.failed).toBe(0);
    expect(size).toBeGreaterThan(3);
    expect(size).toBeLessThanOrEqual(12);
    // The pool's connections, plus at most the one-off headroom read during the burst.
    expect(result.peakBackends).toBeLessThanOrEqual(13);
  });

  it('adaptive off: pg’s fixed 10 under the same burst', { timeout: 60_000 }, async () => {
    const { app } = await start('adaptive-off', { PLANDEX_PERF_PG_POOL_ADAPTIVE: 'false' });
    const result = await burst(app, 'adaptive-off');
    expect(result.failed).toBe(0);
    expect(result.peakBackends).toBeLessThanOrEqual(10);
    expect(await sizeOf(app)).toBe(10);
  });
});
