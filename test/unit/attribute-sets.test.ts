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
    const files = { 'frozen attribute hashes': 'utils.mjs', 'no clock read per measurement': 'Instruments.mjs' };
    const delta = ['last series: the import', 'last series: the fields', 'last series: the measurement', 'last series: forgotten when series are merged in', 'clock read when a series starts'];
    expect(SDK_PATCHES.map((p: { name: string }) => p.name).sort()).toEqual([...Object.keys(files), ...delta].sort());
    const replaced = (name: string) => SDK_PATCHES.find((p: { name: string }) => p.name === name)!.replace;
    for (const [name, file] of Object.entries(files)) {
      const result = patchSdkFile(path.join(dist, file), await readFile(path.join(dist, file), 'utf8'));
      expect(result?.applied, name).toEqual([name]);
      expect(result?.contents.includes(replaced(name)), name).toBe(true);
    }
    const processor = path.join(dist, 'state', 'DeltaMetricProcessor.mjs');
    const result = patchSdkFile(processor, await readFile(processor, 'utf8'));
    expect(result?.applied.sort()).toEqual([...delta].sort());
    for (const name of delta) expect(result?.contents.includes(replaced(name)), name).toBe(true);
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

describe('the patched metrics SDK, loaded whole', async () => {
  // A copy of the installed SDK with every patch applied, beside the real one so its own imports resolve.
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@opentelemetry/sdk-metrics'));
  const copy = await mkdtemp(path.join(path.dirname(path.dirname(dist)), '.pperf-sdk-patched-'));
  const { cp, readdir } = await import('node:fs/promises');
  await cp(path.dirname(dist), copy, { recursive: true });
  for (const entry of await readdir(path.join(copy, 'dist'), { recursive: true })) {
    const file = path.join(copy, 'dist', entry);
    if (!file.endsWith('.mjs')) continue;
    const result = patchSdkFile(file, await readFile(file, 'utf8'));
    if (result) await writeFile(file, result.contents);
  }
  afterAll(() => rm(copy, { recursive: true, force: true }));
  type Sdk = typeof import('@opentelemetry/sdk-metrics');
  const patchedSdk: Sdk = await import(pathToFileURL(path.join(copy, 'dist', 'index.mjs')).href);
  const originalSdk: Sdk = await import(pathToFileURL(path.join(dist, 'index.mjs')).href);

  /** The same measurements through one SDK, collected as deltas twice: what each collection holds, per series. */
  async function scenario(sdk: Sdk): Promise<unknown[]> {
    class Reader extends sdk.MetricReader {
      constructor() {
        super({ aggregationTemporalitySelector: () => sdk.AggregationTemporality.DELTA });
      }
      protected override onForceFlush = async () => {};
      protected override onShutdown = async () => {};
    }
    const reader = new Reader();
    const provider = new sdk.MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('t');
    const histogram = meter.createHistogram('h', { advice: { explicitBucketBoundaries: [1, 10] } });
    const counter = meter.createCounter('c');
    const one = Object.freeze({ pool: 'one' });
    const two = Object.freeze({ pool: 'two' });
    const mutable: Record<string, string> = { pool: 'one' };
    const seen = async () => {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((s) =>
        s.metrics.map((m) => ({ name: m.descriptor.name, points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })).sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))) })),
      );
    };
    for (const v of [0.5, 2, 3]) histogram.record(v, one);
    histogram.record(20, two);
    histogram.record(4, one);
    counter.add(1, one);
    counter.add(2, one);
    // The same mutable object, changed between measurements: two series, as the SDK makes them.
    counter.add(5, mutable);
    mutable.pool = 'three';
    counter.add(7, mutable);
    const first = await seen();
    // After a collection the last series is a new one: nothing goes into the collected interval.
    histogram.record(6, one);
    counter.add(1, one);
    const second = await seen();
    await provider.shutdown();
    return [first, second];
  }

  it('measures exactly as the unpatched SDK, across collections, frozen and mutable attribute objects', async () => {
    expect(await readFile(path.join(copy, 'dist', 'state', 'DeltaMetricProcessor.mjs'), 'utf8')).toContain('this.__pperfLastAccumulation.record(value)');
    const expected = await scenario(originalSdk);
    expect(await scenario(patchedSdk)).toEqual(expected);
    // And what that is, so the comparison cannot pass on two empty results.
    const [first, second] = expected as { name: string; points: { attributes: unknown; value: unknown }[] }[][];
    const h1 = first!.find((m) => m.name === 'h')!.points;
    expect(h1.map((p) => [p.attributes, (p.value as { count: number }).count, (p.value as { sum: number }).sum])).toEqual([
      [{ pool: 'one' }, 4, 9.5],
      [{ pool: 'two' }, 1, 20],
    ]);
    expect(first!.find((m) => m.name === 'c')!.points.map((p) => [p.attributes, p.value])).toEqual([
      [{ pool: 'one' }, 8],
      [{ pool: 'three' }, 7],
    ]);
    expect(second!.find((m) => m.name === 'h')!.points.map((p) => (p.value as { count: number }).count)).toEqual([1]);
    expect(second!.find((m) => m.name === 'c')!.points.map((p) => p.value)).toEqual([1]);
  });
});
