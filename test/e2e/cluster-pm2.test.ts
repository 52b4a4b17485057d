/**
 * PM2 cluster mode: its God daemon is the cluster primary and runs no app code, the instances share the
 * app port round-robin. With the preload in `--node-args` (or in NODE_OPTIONS), one instance holds the
 * metrics port and serves the sum; `pm2 reload` replaces every instance and the totals go on.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, preload, root, scrape, sumSamples, waitFor } from './helpers.js';
import { answering, getFresh, isRunning, requestCount, sendRequests, waitForProcesses } from './cluster-helpers.js';

const run = promisify(execFile);
const pm2Bin = path.join(root, 'node_modules/pm2/bin/pm2');
const apps = { cjs: path.join(root, 'test/fixtures/cluster/pm2-app.cjs'), esm: path.join(root, 'test/fixtures/cluster/pm2-app.mjs') };
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

async function startPm2(how: 'node-args' | 'NODE_OPTIONS', app = apps.cjs) {
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
  return { home, port, url, metricsPort, env, probes: 1 };
}

/** Exactly the two instances answer and one of them leads: the PM2 daemon (which inherits NODE_OPTIONS too) is not instrumented. */
async function expectInstancesOnly(metricsPort: number): Promise<void> {
  await waitForProcesses(metricsPort, 2, 20_000);
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(response.headers.get('x-plandex-perf-process')).toMatch(/role=pm2-instance; metrics=leader; processes=2$/);
  expect(answering((await response.text()).split('\n'))).toBe(2);
}

/** Resolves when nothing accepts connections on `port` (an error other than ECONNREFUSED is not "freed"). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(false)));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
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

  it('with NODE_OPTIONS: the same exact count, the PM2 daemon left alone (an instance leads, 2 processes)', async () => {
    const { url, metricsPort, probes } = await startPm2('NODE_OPTIONS');
    await expectInstancesOnly(metricsPort);
    const pids = await sendRequests(url, 200);
    expect(pids.size).toBe(2);
    const lines = await scrape(metricsPort);
    expect(requestCount(lines)).toBe(200 + probes);
    expect(answering(lines)).toBe(2);
  }, 90_000);

  it('an ES module app (loaded by import() in the container): the same exact count over its 2 instances', async () => {
    const { url, metricsPort, probes } = await startPm2('NODE_OPTIONS', apps.esm);
    await expectInstancesOnly(metricsPort);
    const pids = await sendRequests(url, 120);
    expect(pids.size).toBe(2);
    expect(requestCount(await scrape(metricsPort))).toBe(120 + probes);
  }, 90_000);

  it('pm2 stop, then pm2 delete: the instances exit, no process of the app is left, both ports are freed', async () => {
    const { home, port, url, metricsPort } = await startPm2('NODE_OPTIONS');
    await expectInstancesOnly(metricsPort);
    const pids = [...(await sendRequests(url, 40)).keys()].map(Number);
    expect(pids).toHaveLength(2);

    await pm2(home, ['stop', 'pperf-app'], { NODE_OPTIONS: '' });
    await waitFor(() => pids.every((pid) => !isRunning(pid)) || undefined, 10_000);
    expect(await refused(port)).toBe(true);
    expect(await refused(metricsPort)).toBe(true);

    await pm2(home, ['delete', 'pperf-app'], { NODE_OPTIONS: '' });
    // No orphan: no process anywhere still runs the app's script (a leader that outlived its cluster would).
    const { stdout } = await run('ps', ['-eo', 'pid,args']);
    expect(stdout.split('\n').filter((line) => line.includes(apps.cjs) && !line.includes(' stop ') && !line.includes(' delete '))).toEqual([]);
    expect(await refused(metricsPort)).toBe(true);
  }, 90_000);
});
