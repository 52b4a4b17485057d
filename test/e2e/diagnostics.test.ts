import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

/** Preloads the built plugins plus diagnostics (until it is one of the built-ins, then just those). */
const diagnosticsPreload = path.join(root, 'test/fixtures/diagnostics-preload.mjs');
const smallApp = path.join(root, 'test/fixtures/leaky-server.mjs');
const profileModule = pathToFileURL(path.join(root, 'dist/src/commands/profile.js')).href;
const fakeClinic = path.join(root, 'test/fixtures/fake-clinic');
const TOKEN = 'test-token-0123456789abcdef';

/** A GET from a chosen local address (127.0.0.2 is loopback too on Linux): a second client machine, in effect. */
function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { localAddress, headers, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }));
    });
    request.on('error', reject);
  });
}

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
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: 8 }, () => get(`${app.debug}/snapshot`).then((r) => r.status)));
    // A burst of 5, and one more token per 200 ms the burst took to arrive (a loaded machine is slow).
    const refilled = Math.floor((performance.now() - started) / 200);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5 + refilled);
    expect(statuses.filter((s) => s === 429).length).toBe(8 - statuses.filter((s) => s === 200).length);
    if (refilled === 0) expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });
});

describe('diagnostics: heap snapshot and the JSON snapshot', () => {
  let app: App & { debug: string };
  // On by default on this kind of machine, off in a container: said explicitly so CI in one runs it too.
  beforeAll(async () => void (app = await startWithDiagnostics({ PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT: 'true' })));
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
    expect((snap.cache!.l1 as { budget: number }).budget).toBeGreaterThan(0);
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

describe('diagnostics: heap snapshot safety', () => {
  it('is off in a constrained profile, with a coded answer that says how to turn it on', async () => {
    const app = await startWithDiagnostics({ PLANDEX_PERF_PROFILE: 'container-512m' });
    try {
      const { status, body } = await get(`${app.debug}/heap-snapshot`);
      expect(status).toBe(403);
      const answer = JSON.parse(body) as { code: string; reason: string; fix: string };
      expect(answer.code).toBe('PPERF_ERR_DIAG_SNAPSHOT_OFF');
      expect(answer.reason).toContain('container-512m');
      expect(answer.fix).toContain('PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT=true');
    } finally {
      await app.stop();
    }
  });

  it('turned on in a 512 MB profile, refuses a heap whose snapshot would not fit (8 × 70 MB), and the host lives', async () => {
    const app = await startWithDiagnostics({ PLANDEX_PERF_PROFILE: 'container-512m', PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT: 'true' });
    try {
      expect((await get(`${app.url}/leak?mb=70`)).status).toBe(200);
      const rssBefore = (JSON.parse((await get(`${app.debug}/snapshot`)).body) as { process: { memory: { rss: number } } }).process.memory.rss;
      const { status, body } = await get(`${app.debug}/heap-snapshot`);
      expect(status).toBe(503);
      const answer = JSON.parse(body) as { code: string; reason: string };
      expect(answer.code).toBe('PPERF_ERR_DIAG_SNAPSHOT_NO_FIT');
      expect(answer.reason).toMatch(/profile "container-512m"'s 512 MiB|container's memory limit/);
      const rssAfter = (JSON.parse((await get(`${app.debug}/snapshot`)).body) as { process: { memory: { rss: number } } }).process.memory.rss;
      expect(rssAfter - rssBefore).toBeLessThan(50 * 2 ** 20); // nothing was taken
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 30_000);

  it('a client that stops reading holds neither the gate nor the file: a CPU profile runs meanwhile, and the client is dropped', async () => {
    const app = await startWithDiagnostics({
      PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT: 'true',
      PLANDEX_PERF_DIAGNOSTICS_MIN_INTERVAL_MS: '0',
      PLANDEX_PERF_DIAGNOSTICS_DOWNLOAD_STALL_MS: '1000',
    });
    try {
      const { port } = new URL(app.debug);
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.write('GET /debug/heap-snapshot HTTP/1.1\r\nHost: x\r\n\r\n');
      // The first bytes (the status line) mean the snapshot is written; then the client stops reading.
      const head = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1', 0, 12))));
      socket.pause();
      expect(head).toBe('HTTP/1.1 200');
      const closed = new Promise<number>((resolve) => {
        const started = Date.now();
        socket.once('close', () => resolve(Date.now() - started));
      });
      // The gate was released when the file was written, not when the download ends.
      const profile = await fetch(`${app.debug}/cpu-profile?seconds=0.2`);
      expect(profile.status).toBe(200);
      await profile.arrayBuffer();
      // The stalled client is dropped after the bound (the socket buffers still hold data it never read).
      socket.resume();
      socket.on('data', () => {});
      expect(await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))])).toBeGreaterThanOrEqual(0);
      expect(app.child.exitCode).toBeNull();
    } finally {
      await app.stop();
    }
  }, 60_000);
});

describe('diagnostics: wrong tokens', () => {
  it('answers a flood of wrong tokens with 429 after a few, logs a coded line, not one per attempt, and counts them; the right token works from another address and after the back-off', async () => {
    const app = await startWithDiagnostics({
      OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0',
      PLANDEX_PERF_DIAGNOSTICS_TOKEN: TOKEN,
      // 5 in a burst, then one more every 4 s.
      PLANDEX_PERF_DIAGNOSTICS_AUTH_FAILURES: '5',
      PLANDEX_PERF_DIAGNOSTICS_AUTH_BACKOFF_SECONDS: '20',
    });
    try {
      const wrong = { authorization: `Bearer ${TOKEN}-wrong` };
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 300; i++) {
        const answer = await getFrom(`${app.debug}/snapshot`, '127.0.0.1', wrong);
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter = answer.retryAfter;
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      // A slow machine may earn one more attempt back while hammering; never more than that rate.
      const unauthorized = statuses.filter((s) => s === 401).length;
      expect(unauthorized).toBeLessThanOrEqual(7);
      expect(statuses.filter((s) => s === 429).length).toBe(300 - unauthorized);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(4);
      // Backing off: the right token from the same address is refused too, unchecked.
      expect((await getFrom(`${app.debug}/snapshot`, '127.0.0.1', { authorization: `Bearer ${TOKEN}` })).status).toBe(429);
      // Another address is not locked out.
      expect((await getFrom(`${app.debug}/snapshot`, '127.0.0.2', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);

      const lines = app.stderr().split('\n').filter((l) => l.includes('PPERF_WRN_030'));
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(2);
      expect(lines[0]).toContain('127.0.0.1');
      expect(app.stderr()).not.toContain(TOKEN);

      const metrics = await scrape(Number(new URL(app.debug).port));
      expect(sumSamples(metrics, 'plandex_perf_diagnostics_auth_failures_total', { plandex_perf_diagnostics_auth_failure_reason: 'wrong_token' })).toBe(unauthorized);
      expect(sumSamples(metrics, 'plandex_perf_diagnostics_auth_failures_total', { plandex_perf_diagnostics_auth_failure_reason: 'backoff' })).toBe(300 - unauthorized + 1);

      // After the back-off the right token works from the first address again.
      const again = await getFrom(`${app.debug}/snapshot`, '127.0.0.1', { authorization: `Bearer ${TOKEN}` });
      if (again.status === 429) await new Promise((r) => setTimeout(r, Number(again.retryAfter) * 1000 + 100));
      expect((await getFrom(`${app.debug}/snapshot`, '127.0.0.1', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    } finally {
      await app.stop();
    }
  }, 60_000);
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
