import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { s } from '../../src/schema.js';
import {
  disabledPlugins,
  envName,
  envOverrides,
  envSources,
  findConfigFile,
  loadConfigFile,
  resolveSection,
  unknownSections,
} from '../../src/config.js';
import { definePlugin } from '../../src/plugin.js';
import type { Profile } from '../../src/profiles.js';

const profile: Profile = { name: 'test', memoryBytes: 1024 ** 3, cpus: 4, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 4 };

const pgPool = definePlugin({
  name: 'pg-pool',
  description: 'test plugin',
  schema: s.object({
    metricsPort: s.integer({ min: 0, max: 65535 }).default(9464),
    enabled: s.boolean().default(true),
    tables: s.array(s.string()).default([]),
    host: s.string().default('127.0.0.1'),
    ratio: s.number({ min: 0, max: 1 }).default(0.5),
  }),
  setup() {},
});

describe('envName', () => {
  it('upper-snakes the plugin name and the camelCase field', () => {
    expect(envName('pg-pool', 'metricsPort')).toBe('PLANDEX_PERF_PG_POOL_METRICS_PORT');
    expect(envName('http', 'routes')).toBe('PLANDEX_PERF_HTTP_ROUTES');
    expect(envName('telemetry', 'tracesSampleRatio')).toBe('PLANDEX_PERF_TELEMETRY_TRACES_SAMPLE_RATIO');
  });
});

describe('envOverrides', () => {
  it('reads only the variables named for the plugin', () => {
    expect(envOverrides(pgPool, { PLANDEX_PERF_HTTP_ROUTES: '/a', PLANDEX_PERF_PG_POOL: 'x' })).toEqual({});
  });

  it('coerces numbers, booleans and comma lists by the schema type', () => {
    const env = {
      PLANDEX_PERF_PG_POOL_METRICS_PORT: '9000',
      PLANDEX_PERF_PG_POOL_RATIO: '0.25',
      PLANDEX_PERF_PG_POOL_ENABLED: 'off',
      PLANDEX_PERF_PG_POOL_TABLES: 'users, orders,,plans ',
      PLANDEX_PERF_PG_POOL_HOST: '0.0.0.0',
    };
    expect(envOverrides(pgPool, env)).toEqual({
      metricsPort: 9000,
      ratio: 0.25,
      enabled: false,
      tables: ['users', 'orders', 'plans'],
      host: '0.0.0.0',
    });
  });

  it.each([
    ['1', true],
    ['TRUE', true],
    ['yes', true],
    ['on', true],
    ['0', false],
    ['false', false],
    ['No', false],
    ['off', false],
  ])('reads boolean %j as %j', (raw, value) => {
    expect(envOverrides(pgPool, { PLANDEX_PERF_PG_POOL_ENABLED: raw }).enabled).toBe(value);
  });

  it('leaves a value that is not a number or boolean as a string', () => {
    expect(envOverrides(pgPool, { PLANDEX_PERF_PG_POOL_METRICS_PORT: 'abc', PLANDEX_PERF_PG_POOL_ENABLED: 'maybe' })).toEqual({
      metricsPort: 'abc',
      enabled: 'maybe',
    });
    // An empty string is not zero.
    expect(envOverrides(pgPool, { PLANDEX_PERF_PG_POOL_METRICS_PORT: ' ' }).metricsPort).toBe(' ');
  });

  it('so that validation then names the field', () => {
    const { options, problems } = resolveSection(pgPool, {
      profile,
      env: envOverrides(pgPool, { PLANDEX_PERF_PG_POOL_METRICS_PORT: 'abc' }),
    });
    expect(options).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual(['pg-pool.metricsPort']);
  });

  it('includes the plugin fromEnv values, with PLANDEX_PERF_* variables winning', () => {
    const withStd = definePlugin({ ...pgPool, fromEnv: (env) => ({ host: env.STD_HOST, metricsPort: Number(env.STD_PORT) }) });
    expect(envOverrides(withStd, { STD_HOST: 'std', STD_PORT: '1', PLANDEX_PERF_PG_POOL_METRICS_PORT: '2' })).toEqual({
      host: 'std',
      metricsPort: 2,
    });
  });
});

