// The benches measure the defaults: an app they start never inherits the caller's PLANDEX_PERF_*, OTEL_*,
// NODE_OPTIONS or UV_THREADPOOL_SIZE, only what the bench passes, and `plandex-perf bench`'s report says
// what it set and what it ignored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM shared with the benches
import { callerSettings, startApp, withoutCallerSettings } from '../../loadtests/lib/app-process.mjs';
// @ts-expect-error plain ESM shared with the bench
import { benchMarkdown } from '../../loadtests/bench/report/markdown.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-bench-env-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const shell = { PATH: '/usr/bin', DATABASE_URL: 'postgres://x', PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1', OTEL_SERVICE_NAME: 'mine', NODE_OPTIONS: '--max-old-space-size=64', UV_THREADPOOL_SIZE: '64', BENCH_PIN: '0' };

describe("the caller's settings", () => {
  it('are the preload\'s, OpenTelemetry\'s, NODE_OPTIONS and libuv\'s pool size, by name; the rest stays', () => {
    expect(callerSettings(shell)).toEqual(['NODE_OPTIONS', 'OTEL_SERVICE_NAME', 'PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED', 'UV_THREADPOOL_SIZE']);
    expect(withoutCallerSettings(shell)).toEqual({ PATH: '/usr/bin', DATABASE_URL: 'postgres://x', BENCH_PIN: '0' });
    expect(shell.PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED).toBe('1'); // a copy: the input is left alone
  });

  it('do not reach an app startApp starts; what the bench passes does', async () => {
    const script = path.join(dir, 'env-app.mjs');
    fs.writeFileSync(
      script,
      `import http from 'node:http';
const server = http.createServer((req, res) => res.end(JSON.stringify(process.env)));
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log(JSON.stringify({ event: 'listening', port: server.address().port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
    );
    const saved = { ...process.env };
    Object.assign(process.env, { PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1', OTEL_SERVICE_NAME: 'mine', NODE_OPTIONS: '--max-old-space-size=64', UV_THREADPOOL_SIZE: '64', PPERF_TEST_KEPT: 'yes' });
    // startApp reads the environment as it spawns, before its first await: restored at once, the rest of
    // this process never sees the settings.
    const starting: Promise<{ baseUrl: string; stop: () => Promise<unknown> }> = startApp({ script, env: { PLANDEX_PERF_LOG_LEVEL: 'error', OTEL_EXPORTER_PROMETHEUS_PORT: '0' } });
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    const app = await starting;
    try {
      const env = (await (await fetch(app.baseUrl)).json()) as Record<string, string>;
      for (const name of ['PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED', 'OTEL_SERVICE_NAME', 'NODE_OPTIONS', 'UV_THREADPOOL_SIZE']) expect(env, name).not.toHaveProperty(name);
      expect(env).toMatchObject({ PLANDEX_PERF_LOG_LEVEL: 'error', OTEL_EXPORTER_PROMETHEUS_PORT: '0', PPERF_TEST_KEPT: 'yes', HOST: '127.0.0.1' });
    } finally {
      await app.stop();
    }
  });
});

// A results object as suite.mjs writes it, cut to what the Markdown reads.
const results = (meta: Record<string, unknown>) => ({
  format: 'plandex-perf-bench/1',
  meta: {
    date: '2026-12-03T10:00:00.000Z', node: 'v24.22.3', cpu: 'cpu', cpus: 2, totalMemBytes: 2 ** 32, platform: 'linux x64', loadavgBefore: [0, 0, 0],
    database: 'local', pinning: 'none', defaultHeapLimitMB: 2048, mix: ['GET /hello ×1'], ids: 'zipf',
    options: { profile: 'auto', scenario: 'load', connections: 8, warmupSec: 1, durationSec: 4, rounds: 1, scale: 1, cache: true },
    variants: {
      bare: { command: 'node loadtests/app/server.mjs' },
      plugin: { command: 'node --import dist/register.js loadtests/app/server.mjs', env: { UV_THREADPOOL_SIZE: '4', PLANDEX_PERF_PROFILE: 'auto', PLANDEX_PERF_CONFIG: '<its config file>', OTEL_EXPORTER_PROMETHEUS_PORT: '<a free port>', PLANDEX_PERF_LOG_LEVEL: 'error' } },
    },
    ...meta,
  },
  runs: [],
  summary: { bare: { requests: 1 }, plugin: { requests: 1 } },
  problems: [],
});

describe("plandex-perf bench's report on the environment", () => {
  it('lists every variable the bench sets for the plugin, and names the ones from the shell it ignored', () => {
    const md = benchMarkdown(results({ ignoredEnv: ['OTEL_SERVICE_NAME', 'PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED'] }));
    expect(md).toContain('with UV_THREADPOOL_SIZE=4 PLANDEX_PERF_PROFILE=auto PLANDEX_PERF_CONFIG=<its config file> OTEL_EXPORTER_PROMETHEUS_PORT=<a free port> PLANDEX_PERF_LOG_LEVEL=error;');
    expect(md).toContain('the plugin runs with its defaults plus the variables above');
    expect(md).toContain('(ignored here: `OTEL_SERVICE_NAME`, `PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED`).');
    expect(benchMarkdown(results({ ignoredEnv: [] }))).toContain('reach neither app (none was set).');
  });

  it('says that older results inherited the shell, rather than claim a clean environment', () => {
    expect(benchMarkdown(results({}))).toContain("the apps inherited the caller's PLANDEX_PERF_* and OTEL_* variables, if any");
  });
});
