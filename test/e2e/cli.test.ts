import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { esmApp, freePort, get, root, startApp } from './helpers.js';

const cli = path.join(root, 'dist/src/cli.js');
const child = path.join(root, 'test/fixtures/report-child.mjs');
const quiet = { ...process.env, PLANDEX_PERF_LOG_LEVEL: 'silent', OTEL_EXPORTER_PROMETHEUS_PORT: '0' };

function runCli(args: string[], env: NodeJS.ProcessEnv = quiet) {
  return spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 20_000 });
}

describe('plandex-perf run', () => {
  it('starts node with the profile’s heap flags, thread pool and the preload, and returns the child’s exit code', () => {
    const result = runCli(['run', '--profile', 'container-512m', '--', 'node', child], { ...quiet, EXIT_CODE: '3' });
    expect(result.status).toBe(3);
    const report = JSON.parse(result.stdout.split('\n')[0]!);
    expect(report).toEqual({ heapLimitMb: 256 + 3 * 4, uvThreadpoolSize: '2', profile: 'container-512m', preloaded: true });
  });

  it('keeps the app’s own explicit heap flag', () => {
    const result = runCli(['run', '--profile', 'laptop-4g', '--', 'node', '--max-old-space-size=100', child], { ...quiet, EXIT_CODE: '0' });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout.split('\n')[0]!).heapLimitMb).toBe(100 + 3 * 8);
  });

  it('forwards SIGTERM to the child and exits with its status', async () => {
    const proc = spawn(process.execPath, [cli, 'run', '--profile', 'laptop-4g', '--', 'node', child], { env: quiet, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
    proc.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    expect(out).toContain('child got SIGTERM');
    expect([code, signal]).toEqual([0, null]);
  });

  it('dies of the same signal when the child is killed by one', () => {
    const result = runCli(['run', '--', 'node', '-e', "process.kill(process.pid, 'SIGKILL')"]);
    expect(result.signal).toBe('SIGKILL');
  });

  it('refuses an unknown profile with a coded message', () => {
    const result = runCli(['run', '--profile', 'huge', '--', 'node', child]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PPERF_WRN_005');
    expect(result.stderr).toContain('container-512m');
  });
});

describe('plandex-perf env', () => {
  it('prints the NODE_OPTIONS line in each format', () => {
    const shell = runCli(['env', '--profile', 'container-512m']);
    expect(shell.status).toBe(0);
    expect(shell.stdout).toContain('export NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4 --import @plandex-perf/register"');
    expect(shell.stdout).toContain('export UV_THREADPOOL_SIZE="2"');
    expect(runCli(['env', '--profile', 'laptop-4g', '--format', 'docker']).stdout).toMatch(/^ENV NODE_OPTIONS="--max-old-space-size=512/);
    expect(runCli(['env', '--profile', 'laptop-4g', '--format', 'systemd']).stdout).toContain('Environment="NODE_OPTIONS=--max-old-space-size=512');
    expect(JSON.parse(runCli(['env', '--profile', 'server-16g', '--format', 'json']).stdout)).toMatchObject({ UV_THREADPOOL_SIZE: '8', PLANDEX_PERF_PROFILE: 'server-16g' });
  });
});

describe('profiles in the preload', () => {
  it('a bad profile name gets a coded warning and the host still starts, on auto', async () => {
    const app = await startApp({ script: esmApp, env: { DATABASE_URL: 'postgres://127.0.0.1:1/none', PLANDEX_PERF_PROFILE: 'huge', OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()) } });
    try {
      expect((await get(`${app.url}/health`)).status).toBe(200);
      expect(app.stderr()).toContain('PPERF_WRN_005');
      expect(app.stderr()).toContain('profile auto');
    } finally {
      await app.stop();
    }
  });

  it('an explicit profile whose heap flags were not applied gets the exact fix', async () => {
    const app = await startApp({ script: esmApp, env: { DATABASE_URL: 'postgres://127.0.0.1:1/none', PLANDEX_PERF_PROFILE: 'container-512m', OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()) } });
    try {
      expect(app.stderr()).toContain('PPERF_WRN_006');
      expect(app.stderr()).toContain('--max-old-space-size=256 --max-semi-space-size=4');
    } finally {
      await app.stop();
    }
  });
});