describe('resolveSection', () => {
  const layered = definePlugin({
    name: 'layers',
    description: 'test plugin',
    schema: s.object({
      a: s.string().default('default'),
      b: s.string().default('default'),
      c: s.string().default('default'),
      d: s.string().default('default'),
      e: s.string().default('default'),
      poolMax: s.integer().default(1),
    }),
    profileDefaults: (p) => ({ b: 'profile', c: 'profile', d: 'profile', e: 'profile', poolMax: p.cpus * 2 }),
    setup() {},
  });

  it('layers default < profile < file < env < code', () => {
    const { options, problems } = resolveSection(layered, {
      profile,
      file: { c: 'file', d: 'file', e: 'file' },
      env: { d: 'env', e: 'env' },
      code: { e: 'code' },
    });
    expect(problems).toEqual([]);
    expect(options).toEqual({ a: 'default', b: 'profile', c: 'file', d: 'env', e: 'code', poolMax: 8 });
  });

  it('uses the schema defaults when no layer sets anything', () => {
    expect(resolveSection(pgPool, { profile }).options).toEqual({
      metricsPort: 9464,
      enabled: true,
      tables: [],
      host: '127.0.0.1',
      ratio: 0.5,
    });
  });

  it('reports every bad field at once, each with a dotted path from the plugin name', () => {
    const { options, problems } = resolveSection(pgPool, {
      profile,
      file: { ratio: 5, tables: ['ok', 7] },
      env: { metricsPort: 'abc' },
    });
    expect(options).toBeUndefined();
    expect(problems.map((p) => p.path).sort()).toEqual(['pg-pool.metricsPort', 'pg-pool.ratio', 'pg-pool.tables.1']);
    for (const problem of problems) expect(problem.message).not.toBe('');
  });

  it('names the variable and its value as given when a bad value came from the environment (ours over a standard one; not when code set the field)', () => {
    const standard = definePlugin({ ...pgPool, fromEnv: (env) => ({ ratio: env.STD_RATIO as unknown as number }), fromEnvNames: { ratio: 'STD_RATIO' } });
    const env = { STD_RATIO: 'lots', PLANDEX_PERF_PG_POOL_METRICS_PORT: ' 99999', PLANDEX_PERF_PG_POOL_HOST: '' };
    const sources = envSources(standard, env);
    expect(Object.fromEntries(sources)).toEqual({ ratio: 'STD_RATIO=lots', metricsPort: 'PLANDEX_PERF_PG_POOL_METRICS_PORT= 99999', host: 'PLANDEX_PERF_PG_POOL_HOST=' });
    expect(envSources(standard, { ...env, PLANDEX_PERF_PG_POOL_RATIO: '7' }).get('ratio')).toBe('PLANDEX_PERF_PG_POOL_RATIO=7');

    const { problems } = resolveSection(standard, { profile, env: envOverrides(standard, env), envSources: sources, file: { tables: [1] }, code: { metricsPort: 70000 } });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.env]));
    expect(byPath).toEqual({ 'pg-pool.ratio': 'STD_RATIO=lots', 'pg-pool.metricsPort': undefined, 'pg-pool.tables.0': undefined });
  });

  it('reports an unknown key under the plugin name', () => {
    const { problems } = resolveSection(pgPool, { profile, file: { metricPort: 1 } });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path.startsWith('pg-pool')).toBe(true);
    expect(problems[0]!.message).toContain('metricPort');
  });

  it.each([
    ['a string', 'yes'],
    ['an array', [1]],
    ['null', null],
    ['a number', 3],
  ])('refuses a config-file section that is %s', (_label, file) => {
    const { options, problems } = resolveSection(pgPool, { profile, file });
    expect(options).toBeUndefined();
    expect(problems).toEqual([{ path: 'pg-pool', message: expect.stringContaining('config file') }]);
  });

  it('refuses a non-object section from code, naming the source', () => {
    const { problems } = resolveSection(pgPool, { profile, code: 'on' });
    expect(problems).toEqual([{ path: 'pg-pool', message: expect.stringContaining('code') }]);
  });
});

