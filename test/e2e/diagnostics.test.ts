import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, get, root, startApp, waitFor, type App } from './helpers.js';

/** Preloads the built plugins plus diagnostics (until it is one of the built-ins, then just those). */
const diagnosticsPreload = path.join(root, 'test/fixtures/diagnostics-preload.mjs');
const smallApp = path.join(root, 'test/fixtures/leaky-server.mjs');
const profileModule = pathToFileURL(path.join(root, 'dist/src/commands/profile.js')).href;
const fakeClinic = path.join(root, 'test/fixtures/fake-clinic');
const TOKEN = 'test-token-0123456789abcdef';

async function startWithDiagnostics(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<App & { debug: string }> {
  const metricsPort = await freePort();
  const app = await startApp({
    script: smallApp,
    withPreload: false,
    nodeArgs: ['--import', diagnosticsPreload, ...nodeArgs],
    env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env },
  });
  // The app may answer before the metrics server listens: wait for it.
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.arrayBuffer().then(() => true), () => undefined)), 15_000);
  return Object.assign(app, { debug: `http://127.0.0.1:${metricsPort}/debug` });
}

describe('diagnostics: CPU profile and rate limits', () => {
  let app: App & { debug: string };
  beforeAll(async () => void (app = await startWithDiagnostics()));
  afterAll(async () => void (await app?.stop()));

  it('returns a 1 s CPU profile as a .cpuprofile download, 409 while one runs, 429 right after', async () => {
    const first = fetch(`${app.debug}/cpu-profile?seconds=1`);
    await new Promise((r) => setTimeout(r, 200));
    const concurrent = await fetch(`${app.debug}/cpu-profile?seconds=1`);
    expect(concurrent.status).toBe(409);
    expect(Number(concurrent.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const response = await first;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="cpu-\d+-.+\.cpuprofile"$/);
    const profile = (await response.json()) as { nodes: unknown[]; samples: unknown[]; startTime: number; endTime: number };
    expect(Array.isArray(profile.nodes)).toBe(true);
    expect(Array.isArray(profile.samples)).toBe(true);
    expect(profile.nodes.length).toBeGreaterThan(0);
    expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(900_000); // microseconds

    const again = await fetch(`${app.debug}/cpu-profile?seconds=1`);
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    // A heap snapshot is a heavy operation too, under the same pause.
    expect((await fetch(`${app.debug}/heap-snapshot`)).status).toBe(429);
  }, 30_000);

  it('refuses a bad or too long ?seconds= with 400, and methods other than GET with 405', async () => {
    expect((await get(`${app.debug}/cpu-profile?seconds=61`)).status).toBe(400);
    expect((await get(`${app.debug}/cpu-profile?seconds=abc`)).status).toBe(400);
    expect((await get(`${app.debug}/snapshot`, { method: 'POST' })).status).toBe(405);
  });

  it('rate-limits the JSON snapshot (5 per second by default)', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket
    const statuses = await Promise.all(Array.from({ length: 8 }, () => get(`${app.debug}/snapshot`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('diagnostics: heap snapshot and the JSON snapshot', () => {
  let app: App & { debug: string };
  beforeAll(async () => void (app = await startWithDiagnostics()));
  afterAll(async () => void (await app?.stop()));

  it('answers the whole picture in one JSON request', async () => {
    await get(`${app.url}/`); // some work for the GC and the loop
    const { status, body } = await get(`${app.debug}/snapshot`);
    expect(status).toBe(200);
    const snap = JSON.parse(body) as Record<string, Record<string, unknown> | null>;
    expect(Object.keys(snap)).toEqual(expect.arrayContaining(['heap', 'gc', 'eventLoop', 'process', 'pools', 'shedding', 'cache', 'config', 'profile']));
    expect(snap.heap!.statistics).toMatchObject({ used_heap_size: expect.any(Number), heap_size_limit: expect.any(Number) });
    expect(Array.isArray(snap.heap!.spaces)).toBe(true);
    expect(snap.gc!.byType).toMatchObject({ major: expect.any(Object), minor: expect.any(Object) });
    expect(snap.eventLoop).toMatchObject({ utilization: expect.any(Number), intervalMs: expect.any(Number) });
    expect(snap.process).toMatchObject({ pid: app.child.pid, nodeVersion: process.version, memory: { rss: expect.any(Number) } });
    expect(snap.pools).toEqual([]); // the pg plugin runs, the app has no pool
    expect(snap.shedding).toMatchObject({ state: 'ok' });
    // The cache plugin runs (L1 only, nothing wrapped): its budget and counters are in the picture.
    expect(snap.cache).toMatchObject({ l1: { bytes: 0, entries: 0, budget: expect.any(Number) }, counts: expect.any(Object) });
    expect(snap.cache!.l1!.budget).toBeGreaterThan(0);
    expect(snap.config!.plugins).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'diagnostics', state: 'running' })]));
    expect(snap.profile).toMatchObject({ name: 'auto', memoryBytes: expect.any(Number) });
  });

  it('streams a heap snapshot that parses', async () => {
    const response = await fetch(`${app.debug}/heap-snapshot`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toMatch(/\.heapsnapshot"$/);
    const snapshot = (await response.json()) as { snapshot: { meta: unknown; node_count: number }; nodes: number[] };
    expect(snapshot.snapshot.meta).toBeDefined();
    expect(snapshot.nodes.length).toBeGreaterThan(1000);
    expect(app.child.exitCode).toBeNull();
  }, 60_000);
});

describe('diagnostics: refusals', () => {
  it('refuses a heap snapshot with 503 and a reason while the heap budget is shedding', async () => {
    const app = await startWithDiagnostics(
      {
        // Thresholds below what the idle app already uses, and no shedding of the app itself.
        PLANDEX_PERF_HEAP_BUDGET_SOFT_HEAP_RATIO: '0.1',
        PLANDEX_PERF_HEAP_BUDGET_HARD_HEAP_RATIO: '0.1',
        PLANDEX_PERF_HEAP_BUDGET_SHED: 'false',
        PLANDEX_PERF_HEAP_BUDGET_SAMPLE_MS: '50',
      },
      ['--max-old-space-size=64', '--max-semi-space-size=1'],
    );
    try {
      await waitFor(async () => ((JSON.parse((await get(`${app.debug}/snapshot`)).body) as { shedding?: { state?: string } }).shedding?.state === 'shedding' ? true : undefined), 10_000);
      const { status, body } = await get(`${app.debug}/heap-snapshot`);
      expect(status).toBe(503);
      expect((JSON.parse(body) as { reason: string }).reason).toContain('shedding');
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 30_000);

  it('asks for the token when bound off loopback, even from 127.0.0.1: 401 without or with a wrong one', async () => {
    const app = await startWithDiagnostics({ OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0', PLANDEX_PERF_DIAGNOSTICS_TOKEN: TOKEN });
    try {
      const none = await fetch(`${app.debug}/snapshot`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await get(`${app.debug}/cpu-profile?seconds=1`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
      expect((await get(`${app.debug}/heap-snapshot`, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
      const ok = await get(`${app.debug}/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(ok.body).not.toContain(TOKEN);
      expect((JSON.parse(ok.body) as { config: { options: { diagnostics: { token: string } } } }).config.options.diagnostics.token).toBe('[redacted]');
    } finally {
      await app.stop();
    }
  });

  it('serves no /debug routes when bound off loopback without a token, with a coded warning', async () => {
    const app = await startWithDiagnostics({ OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0' });
    try {
      expect((await get(`${app.debug}/snapshot`)).status).toBe(404);
      expect((await get(`${app.debug}/heap-snapshot`)).status).toBe(404);
      expect(app.stderr()).toContain('PPERF_WRN_014');
    } finally {
      await app.stop();
    }
  });

  it('is off with PLANDEX_PERF_DISABLE=diagnostics', async () => {
    const app = await startWithDiagnostics({ PLANDEX_PERF_DISABLE: 'diagnostics' });
    try {
      expect((await get(`${app.debug}/snapshot`)).status).toBe(404);
    } finally {
      await app.stop();
    }
  });
});

describe('plandex-perf profile', () => {
  const runProfile = (args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `const { profileCommand } = await import(${JSON.stringify(profileModule)}); process.exitCode = await profileCommand(process.argv.slice(1));`, ...args], {
      cwd: options.cwd,
      // PATH holds only node: no clinic installed globally can be found.
      env: { ...process.env, PATH: path.dirname(process.execPath), PLANDEX_PERF_LOG_LEVEL: 'silent', ...options.env },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const dirs: string[] = [];
  const tmp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-profile-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  it('prints how to install clinic and exits 2 when it is absent', () => {
    const result = runProfile(['doctor', '--', 'node', 'server.js'], { cwd: tmp() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PPERF_ERR_DIAG_CLINIC_MISSING');
    expect(result.stderr).toContain('npm install -g clinic');
    expect(result.stderr).toContain('npm install --save-dev clinic');
  });

  it('refuses a missing tool or command with a coded usage message', () => {
    expect(runProfile(['--', 'node', 'server.js'], { cwd: tmp() }).stderr).toContain('PPERF_ERR_DIAG_USAGE');
    const result = runProfile(['flame', '--', 'npm', 'start'], { cwd: tmp() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PPERF_ERR_DIAG_USAGE');
  });

  it('runs clinic with the preload on the server, drives load with --load, stops it and prints the report path', async () => {
    const cwd = tmp();
    fs.mkdirSync(path.join(cwd, 'node_modules'));
    fs.symlinkSync(fakeClinic, path.join(cwd, 'node_modules/clinic'), 'dir');
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { profileCommand } = await import(${JSON.stringify(profileModule)}); process.exitCode = await profileCommand(process.argv.slice(1));`,
        'heap', '--load', '--duration', '1', '--connections', '2', '--paths', '/health', '--', 'node', smallApp],
      { cwd, env: { ...process.env, PATH: path.dirname(process.execPath), PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: '0', PLANDEX_PERF_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const call = JSON.parse(stdout.split('\n').find((l) => l.includes('"fake-clinic"'))!) as { tool: string; file: string; args: string[] };
    expect(call.tool).toBe('heapprofiler');
    expect(call.file).toBe(process.execPath);
    expect(call.args).toContain(`--import=${pathToFileURL(path.join(root, 'dist/src/register.js')).href}`);
    expect(call.args.at(-1)).toBe(smallApp);
    expect(stderr).toMatch(/\d+ requests, \d+\/s/);
    const report = /report at (\S+)/.exec(stderr)?.[1];
    expect(report).toBeDefined();
    expect(report!.startsWith(fs.realpathSync(cwd)) || report!.startsWith(cwd)).toBe(true);
    expect(fs.existsSync(report!)).toBe(true);
  }, 60_000);
});
