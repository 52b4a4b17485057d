import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const dir = path.join(root, 'test/fixtures/wrap');

describe('wrapping module exports at load time (used by zero-code caching)', () => {
  for (const mode of ['registerHooks', 'legacy'] as const) {
    it(`wraps the chosen exports of an ES module and a CommonJS module, leaving the rest (${mode})`, () => {
      const result = spawnSync(process.execPath, ['--import', path.join(dir, 'preload.mjs'), path.join(dir, 'main.mjs')], {
        env: { ...process.env, PLANDEX_PERF_LOG_LEVEL: 'error', ...(mode === 'legacy' ? { PLANDEX_PERF_HOOKS: 'legacy' } : {}) },
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout);
      expect(out.cjs).toBe('wrapped(greet):hi b');
      expect(out.cjsViaImport).toBe('wrapped(greet):hi c');
      expect(out.cjsOther).toBe('other');
      if (mode === 'legacy') return; // ES modules cannot be wrapped without module.registerHooks (warned)
      expect(out).toMatchObject({ greet: 'wrapped(greet):hello a', arrow: 'wrapped(arrow):4', untouched: 2, VALUE: 42, main: 'wrapped(default):main' });
      expect(out.keys).toEqual(['VALUE', 'arrow', 'default', 'greet', 'untouched']);
    });
  }
});
