import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor } from './helpers.js';

const busy = path.join(root, 'test/fixtures/busy-server.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Burst {
  statuses: number[];
  retryAfter: Set<string | null>;
}

/**
 * `n` requests that each wait ~50 ms, all at once. (A handler that burns 50 ms of CPU synchronously never has
 * more than one request in flight: the backlog then waits in socket buffers, before Node parses it, where no
 * admission control can see it; the event-loop delay threshold of heap-budget is the tool for that case.)
 */
async function burst(url: string, n: number): Promise<Burst> {
  const retryAfter = new Set<string | null>();
  const statuses = await Promise.all(
    Array.from({ length: n }, async () => {
      const response = await fetch(`${url}/work?ms=50&wait=1`);
      await response.text();
      if (response.status === 503) retryAfter.add(response.headers.get('retry-after'));
      return response.status;
    }),
  );
  return { statuses, retryAfter };
}

/** Polls a path every 20 ms while `during` runs; the statuses seen. */
async function pollWhile(url: string, during: Promise<unknown>): Promise<number[]> {
  const seen: number[] = [];
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    seen.push((await get(url)).status);
    await sleep(20);
  }
  return seen;
}

const count = (xs: number[], status: number) => xs.filter((s) => s === status).length;

describe('concurrency limit: the same busy app, off and on', () => {
  it('at its default (off), a burst far over any limit gets no 503 at all', async () => {
    const app = await startApp({ script: busy, env: { OTEL_METRICS_EXPORTER: 'none' } });
    try {
      const result = await burst(app.url, 60);
      expect(count(result.statuses, 503)).toBe(0);
      expect(count(result.statuses, 200)).toBe(60);
      expect(app.stderr()).not.toContain('concurrency limit on');
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('on, it answers 503 + Retry-After past the queue, keeps /health up, takes /ready out while rejecting, and recovers', async () => {
    const metricsPort = await freePort();
    const app = await startApp({
      script: busy,
      env: {
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_INITIAL_LIMIT: '2',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MIN_LIMIT: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MAX_LIMIT: '4',
        PLANDEX_PERF_CONCURRENCY_LIMIT_QUEUE_RATIO: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MAX_QUEUE_WAIT_MS: '300',
        PLANDEX_PERF_CONCURRENCY_LIMIT_RETRY_AFTER_SECONDS: '3',
        PLANDEX_PERF_CONCURRENCY_LIMIT_NOT_READY_MS: '500',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MIN_SAMPLES: '3',
        PLANDEX_PERF_CONCURRENCY_LIMIT_WINDOW_MS: '100',
      },
    });
    try {
      expect(app.stderr()).toContain('concurrency limit on');
      const running = burst(app.url, 60);
      const [result, health, ready] = await Promise.all([running, pollWhile(`${app.url}/health`, running), pollWhile(`${app.url}/ready`, running)]);

      expect(count(result.statuses, 503)).toBeGreaterThan(0);
      expect(count(result.statuses, 200)).toBeGreaterThan(0);
      expect(count(result.statuses, 200) + count(result.statuses, 503)).toBe(60);
      expect([...result.retryAfter]).toEqual(['3']);
      // Liveness is exempt: always answered by the app.
      expect(health.length).toBeGreaterThan(0);
      expect(health.every((s) => s === 200)).toBe(true);
      // Readiness says "not ready" while the limiter rejects.
      expect(ready).toContain(503);

      // After the burst: ready again, and every request succeeds.
      await waitFor(async () => ((await get(`${app.url}/ready`)).status === 200 ? true : undefined), 5000);
      for (let i = 0; i < 10; i++) expect((await get(`${app.url}/work?ms=5`)).status).toBe(200);
      const after = await burst(app.url, 3);
      expect(after.statuses).toEqual([200, 200, 200]);

      const metrics = await scrape(metricsPort);
      expect(sumSamples(metrics, 'plandex_perf_concurrency_limit_rejected_total')).toBe(count(result.statuses, 503));
      const limit = sumSamples(metrics, 'plandex_perf_concurrency_limit_limit');
      expect(limit).toBeGreaterThanOrEqual(1);
      expect(limit).toBeLessThanOrEqual(4);
      expect(sumSamples(metrics, 'plandex_perf_concurrency_limit_in_flight')).toBe(0);
      expect(sumSamples(metrics, 'plandex_perf_concurrency_limit_queued')).toBe(0);
      expect(metrics.some((l) => l.startsWith('plandex_perf_concurrency_limit_queue_wait'))).toBe(true);
      // The preload's own server is never limited: the scrapes above went through during the burst too.
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 60_000);

  it('a queued request whose client disconnects leaves the queue', async () => {
    const metricsPort = await freePort();
    const app = await startApp({
      script: busy,
      env: {
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_INITIAL_LIMIT: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MIN_LIMIT: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MAX_LIMIT: '1',
        PLANDEX_PERF_CONCURRENCY_LIMIT_QUEUE_RATIO: '10',
        PLANDEX_PERF_CONCURRENCY_LIMIT_MAX_QUEUE_WAIT_MS: '10000',
      },
    });
    try {
      // One slow request holds the only slot; five more wait, then their clients give up.
      const holder = get(`${app.url}/work?ms=1500&wait=1`);
      await sleep(100);
      const waiters = Array.from({ length: 5 }, () => fetch(`${app.url}/work?ms=1`, { signal: AbortSignal.timeout(300) }).catch((e: Error) => e.name));
      await sleep(150);
      const m = await scrape(metricsPort);
      expect(sumSamples(m, 'plandex_perf_concurrency_limit_queued')).toBe(5);
      expect(await Promise.all(waiters)).toEqual(Array(5).fill('TimeoutError'));
      await waitFor(async () => (sumSamples(await scrape(metricsPort), 'plandex_perf_concurrency_limit_queued') === 0 ? true : undefined), 2000);
      expect((await holder).status).toBe(200);
      const metrics = await scrape(metricsPort);
      expect(sumSamples(metrics, 'plandex_perf_concurrency_limit_queue_wait_count', { plandex_perf_concurrency_limit_outcome: 'abandoned' })).toBe(5);
      expect(sumSamples(metrics, 'plandex_perf_concurrency_limit_rejected_total')).toBe(0);
      expect((await get(`${app.url}/work?ms=1`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  }, 60_000);
});
