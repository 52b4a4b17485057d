import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { nodeSupported, owningPackage, toolName } from '../../src/attach.js';
import { builtinPlugins } from '../../src/builtin.js';
import { coreSettings } from '../../src/core-settings.js';
import { optionsMarkdown } from '../../src/docs.js';
import { plan } from '../../src/start.js';

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-attach-'));
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

describe('which processes are instrumented', () => {
  it('Node 22.15 is the oldest supported line', () => {
    expect(nodeSupported('20.19.0')).toBe(false);
    expect(nodeSupported('22.14.9')).toBe(false);
    expect(nodeSupported('22.15.0')).toBe(true);
    expect(nodeSupported('24.0.0')).toBe(true);
  });

  it('launchers are recognised by the package that owns the main script, through .bin links', () => {
    const dir = tree({
      'lib/node_modules/npm/package.json': '{"name":"npm"}',
      'lib/node_modules/npm/bin/npm-cli.js': '',
      'app/node_modules/pm2/package.json': '{"name":"pm2"}',
      'app/node_modules/pm2/bin/pm2': '',
      'app/node_modules/pm2/lib/ProcessContainerFork.js': '',
      'app/node_modules/pm2/lib/ProcessContainer.js': '',
      'app/.yarn/releases/yarn-4.5.0.cjs': '',
      'app/package.json': '{"name":"my-app"}',
      'app/src/index.js': '',
      'repo/package.json': '{"name":"@plandex-perf/register"}',
      'repo/dist/src/cli.js': '',
      'repo/loadtests/app/server.mjs': '',
    });
    fs.mkdirSync(path.join(dir, 'app/node_modules/.bin'));
    fs.symlinkSync('../pm2/bin/pm2', path.join(dir, 'app/node_modules/.bin/pm2'));
    expect(toolName(path.join(dir, 'lib/node_modules/npm/bin/npm-cli.js'))).toBe('npm');
    expect(toolName(path.join(dir, 'app/node_modules/.bin/pm2'))).toBe('pm2');
    expect(toolName(path.join(dir, 'app/.yarn/releases/yarn-4.5.0.cjs'))).toBe('yarn');
    expect(toolName(path.join(dir, 'repo/dist/src/cli.js'))).toBe('plandex-perf');
    // PM2's containers run the app in their own process: they are the app.
    expect(toolName(path.join(dir, 'app/node_modules/pm2/lib/ProcessContainerFork.js'))).toBeUndefined();
    expect(toolName(path.join(dir, 'app/node_modules/pm2/lib/ProcessContainer.js'))).toBeUndefined();
    expect(toolName(path.join(dir, 'app/src/index.js'))).toBeUndefined();
    // An app inside this package's checkout (the reference app) is an app, not our CLI.
    expect(toolName(path.join(dir, 'repo/loadtests/app/server.mjs'))).toBeUndefined();
    expect(toolName(undefined)).toBeUndefined();
    expect(toolName(path.join(dir, 'missing.js'))).toBeUndefined();
  });

  it('the owning package is the nearest package.json with a name', () => {
    const dir = tree({ 'package.json': '{"name":"outer"}', 'src/package.json': '{"type":"module"}', 'src/index.js': '' });
    expect(owningPackage(path.join(dir, 'src/index.js'))).toEqual({ name: 'outer', dir });
  });
});

