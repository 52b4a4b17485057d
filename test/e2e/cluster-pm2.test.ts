/**
 * PM2 cluster mode: its God daemon is the cluster primary and runs no app code, the instances share the
 * app port round-robin. With the preload in `--node-args` (or in NODE_OPTIONS), one instance holds the
 * metrics port and serves the sum; `pm2 reload` replaces every instance and the totals go on.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, preload, root, scrape, sumSamples, waitFor } from './helpers.js';
import { answering, getFresh, requestCount, sendRequests, waitForProcesses } from './cluster-helpers.js';

const run = promisify(execFile);
const pm2Bin = path.join(root, 'node_modules/pm2/bin/pm2');
const app = path.join(root, 'test/fixtures/cluster/pm2-app.cjs');
const homes: string[] = [];

async function pm2(home: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [pm2Bin, ...args], {
    cwd: root,
    env: { ...process.env, PM2_HOME: home, PLANDEX_PERF_LOG_LEVEL: 'info', ...env },
    timeout: 60_000,
  });
  return stdout;
}

afterEach(async () => {
  for (const home of homes.splice(0)) {
    await pm2(home, ['kill'], { NODE_OPTIONS: '' }).catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  }
});

async function startPm2(how: 'node-args' | 'NODE_OPTIONS') {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-pm2-'));
  homes.push(home);
  const port = await freePort();
  const metricsPort = await freePort();
  const env = { PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...(how === 'NODE_OPTIONS' ? { NODE_OPTIONS: `--import ${preload}` } : {}) };
  const args = ['start', app, '-i', '2', '--name', 'pperf-app', ...(how === 'node-args' ? [`--node-args=--import ${preload}`] : [])];
  await pm2(home, args, env);
  const url = `http://127.0.0.1:${port}`;
  // Readiness probe: exactly one request is answered (refused connections reach no instance).
  await waitFor(() => getFresh(url).then((r) => r.status === 200 || undefined, () => undefined), 20_000);
  return { home, url, metricsPort, env, probes: 1 };
}

describe.runIf(fs.existsSync(pm2Bin))('PM2 cluster mode (-i 2)', () => {
  it('with --node-args: the scraped count is the exact sum over both instances, through a reload', async () => {
    const { home, url, metricsPort, env, probes } = await startPm2('node-args');
    await waitForProcesses(metricsPort, 2, 20_000);
    const pids = await sendRequests(url, 200);
    expect(pids.size).toBe(2);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.headers.get('x-plandex-perf-process')).toMatch(/role=pm2-instance; metrics=leader; processes=2$/);
    expect(requestCount(await scrape(metricsPort))).toBe(200 + probes);

    // A reload replaces both instances, the leader included; its heir carries the totals on.
    await pm2(home, ['reload', 'pperf-app'], env);
    const after = await waitForProcesses(metricsPort, 2, 20_000);
    expect(requestCount(after)).toBe(200 + probes);
    await sendRequests(url, 100);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(300 + probes);
    expect(sumSamples(lines, 'plandex_perf_cluster_handovers_total')).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('with NODE_OPTIONS: the same exact count', async () => {
    const { url, metricsPort, probes } = await startPm2('NODE_OPTIONS');
    // The PM2 daemon inherits NODE_OPTIONS too. While it runs the preload it is the cluster primary, leads
    // (an idle process with no HTTP series) and outlives the app; otherwise an instance leads.
    const processes = await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined);
      const header = response?.headers.get('x-plandex-perf-process') ?? '';
      const expected = header.includes('role=cluster-primary') ? 3 : 2;
      const lines = response ? (await response.text()).split('\n') : [];
      return answering(lines) === expected ? expected : undefined;
    }, 20_000);
    const pids = await sendRequests(url, 200);
    expect(pids.size).toBe(2);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(200 + probes);
    expect(answering(lines)).toBe(processes);
  }, 90_000);
});
