import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort, get, preload, root, startApp, type App } from './helpers.js';

/**
 * Issue 12: with no configuration the host's pg pool must behave as bare — same size, no added
 * statement or idle timeouts, same exit — so a burst is served, never failed.
 */
const databaseUrl = inject('databaseUrl');
const host = path.join(root, 'test/fixtures/pg-host.mjs');
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

async function start(withPreload: boolean, env: Record<string, string> = {}): Promise<App> {
  const app = await startApp({ script: host, withPreload, env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()), ...env } });
  apps.push(app);
  return app;
}

/** 200 requests at once, each one query of 60–190 ms (the same sequence every run). */
async function burst(app: App): Promise<{ failed: number; ms: number; codes: string[] }> {
  let seed = 12;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  const durations = Array.from({ length: 200 }, () => 60 + Math.round(next() * 130));
  const started = Date.now();
  const results = await Promise.all(durations.map((ms) => get(`${app.url}/sleep?ms=${ms}`)));
  const failures = results.filter((r) => r.status !== 200);
  return { failed: failures.length, ms: Date.now() - started, codes: [...new Set(failures.map((r) => String(JSON.parse(r.body).code)))] };
}

describe('pg-pool: no configuration means no change of pool semantics', () => {
  it('a 200-request burst of 60–190 ms queries: no more errors than bare (an explicit small profile fails some)', { timeout: 90_000 }, async () => {
    const bare = await burst(await start(false));
    const preloaded = await burst(await start(true));
    const small = await burst(await start(true, { PLANDEX_PERF_PROFILE: 'container-512m' }));
    console.error(`[pg-defaults] burst of 200: bare ${bare.failed} failed in ${bare.ms} ms; preload defaults ${preloaded.failed} failed in ${preloaded.ms} ms; container-512m (max 3, 5 s wait) ${small.failed} failed in ${small.ms} ms (${small.codes.join(', ')})`);
    expect(bare.failed).toBe(0);
    expect(preloaded.failed).toBe(0);
    // The control: the test can fail. A pool of 3 with a 5 s wait cannot serve this burst (about 8 s of queries).
    expect(small.failed).toBeGreaterThan(0);
    expect(small.codes).toEqual(['PPERF_ERR_PG_POOL_TIMEOUT']);
  });

  it("the host's queries run with the server's settings and pg's pool options, as bare; the start-up log says where each value comes from", async () => {
    const [bareApp, preloadApp] = await Promise.all([start(false), start(true, { OTEL_SERVICE_NAME: 'defaults-test' })]);
    const bare = JSON.parse((await get(`${bareApp.url}/settings`)).body);
    const preloaded = JSON.parse((await get(`${preloadApp.url}/settings`)).body);
    expect(preloaded.server).toEqual({ ...bare.server, application_name: 'defaults-test' });
    expect(bare.server).toMatchObject({ statement_timeout: '0', idle_in_transaction_session_timeout: '0', application_name: '' });
    // pg-pool's own defaults, untouched: the wait for a connection is bounded (30 s instead of forever) by
    // the preload on the connects that wait, not through the pool's options (the burst test's control proves the bound).
    expect(bare.options).toEqual({ max: 10, min: 0, idleTimeoutMillis: 10_000, maxLifetimeSeconds: 0 });
    expect(preloaded.options).toEqual(bare.options);
    const line = preloadApp.stderr().split('\n').find((l) => l.includes('pg pool "'));
    expect(line).toContain('max=10 (pg default)');
    expect(line).toContain('idleTimeoutMillis=10000 (pg default)');
    expect(line).toContain('connectionTimeoutMillis=30000 (plandex-perf default)');
    expect(line).toContain('maxLifetimeSeconds=0 (pg default)');
    expect(line).toContain('statement_timeout=unset (pg default)');
    expect(line).toContain('query_timeout=unset (pg default)');
    expect(line).toContain('fallback_application_name="defaults-test" (plandex-perf default: the service name)');
  });

  it("the app's own values and each opt-in layer are named in the log: app, profile, env", async () => {
    const app = await start(true, { POOL_MAX: '4', PLANDEX_PERF_PROFILE: 'server-16g', PLANDEX_PERF_PG_POOL_STATEMENT_TIMEOUT_MS: '1234', PGAPPNAME: 'mine' });
    const settings = JSON.parse((await get(`${app.url}/settings`)).body);
    expect(settings.server).toMatchObject({ statement_timeout: '1234ms', idle_in_transaction_session_timeout: '1min', application_name: 'mine' });
    expect(settings.options).toMatchObject({ max: 4, min: 2, idleTimeoutMillis: 30_000, maxLifetimeSeconds: 1800 });
    const line = app.stderr().split('\n').find((l) => l.includes('pg pool "'));
    expect(line).toContain('max=4 (app)');
    expect(line).toContain('connectionTimeoutMillis=5000 (profile server-16g)');
    expect(line).toContain('min=2 (profile server-16g)');
    expect(line).toContain('statement_timeout=1234 (env)');
    expect(line).toContain('query_timeout=2234 (env, statement_timeout + 1 s)');
    expect(line).toContain('application_name="mine" (app)');
  });

  it('a one-shot script that never calls pool.end() exits when it would bare (pg’s 10 s idle timeout)', { timeout: 40_000 }, async () => {
    const run = (withPreload: boolean) =>
      new Promise<{ code: number | null; ms: number }>((resolve) => {
        const started = Date.now();
        const child = spawn(process.execPath, [...(withPreload ? ['--import', preload] : []), path.join(root, 'test/fixtures/pg-oneshot.mjs')], {
          env: { ...process.env, DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: '0' },
          stdio: 'ignore',
        });
        child.once('exit', (code) => resolve({ code, ms: Date.now() - started }));
      });
    const [bare, preloaded] = await Promise.all([run(false), run(true)]);
    console.error(`[pg-defaults] one-shot without pool.end(): bare exits after ${bare.ms} ms, with the preload after ${preloaded.ms} ms`);
    expect(bare.code).toBe(0);
    expect(preloaded.code).toBe(0);
    expect(bare.ms).toBeGreaterThan(9_500);
    expect(Math.abs(preloaded.ms - bare.ms)).toBeLessThan(2_000);
  });
});
