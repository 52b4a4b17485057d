import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { preload, preloadRequire } from './helpers.js';

// The loader (src/load.ts) runs the bundle with a V8 code cache of its own, written ~2 s after start-up.
// A host that lives 2.6 s, so the first start writes the cache.
const host = 'setTimeout(() => console.log("host ran"), 2600)';

function start(folder: string, flag: '--import' | '-r', env: Record<string, string> = {}, nodeFlags: string[] = [], code = host) {
  const result = spawnSync(process.execPath, [...nodeFlags, flag, flag === '--import' ? preload : preloadRequire, '-e', code], {
    env: { ...process.env, PLANDEX_PERF_COMPILE_CACHE: folder, PLANDEX_PERF_LOG_LEVEL: 'debug', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(result.stdout, result.stderr).toContain('host ran');
  expect(result.status).toBe(0);
  expect(result.stderr).not.toContain('ExperimentalWarning');
  return { status: /compile cache: ([a-z-]+)/.exec(result.stderr)?.[1], stderr: result.stderr };
}

const files = (folder: string) => fs.readdirSync(folder).filter((name) => name.endsWith('.bin'));

describe('the preload bundle’s own code cache', () => {
  it('is written by the first start and used by the next, under --import and -r; a broken file is replaced', () => {
    const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cc-')), 'cache');
    expect(start(folder, '--import').status).toBe('miss');
    expect(files(folder)).toHaveLength(1);
    const file = path.join(folder, files(folder)[0]!);
    expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(file).size).toBeGreaterThan(100_000);
    expect(start(folder, '--import').status).toBe('hit');
    expect(start(folder, '-r').status).toBe('hit');

    // A file V8 refuses (another build's, corrupted): compiled as without a cache, and written again.
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    expect(start(folder, '--import').status).toBe('rejected');
    expect(fs.statSync(file).size).toBeGreaterThan(100_000);
    expect(start(folder, '--import').status).toBe('hit');
  }, 60_000);

  it('keeps one cache per V8 flag set, so hosts started with other flags do not refuse and rewrite each other’s', () => {
    const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cc-')), 'cache');
    // --expose-gc changes V8's flag hash on Node 22 and 24 alike (the heap-size flags do on Node 22 only).
    expect(start(folder, '--import').status).toBe('miss');
    expect(start(folder, '--import', {}, ['--expose-gc']).status).toBe('miss'); // not 'rejected': a file of its own
    expect(files(folder)).toHaveLength(2);
    expect(start(folder, '--import', {}, ['--expose-gc']).status).toBe('hit');
    expect(start(folder, '--import').status).toBe('hit');
  }, 60_000);

  it('writes nothing when V8’s flags change after start-up (the next start would refuse that cache)', () => {
    const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cc-')), 'cache');
    const changesFlags = 'require("node:v8").setFlagsFromString("--expose-gc"); setTimeout(() => console.log("host ran"), 2600)';
    expect(start(folder, '--import', {}, [], changesFlags).status).toBe('miss');
    expect(files(folder)).toHaveLength(0);
    expect(start(folder, '--import').status).toBe('miss');
    expect(files(folder)).toHaveLength(1);
  }, 60_000);

  it('is not used from a folder others can write to, and is off with PLANDEX_PERF_COMPILE_CACHE=0', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cc-'));
    fs.chmodSync(folder, 0o777);
    expect(start(folder, '--import').status).toBe('unsafe-folder');
    expect(files(folder)).toHaveLength(0);
    fs.chmodSync(folder, 0o700);
    expect(start(folder, '-r', { PLANDEX_PERF_COMPILE_CACHE: '0' }).status).toBe('off');
    expect(files(folder)).toHaveLength(0);
  }, 60_000);

  it('a config module with top-level await loads through the loader’s import(), with no ExperimentalWarning', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cc-'));
    const config = path.join(dir, 'plandex-perf.config.mjs');
    fs.writeFileSync(config, 'await Promise.resolve();\nexport default { http: { routes: ["/users/:id"] } };\n');
    const { stderr } = start(path.join(dir, 'cache'), '--import', { PLANDEX_PERF_CONFIG: config });
    expect(stderr).toContain(`config file: ${config}`);
    expect(stderr).not.toContain('PPERF_ERR_CONFIG');
  }, 30_000);
});