describe('preload variables', () => {
  it('bad values are reported with the variable and its raw text, and the default is used', () => {
    const { settings, problems } = coreSettings({ PLANDEX_PERF_SETUP_TIMEOUT_MS: '-5', PLANDEX_PERF_CONFIG_TIMEOUT_MS: 'abc', PLANDEX_PERF_LOG_LEVEL: 'verbose' });
    expect(settings).toEqual({ setupTimeoutMs: 2000, configTimeoutMs: 2000, logLevel: 'info', logFormat: 'text', hooks: 'auto' });
    expect(problems.map((p) => p.path)).toEqual(['PLANDEX_PERF_SETUP_TIMEOUT_MS=-5', 'PLANDEX_PERF_CONFIG_TIMEOUT_MS=abc', 'PLANDEX_PERF_LOG_LEVEL=verbose']);
    expect(problems[0]!.message).toContain('≥ 1');
    expect(problems[1]!.message).toContain('"abc"');
    expect(problems[2]!.message).toMatch(/debug/);
  });

  it('good values are used', () => {
    expect(coreSettings({ PLANDEX_PERF_SETUP_TIMEOUT_MS: '5000' }).settings.setupTimeoutMs).toBe(5000);
    expect(coreSettings({ PLANDEX_PERF_LOG_LEVEL: 'WARN', PLANDEX_PERF_LOG_FORMAT: 'json' }).settings).toMatchObject({ logLevel: 'warn', logFormat: 'json' });
    expect(coreSettings({ PLANDEX_PERF_HOOKS: 'Legacy' }).settings.hooks).toBe('legacy');
  });

  it('the hooks mode is a validated setting: a bad value is a problem naming the variable, and `auto` is used', () => {
    const { settings, problems } = coreSettings({ PLANDEX_PERF_HOOKS: 'legasy' });
    expect(settings.hooks).toBe('auto');
    expect(problems.map((p) => p.path)).toEqual(['PLANDEX_PERF_HOOKS=legasy']);
    expect(optionsMarkdown(builtinPlugins)).toContain('`PLANDEX_PERF_HOOKS`');
  });

  it('the log takes its level and format from the validated settings when it loads', async () => {
    const saved = { level: process.env.PLANDEX_PERF_LOG_LEVEL, format: process.env.PLANDEX_PERF_LOG_FORMAT };
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.env.PLANDEX_PERF_LOG_LEVEL = 'WARN';
      process.env.PLANDEX_PERF_LOG_FORMAT = 'Json';
      vi.resetModules();
      const { log } = await import('../../src/log.js');
      log.info('not shown');
      log.warn('PPERF_WRN_005', 'shown');
      expect(write).toHaveBeenCalledTimes(1);
      expect(JSON.parse(String(write.mock.calls[0]![0]))).toMatchObject({ level: 'warn', code: 'PPERF_WRN_005', message: 'shown' });
    } finally {
      write.mockRestore();
      for (const [name, value] of [['PLANDEX_PERF_LOG_LEVEL', saved.level], ['PLANDEX_PERF_LOG_FORMAT', saved.format]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      vi.resetModules();
    }
  });
});

describe('top-level config keys', () => {
  it('a bad profile or disable list is PPERF_ERR_CONFIG_INVALID with its path, and ignored; the sections still apply', () => {
    const result = plan({ profile: 42, disable: 'cache', http: { maxRoutes: 10 } } as never, {}, {});
    const invalid = result.findings.filter((f) => f.code === 'PPERF_ERR_CONFIG_INVALID');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.fields?.problems).toEqual([expect.stringMatching(/^profile: /), expect.stringMatching(/^disable: /)]);
    expect(result.profile.name).toBe('auto');
    expect(result.resolved.get('cache')).not.toHaveProperty('off');
    expect(result.resolved.get('http')).toMatchObject({ options: { maxRoutes: 10 } });
  });

  it('a rule between options (softHeapRatio ≤ hardHeapRatio, cpuProfileSeconds ≤ max) is a config error with its path, not a setup error', () => {
    const result = plan({ 'heap-budget': { softHeapRatio: 0.95 }, diagnostics: { cpuProfileSeconds: 120, maxCpuProfileSeconds: 60 } } as never, {}, {});
    const problems: unknown[] = result.findings.filter((f) => f.code === 'PPERF_ERR_CONFIG_INVALID').flatMap((f) => (f.fields?.problems as unknown[] | undefined) ?? []);
    expect(JSON.stringify(problems)).toContain('heap-budget.softHeapRatio');
    expect(JSON.stringify(problems)).toContain('diagnostics.cpuProfileSeconds');
    expect(result.resolved.get('heap-budget')).toMatchObject({ off: expect.any(String) });
  });

  it('good ones apply', () => {
    const result = plan({ profile: 'laptop-4g', disable: ['cache'] }, {}, {});
    expect(result.findings.filter((f) => f.level === 'error')).toEqual([]);
    expect(result.profile.name).toBe('laptop-4g');
    expect(result.resolved.get('cache')).toMatchObject({ off: expect.any(String) });
  });
});
