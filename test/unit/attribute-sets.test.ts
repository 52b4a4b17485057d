import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AttributeSets } from '../../src/attribute-sets.js';
// @ts-expect-error plain JavaScript build script, no declarations
import { SDK_PATCHES, patchHashAttributes, patchSdkFile } from '../../scripts/sdk-patch.mjs';

describe('AttributeSets', () => {
  it('gives one frozen object per combination, built once', () => {
    let built = 0;
    const sets = new AttributeSets((route: string | undefined, method: string, status: number) => {
      built++;
      return route === undefined ? { method, status } : { route, method, status };
    });
    const a = sets.get('/users/:id', 'GET', 200);
    expect(sets.get('/users/:id', 'GET', 200)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a).toEqual({ route: '/users/:id', method: 'GET', status: 200 });
    expect(sets.get('/users/:id', 'GET', 500)).not.toBe(a);
    expect(sets.get(undefined, 'GET', 200)).toEqual({ method: 'GET', status: 200 });
    expect(built).toBe(3);
  });

  it('past its bound, builds fresh objects and keeps none of them', () => {
    const sets = new AttributeSets((n: number) => ({ n }), 2);
    sets.get(1);
    sets.get(2);
    const third = sets.get(3);
    expect(third).toEqual({ n: 3 });
    expect(Object.isFrozen(third)).toBe(false);
    expect(sets.get(3)).not.toBe(third);
    expect(sets.get(1)).toBe(sets.get(1));
  });
});

describe('the bundle’s patch of the metrics SDK (scripts/sdk-patch.mjs)', async () => {
  // The installed SDK's own source, patched the way the bundle patches it, then loaded.
  const require = createRequire(import.meta.url);
  const utils = path.join(path.dirname(require.resolve('@opentelemetry/sdk-metrics')), 'utils.mjs');
  const patched = patchHashAttributes(await readFile(utils, 'utf8'));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pperf-sdk-patch-'));
  await writeFile(path.join(dir, 'utils.mjs'), (patched ?? '').replace(/\/\/# sourceMappingURL=.*$/m, ''));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const original = await import(pathToFileURL(utils).href);

  it('applies to the installed SDK version', () => {
    expect(patched).toBeTypeOf('string');
  });

  it('each patch finds its source exactly once in the installed SDK (the build fails otherwise)', async () => {
    const dist = path.dirname(require.resolve('@opentelemetry/sdk-metrics'));
    const files = { 'frozen attribute hashes': 'utils.mjs', 'no clock read per measurement': 'Instruments.mjs', 'clock read when a series starts': 'state/DeltaMetricProcessor.mjs' };
    expect(SDK_PATCHES.map((p: { name: string }) => p.name).sort()).toEqual(Object.keys(files).sort());
    for (const [name, file] of Object.entries(files)) {
      const result = patchSdkFile(path.join(dist, file), await readFile(path.join(dist, file), 'utf8'));
      expect(result?.applied, name).toEqual([name]);
      expect(result?.contents.includes(SDK_PATCHES.find((p: { name: string }) => p.name === name)!.replace), name).toBe(true);
    }
    // A file no patch names is left alone, and a source without the text is not patched.
    expect(patchSdkFile(path.join(dist, 'Meter.mjs'), 'anything')).toBeUndefined();
    expect(patchSdkFile(path.join(dist, 'Instruments.mjs'), 'no such text')).toBeUndefined();
  });

  it('hashes as the SDK does, and a frozen object’s attributes are read once', async () => {
    const { hashAttributes } = await import(pathToFileURL(path.join(dir, 'utils.mjs')).href);
    const plain = { b: 2, a: 'x' };
    expect(hashAttributes(plain)).toBe(original.hashAttributes(plain));
    let reads = 0;
    const frozen = Object.freeze(Object.defineProperty({ a: 1 }, 'b', { enumerable: true, get: () => ++reads }));
    const first = hashAttributes(frozen);
    expect(hashAttributes(frozen)).toBe(first);
    expect(reads).toBe(1);
    // A plain object may change between measurements: it is hashed every time.
    plain.a = 'y';
    expect(hashAttributes(plain)).toBe(original.hashAttributes({ a: 'y', b: 2 }));
  });
});
