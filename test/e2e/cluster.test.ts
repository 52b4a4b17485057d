/**
 * One metrics port for all the processes of an app: `node:cluster` (ESM and CommonJS, 2 and 4 workers)
 * and an app that spawns a second node process inheriting NODE_OPTIONS. Exact counts, a replaced
 * worker, a stopped worker, SIGTERM to the primary. PM2 is in cluster-pm2.test.ts.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, get, preload, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';
import { answering, getFresh, isRunning, requestCount, sendRequests, waitForProcesses } from './cluster-helpers.js';

const fixture = (name: string) => path.join(root, 'test/fixtures/cluster', name);
let apps: App[] = [];
afterEach(async () => {
  for (const app of apps) {
    // Workers exit with their primary (IPC disconnect); SIGKILL leaves them no time, so SIGTERM first.
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGTERM');
    await Promise.race([app.exited, new Promise((r) => setTimeout(r, 3000))]);
    await app.stop();
  }
  apps = [];
});

async function startCluster(script: string, workers: number, env: Record<string, string> = {}) {
  const metricsPort = await freePort();
  const port = await freePort();
  const app = await startApp({ script, env: { WORKERS: String(workers), PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  apps.push(app);
  await waitForProcesses(metricsPort, workers + 1);
  return { app, metricsPort };
}

describe.each([
  ['ESM', 'app.mjs', 2],
  ['ESM', 'app.mjs', 4],
  ['CommonJS', 'app.cjs', 2],
  ['CommonJS', 'app.cjs', 4],
])('node:cluster (%s) with %i workers under the preload', (_kind, script, workers) => {
  it('serves one port whose request count is the exact sum over the workers', async () => {
    const { app, metricsPort } = await startCluster(fixture(script), workers);
    const pids = await sendRequests(app.url, 200);
    expect(pids.size, `workers that served: ${[...pids.keys()].join(', ')}`).toBeGreaterThanOrEqual(2);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(200);
    expect(answering(lines)).toBe(workers + 1);
    // Gauges are per process (a slot label, bounded), not summed.
    const slots = new Set(lines.filter((l) => l.startsWith('nodejs_eventloop_delay_p99{')).map((l) => /plandex_perf_process_slot="(\d+)"/.exec(l)?.[1]));
    expect(slots.size).toBe(workers + 1);
    // The primary holds the port; the response says so.
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.headers.get('x-plandex-perf-process')).toContain(`pid=${app.child.pid}; role=cluster-primary; metrics=leader`);
  });
});

describe('node:cluster: processes come and go', () => {
  it('keeps counting when a worker is killed and replaced (SIGKILL after a scrape, SIGTERM without one)', async () => {
    const { app, metricsPort } = await startCluster(fixture('app.mjs'), 2);
    const first = await sendRequests(app.url, 200);
    expect(requestCount(await scrape(metricsPort))).toBe(200);

    const [victim] = first.keys();
    process.kill(Number(victim), 'SIGKILL');
    // While the replacement starts, no scrape shows less than what was counted.
    const during = await waitFor(async () => {
      const lines = await scrape(metricsPort);
      expect(requestCount(lines)).toBe(200);
      return sumSamples(lines, 'plandex_perf_cluster_departures_total') >= 1 && answering(lines) === 3 ? lines : undefined;
    }, 10_000);
    expect(requestCount(during)).toBe(200);
    await sendRequests(app.url, 100);
    expect(requestCount(await scrape(metricsPort))).toBe(300);

    // SIGTERM with no listener of ours (signals stay exactly bare): the worker dies at once, so what it
    // counted since the last scrape is lost, but the total never goes backwards.
    const second = await sendRequests(app.url, 60);
    const [leaving, lostAtMost] = [...second.entries()][0]!;
    process.kill(Number(leaving), 'SIGTERM');
    await waitFor(async () => {
      const lines = await scrape(metricsPort);
      return sumSamples(lines, 'plandex_perf_cluster_departures_total') >= 2 && answering(lines) === 3 ? lines : undefined;
    }, 10_000);
    await sendRequests(app.url, 40);
    const total = requestCount(await scrape(metricsPort));
    expect(total).toBeLessThanOrEqual(400);
    expect(total).toBeGreaterThanOrEqual(400 - lostAtMost!);
    expect(total).toBeGreaterThan(300);
  });

  it('answers within the bound when a worker is stopped, and counts the timeout', async () => {
    const { app, metricsPort } = await startCluster(fixture('app.mjs'), 2, { PLANDEX_PERF_TELEMETRY_CLUSTER_SCRAPE_TIMEOUT_MS: '300' });
    const pids = await sendRequests(app.url, 100);
    expect(requestCount(await scrape(metricsPort))).toBe(100);
    const [stopped] = pids.keys();
    process.kill(Number(stopped), 'SIGSTOP');
    try {
      const started = Date.now();
      const lines = await scrape(metricsPort);
      expect(Date.now() - started).toBeLessThan(1500);
      // Its last snapshot stands in for it: the total does not drop.
      expect(requestCount(lines)).toBe(100);
      expect(sumSamples(lines, 'plandex_perf_cluster_scrape_timeouts_total')).toBe(1);
      expect(sumSamples(lines, 'plandex_perf_cluster_processes', { plandex_perf_cluster_process_state: 'timed_out' })).toBe(1);
      expect(answering(lines)).toBe(2);
    } finally {
      process.kill(Number(stopped), 'SIGCONT');
    }
    const after = await waitForProcesses(metricsPort, 3);
    expect(requestCount(after)).toBe(100);
    expect(sumSamples(after, 'plandex_perf_cluster_scrape_timeouts_total')).toBe(1);
  });

  for (const [script, workers] of [['app.cjs', 2], ['app.mjs', 4], ['app.cjs', 4]] as const) {
    it(`SIGTERM to the primary (${script}, ${workers} workers) ends the whole tree with the status bare shows`, async () => {
      const stopPrimary = async (app: App) => {
        const pids = await sendRequests(app.url, 40);
        app.child.kill('SIGTERM');
        const result = await app.exited;
        await waitFor(() => [...pids.keys()].every((pid) => !isRunning(Number(pid))) || undefined, 5000);
        return result;
      };
      const { app, metricsPort } = await startCluster(fixture(script), workers);
      const instrumented = await stopPrimary(app);
      // Nobody took the port over: the workers left with their primary.
      await expect(scrape(metricsPort)).rejects.toThrow();

      const bare = await startApp({ script: fixture(script), withPreload: false, env: { WORKERS: String(workers), PORT: String(await freePort()) } });
      apps.push(bare);
      expect(instrumented).toEqual(await stopPrimary(bare));
      expect(instrumented).toEqual({ code: null, signal: 'SIGTERM' });
    });
  }

  it('names the process /debug/* is about', async () => {
    const { app, metricsPort } = await startCluster(fixture('app.mjs'), 2);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/debug/snapshot`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-plandex-perf-process')).toMatch(new RegExp(`^pid=${app.child.pid}; role=cluster-primary; metrics=leader; processes=3$`));
  });
});

describe.each([
  ['ESM', 'spawner.mjs'],
  ['CommonJS', 'spawner.cjs'],
])('child processes started with the same NODE_OPTIONS (%s)', (_kind, spawner) => {
  /** The spawner app under the preload (through NODE_OPTIONS, as its child inherits it), once both report on one port. */
  const startSpawner = async (script: string) => {
    const metricsPort = await freePort();
    const childPort = await freePort();
    const app = await startApp({
      script: fixture(script),
      withPreload: false,
      env: { NODE_OPTIONS: `--import ${preload}`, CHILD_PORT: String(childPort), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) },
    });
    apps.push(app);
    await waitForProcesses(metricsPort, 2);
    return { app, metricsPort, childPort };
  };
  it("sums the child's metrics into the parent's port", async () => {
    const { app, metricsPort, childPort } = await startSpawner(spawner);
    await sendRequests(app.url, 30);
    await sendRequests(`http://127.0.0.1:${childPort}`, 20);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(50);
  });

  it('SIGTERM to the parent (its handler stops the child, exit 0): the same status as bare, the child gone, the port freed', async () => {
    const stopParent = async (app: App, childPort: number) => {
      const childPid = Number((await getFresh(`http://127.0.0.1:${childPort}`)).pid);
      app.child.kill('SIGTERM');
      const result = await app.exited;
      await waitFor(() => !isRunning(childPid) || undefined, 5000);
      return result;
    };
    const { app, metricsPort, childPort } = await startSpawner(spawner);
    const instrumented = await stopParent(app, childPort);
    await expect(scrape(metricsPort)).rejects.toThrow();

    const bareChildPort = await freePort();
    const bare = await startApp({ script: fixture(spawner), withPreload: false, env: { NODE_OPTIONS: '', CHILD_PORT: String(bareChildPort) } });
    apps.push(bare);
    expect(instrumented).toEqual(await stopParent(bare, bareChildPort));
    expect(instrumented).toEqual({ code: 0, signal: null });
  });
});

describe('two different apps on one host', () => {
  it('keeps the port for the first and logs PPERF_ERR_METRICS_PORT_IN_USE for the second', async () => {
    const metricsPort = await freePort();
    const env = (service: string) => ({ WORKERS: '1', OTEL_SERVICE_NAME: service, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_TELEMETRY_CLUSTER: 'auto' });
    const first = await startApp({ script: fixture('app.mjs'), env: env('billing') });
    apps.push(first);
    await waitForProcesses(metricsPort, 2);
    const second = await startApp({ script: fixture('app.mjs'), env: env('search') });
    apps.push(second);
    await waitFor(() => /PPERF_ERR_METRICS_PORT_IN_USE.*another service \(billing\)/.test(second.stderr()) || undefined, 5000);
    await sendRequests(second.url, 10);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(0);
    expect(answering(lines)).toBe(2);
    expect((await get(`${second.url}/`)).status).toBe(200);
  });
});
