// `npm run demo` (loadtests/demo.mjs) end to end, on a database of its own next to the test database:
// a short run's summary says what the preload found, --keep-up keeps the app up until Ctrl-C, and a
// Ctrl-C (sent to the process group, as a terminal does) prints one line, no stack trace, and leaves no
// data directory behind when it interrupts an embedded PostgreSQL's start.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { root } from './helpers.js';

const demo = path.join(root, 'loadtests/demo.mjs');
const url = inject('databaseUrl');
const name = `pperf_demo_${randomBytes(5).toString('hex')}`;
let demoUrl = '';
let unavailable = '';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (error) {
    unavailable = `cannot create a database next to the test database (${(error as Error).message})`;
    console.warn(`[demo] ${unavailable}: the demo tests are skipped`);
    return;
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  demoUrl = target.toString();
});
afterAll(async () => {
  if (demoUrl) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

interface Run {
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** The demo in its own process group, so a "Ctrl-C" can reach the whole group as a terminal's does. */
function runDemo(args: string[], env: Record<string, string | undefined>): Run {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const key of Object.keys(childEnv)) if (/^(OTEL_|PLANDEX_PERF_)/.test(key) || key === 'NODE_OPTIONS') delete childEnv[key];
  if (env.DATABASE_URL === undefined) delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, [demo, ...args], { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => (stdout += c));
  child.stderr?.on('data', (c) => (stderr += c));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

async function until(check: () => boolean, timeoutMs: number, what: string, run: Run): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ctrlC = (run: Run) => process.kill(-run.child.pid!, 'SIGINT');

describe('npm run demo', () => {
  it('summarises what the preload found (N+1, slow queries, pool waits), then with --keep-up stays up until Ctrl-C, which prints one line', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const run = runDemo(['--keep-up', '--duration', '2', '--scale', '0.1'], { DATABASE_URL: demoUrl });
    try {
      await until(() => run.stderr().includes('Press Ctrl-C to stop.'), 60_000, 'the summary', run);
      const summary = run.stdout();
      // The reference app's /users/:id/plans-n1 runs one query per plan: the detector must have seen it.
      const nPlusOne = Number(/^N\+1 queries\s+(\d+) requests/m.exec(summary)?.[1]);
      expect(nPlusOne, summary).toBeGreaterThan(0);
      expect(summary).toMatch(/^\s+\/users\/:id\/plans-n1: the same query \d+\+ times in one request/m);
      expect(summary).toMatch(/^Slow queries\s+\d+ over 100 ms/m);
      expect(summary).toMatch(/^Pool waits\s+[1-9]\d* connection checkouts, \d+ waited over 1 ms, p99 wait [\d.]+ ms, 0 timed out/m);
      // Still up: its metrics answer after the summary.
      const metricsUrl = /^Metrics: (\S+)$/m.exec(summary)?.[1];
      expect((await fetch(metricsUrl!)).status).toBe(200);

      const before = run.stderr().length;
      ctrlC(run);
      expect(await run.exit).toBe(130);
      const after = run.stderr().slice(before).trim();
      expect(after).toBe('demo stopped (Ctrl-C): app and database shut down.');
      await expect(fetch(metricsUrl!)).rejects.toThrow();
    } finally {
      if (run.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    }
  }, 90_000);

  it('a Ctrl-C while the embedded PostgreSQL starts leaves no data directory and no stack trace', async () => {
    // A TMPDIR of its own: the embedded cluster's directory goes there, and nothing else does.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-demo-test-'));
    fs.chmodSync(tmp, 0o755); // as root, postgres runs as user postgres and must reach its directory
    try {
      const run = runDemo(['--duration', '1'], { DATABASE_URL: undefined, TMPDIR: tmp });
      await until(() => fs.readdirSync(tmp).some((f) => f.startsWith('pperf-pg-')), 30_000, 'the embedded cluster directory', run);
      await new Promise((r) => setTimeout(r, 500)); // inside initdb or the start
      expect(run.child.exitCode, run.stderr()).toBeNull();
      ctrlC(run);
      expect(await run.exit).toBe(130);
      expect(run.stderr()).not.toMatch(/^\s+at /m);
      expect(run.stderr().trim().split('\n').at(-1)).toMatch(/^demo stopped \(Ctrl-C\): app and database shut down/);
      // The start-up watchdog removes what initdb may still write after the demo is gone.
      await until(() => !fs.readdirSync(tmp).some((f) => f.startsWith('pperf-pg-')), 15_000, 'the data directory to go', run);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
