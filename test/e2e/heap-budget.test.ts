import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor } from './helpers.js';

const leaky = path.join(root, 'test/fixtures/leaky-server.mjs');
const heapFlags = ['--max-old-space-size=64', '--max-semi-space-size=1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Leaks 2 MB per request, paced like real traffic, until the server answers something other than 200 or dies. */
async function leakUntilRefused(url: string, maxRequests: number): Promise<{ statuses: number[]; retryAfter?: string | null; died: boolean }> {
  const statuses: number[] = [];
  for (let i = 0; i < maxRequests; i++) {
    try {
      const response = await fetch(`${url}/leak?mb=2`);
      await response.text();
      statuses.push(response.status);
      if (response.status === 503) return { statuses, retryAfter: response.headers.get('retry-after'), died: false };
    } catch {
      return { statuses, died: true };
    }
    await sleep(25);
  }
  return { statuses, died: false };
}

describe('heap budget: the same leaky app, side by side', () => {
  it('without the plugin, the app dies of heap exhaustion', async () => {
    const app = await startApp({ script: leaky, withPreload: false, nodeArgs: heapFlags });
    const result = await leakUntilRefused(app.url, 200);
    expect(result.died).toBe(true);
    const exit = await app.exited;
    // V8's fatal "heap out of memory" aborts the process.
    expect(exit.signal === 'SIGABRT' || exit.code === 134).toBe(true);
    expect(app.stderr()).toMatch(/heap out of memory/i);
  }, 60_000);

  it('with the plugin, the app sheds with 503 + Retry-After, stays up, and recovers when pressure falls', async () => {
    const metricsPort = await freePort();
    const app = await startApp({
      script: leaky,
      nodeArgs: heapFlags,
      env: {
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        PLANDEX_PERF_HEAP_BUDGET_SAMPLE_MS: '50',
        PLANDEX_PERF_HEAP_BUDGET_SOFT_HEAP_RATIO: '0.5',
        PLANDEX_PERF_HEAP_BUDGET_HARD_HEAP_RATIO: '0.7',
        PLANDEX_PERF_HEAP_BUDGET_EXEMPT_PATHS: '/health,/release',
        PLANDEX_PERF_HEAP_BUDGET_RETRY_AFTER_SECONDS: '7',
      },
    });
    try {
      const result = await leakUntilRefused(app.url, 200);
      expect(result.died).toBe(false);
      expect(result.statuses.at(-1)).toBe(503);
      expect(result.retryAfter).toBe('7');
      expect(app.stderr()).toContain('PPERF_WRN_007');
      // Health checks pass while shedding; the app is alive.
      expect((await get(`${app.url}/health`)).status).toBe(200);
      const shedding = await scrape(metricsPort);
      expect(sumSamples(shedding, 'plandex_perf_heap_budget_state', { plandex_perf_heap_budget_state: 'shedding' })).toBe(1);
      expect(sumSamples(shedding, 'plandex_perf_heap_budget_shed_requests_total')).toBeGreaterThanOrEqual(1);

      // Pressure falls: the state eases (after a GC) and requests are served again.
      expect((await get(`${app.url}/release`)).status).toBe(200);
      await waitFor(async () => {
        const { status } = await get(`${app.url}/leak?mb=0`);
        return status === 200 ? true : undefined;
      }, 20_000);
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('with the plugin, readiness answers 503 "not ready" while shedding and liveness stays up; both reach the app again on recovery', async () => {
    const app = await startApp({
      script: leaky,
      nodeArgs: heapFlags,
      env: {
        PLANDEX_PERF_HEAP_BUDGET_SAMPLE_MS: '50',
        PLANDEX_PERF_HEAP_BUDGET_SOFT_HEAP_RATIO: '0.5',
        PLANDEX_PERF_HEAP_BUDGET_HARD_HEAP_RATIO: '0.7',
        PLANDEX_PERF_HEAP_BUDGET_EXEMPT_PATHS: '/health,/healthz,/live,/livez,/release',
        PLANDEX_PERF_HEAP_BUDGET_RETRY_AFTER_SECONDS: '7',
      },
    });
    try {
      // Before: the app's own answers (the leaky app says {"ok":true} on every other path).
      for (const p of ['/ready', '/readyz', '/health', '/livez']) expect(await get(`${app.url}${p}`)).toEqual({ status: 200, body: '{"ok":true}' });
      const result = await leakUntilRefused(app.url, 200);
      expect(result.statuses.at(-1)).toBe(503);

      for (const p of ['/ready', '/readyz', '/readyz?verbose=1']) {
        const response = await fetch(`${app.url}${p}`);
        expect(response.status, p).toBe(503);
        expect(response.headers.get('retry-after')).toBe('7');
        expect(((await response.json()) as { status: string }).status).toBe('not ready');
      }
      for (const p of ['/health', '/healthz', '/live', '/livez']) expect((await get(`${app.url}${p}`)).status, p).toBe(200);

      expect((await get(`${app.url}/release`)).status).toBe(200);
      await waitFor(async () => ((await get(`${app.url}/ready`)).status === 200 ? true : undefined), 20_000);
      expect(await get(`${app.url}/ready`)).toEqual({ status: 200, body: '{"ok":true}' });
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 60_000);
});
