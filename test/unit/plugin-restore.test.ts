import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { definePlugin } from '../../src/plugin.js';
import { s } from '../../src/schema.js';
import { start } from '../../src/start.js';
import telemetry from '../../src/telemetry/index.js';
import pg from '../../plugins/pg/index.js';
import pgPool from '../../plugins/pg-pool/index.js';
import objectPool from '../../plugins/object-pool/index.js';

// The plugins that hook a module put back what they replaced when they close: pg's Client.prototype.query,
// Pool.prototype.connect and end, pg-pool's Pool class and the unpooled-connect check, generic-pool's createPool.
describe('closing the module plugins restores the modules', () => {
  it('pg, pg-pool and object-pool', async () => {
    const require = createRequire(import.meta.url);
    const runtime = await start({ plugins: [telemetry, pg, pgPool, objectPool], config: { telemetry: { metricsExporter: 'none' } }, handleSignals: false });
    // Loaded after start, as an app loads them: the module hooks see them.
    const pgModule = require('pg') as { Pool: new () => unknown; Client: { prototype: Record<string, unknown> } };
    const genericPool = require('generic-pool') as { createPool: unknown };
    // pg exports a BoundPool (pg-pool's Pool bound to pg's Client); pg-pool's plugin exports a subclass of it.
    const Bound = Object.getPrototypeOf(pgModule.Pool) as { name: string; prototype: object };
    expect(Bound.name).toBe('BoundPool');
    expect(Object.hasOwn(Bound.prototype, 'connect')).toBe(true); // the pg plugin's one wrap
    const patched = { query: pgModule.Client.prototype.query, clientConnect: pgModule.Client.prototype.connect, createPool: genericPool.createPool };
    expect(String(patched.query)).toContain('inner'); // src/patch.ts's wrapper

    await runtime.shutdown(100);

    expect(pgModule.Pool).toBe(Bound);
    expect(Object.hasOwn(Bound.prototype, 'connect')).toBe(false);
    expect(Object.hasOwn(Bound.prototype, 'end')).toBe(false);
    for (const [now, before] of [
      [pgModule.Client.prototype.query, patched.query],
      [pgModule.Client.prototype.connect, patched.clientConnect],
      [genericPool.createPool, patched.createPool],
    ]) {
      expect(now).not.toBe(before);
      expect(String(now)).not.toContain('inner');
    }
  });
});

// The module hooks are the host's, not a plugin's: closing the last plugin that uses them takes them out,
// so a module loaded after close loads untouched and nothing keeps the closed plugins' wrappers.
describe('closing the host takes the module hooks out', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-hooks-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const require = createRequire(import.meta.url);
  let serial = 0;
  /** A fresh module each time (the require cache would hand back the first copy); ESM through require(esm). */
  const moduleFile = (kind: 'cjs' | 'mjs' = 'cjs') => {
    const file = path.join(dir, `m${serial++}.${kind}`);
    fs.writeFileSync(file, kind === 'cjs' ? 'exports.greet = (name) => `hi ${name}`;\n' : 'export const greet = (name) => `hi ${name}`;\n');
    return file;
  };
  const state = globalThis as Record<symbol, unknown>;

  const wrapping = (files: string[]) =>
    definePlugin({
      name: 'wrap-test',
      description: 'wraps greet',
      schema: s.object({}),
      setup: (ctx) => ctx.wrapExports(files.map((file) => ({ file, exports: ['greet'] })), (_name, fn) => (...args) => `wrapped:${fn(...args)}`),
    });

  for (const mode of ['registerHooks', 'legacy'] as const) {
    it(`modules loaded after shutdown are not wrapped, and the hooks' globals are gone (${mode})`, async () => {
      const Module = (await import('node:module')).Module as unknown as { _load: unknown };
      const loadBefore = Module._load;
      const previous = process.env.PLANDEX_PERF_HOOKS;
      if (mode === 'legacy') process.env.PLANDEX_PERF_HOOKS = 'legacy';
      try {
        const [during, after, esmDuring, esmAfter] = [moduleFile(), moduleFile(), moduleFile('mjs'), moduleFile('mjs')];
        const runtime = await start({ plugins: [telemetry, pg, wrapping([during, after, esmDuring, esmAfter])], config: { telemetry: { metricsExporter: 'none' } }, handleSignals: false });
        expect((require(during) as { greet: (n: string) => string }).greet('a')).toBe('wrapped:hi a');
        // Legacy hooks see CommonJS loads only (wrapExports warns so).
        if (mode === 'registerHooks') expect((require(esmDuring) as { greet: (n: string) => string }).greet('a')).toBe('wrapped:hi a');
        expect(state[Symbol.for('plandex-perf.wrap-export')]).toBeTypeOf('function');
        expect(state[Symbol.for('plandex-perf.module-loaded')]).toBeTypeOf('function');
        if (mode === 'legacy') expect(Module._load).not.toBe(loadBefore);

        await runtime.shutdown(100);

        expect((require(after) as { greet: (n: string) => string }).greet('b')).toBe('hi b');
        expect((require(esmAfter) as { greet: (n: string) => string }).greet('b')).toBe('hi b');
        expect(state[Symbol.for('plandex-perf.wrap-export')]).toBeUndefined();
        expect(state[Symbol.for('plandex-perf.module-loaded')]).toBeUndefined();
        expect(Module._load).toBe(loadBefore);
      } finally {
        if (previous === undefined) delete process.env.PLANDEX_PERF_HOOKS;
        else process.env.PLANDEX_PERF_HOOKS = previous;
      }
    });
  }

  it('a host started after another closed installs them again', async () => {
    const file = moduleFile();
    const runtime = await start({ plugins: [telemetry, wrapping([file])], config: { telemetry: { metricsExporter: 'none' } }, handleSignals: false });
    try {
      expect((require(file) as { greet: (n: string) => string }).greet('c')).toBe('wrapped:hi c');
    } finally {
      await runtime.shutdown(100);
    }
  });
});