describe('unknownSections', () => {
  it('lists keys that are neither a plugin nor profile/disable', () => {
    const config = { http: {}, htpp: {}, profile: 'auto', disable: ['pg'], telemetri: {} };
    expect(unknownSections(config, ['http', 'pg', 'telemetry'])).toEqual(['htpp', 'telemetri']);
  });

  it('is empty for a config of known keys', () => {
    expect(unknownSections({ http: {}, profile: 'auto' }, new Set(['http']))).toEqual([]);
  });
});

describe('disabledPlugins', () => {
  it('reads PLANDEX_PERF_DISABLE as a trimmed comma list', () => {
    expect([...disabledPlugins({}, { PLANDEX_PERF_DISABLE: ' pg, http,,' })].sort()).toEqual(['http', 'pg']);
  });

  it('adds the string entries of the config disable list', () => {
    const names = disabledPlugins({ disable: ['runtime', 42, 'pg'] }, { PLANDEX_PERF_DISABLE: 'pg' });
    expect([...names].sort()).toEqual(['pg', 'runtime']);
  });

  it('is empty with neither', () => {
    expect(disabledPlugins({ disable: 'pg' }, {}).size).toBe(0);
  });

  it('keeps `all` for the caller to act on', () => {
    expect(disabledPlugins({}, { PLANDEX_PERF_DISABLE: 'all' }).has('all')).toBe(true);
  });
});

describe('config files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-config-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  describe('findConfigFile', () => {
    it('finds nothing in an empty directory', () => {
      expect(findConfigFile(dir, {})).toBeUndefined();
    });

    it('prefers .mjs, then .js, then .json', () => {
      write('plandex-perf.config.json', '{}');
      expect(findConfigFile(dir, {})).toBe(path.join(dir, 'plandex-perf.config.json'));
      write('plandex-perf.config.js', 'export default {}');
      expect(findConfigFile(dir, {})).toBe(path.join(dir, 'plandex-perf.config.js'));
      write('plandex-perf.config.mjs', 'export default {}');
      expect(findConfigFile(dir, {})).toBe(path.join(dir, 'plandex-perf.config.mjs'));
    });

    it('lets PLANDEX_PERF_CONFIG win, resolved against the directory', () => {
      write('plandex-perf.config.mjs', 'export default {}');
      expect(findConfigFile(dir, { PLANDEX_PERF_CONFIG: 'conf/perf.json' })).toBe(path.join(dir, 'conf', 'perf.json'));
      expect(findConfigFile(dir, { PLANDEX_PERF_CONFIG: '/etc/perf.json' })).toBe('/etc/perf.json');
    });
  });

  describe('loadConfigFile', () => {
    it('reads a .json file', async () => {
      const file = write('plandex-perf.config.json', JSON.stringify({ http: { routes: ['/a/:id'] }, disable: ['pg'] }));
      expect(await loadConfigFile(file)).toEqual({ http: { routes: ['/a/:id'] }, disable: ['pg'] });
    });

    it('reads the default export of a .mjs file', async () => {
      const file = write('plandex-perf.config.mjs', "export const ignored = 1;\nexport default { profile: 'laptop-4g', runtime: { sampleMs: 5 } };\n");
      expect(await loadConfigFile(file)).toEqual({ profile: 'laptop-4g', runtime: { sampleMs: 5 } });
    });

    it('throws for a .mjs default export that is not an object', async () => {
      const file = write('plandex-perf.config.mjs', 'export default 42;\n');
      await expect(loadConfigFile(file)).rejects.toThrow(TypeError);
      await expect(loadConfigFile(file)).rejects.toThrow(/must export an object \(got number\)/);
    });

    it('throws for a .json array and a .json null', async () => {
      await expect(loadConfigFile(write('a.json', '[1]'))).rejects.toThrow(/got an array/);
      await expect(loadConfigFile(write('b.json', 'null'))).rejects.toThrow(/must export an object/);
    });

    it('throws for malformed JSON', async () => {
      await expect(loadConfigFile(write('c.json', '{ http: }'))).rejects.toThrow(SyntaxError);
    });

    // Regression: `export default null` is refused like any other non-object export.
    it('throws for a .mjs whose default export is null', async () => {
      const file = write('plandex-perf.config.mjs', 'export default null;\n');
      await expect(loadConfigFile(file)).rejects.toThrow(/must export an object/);
    });
  });
});
