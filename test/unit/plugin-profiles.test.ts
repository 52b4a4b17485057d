import { describe, expect, it } from 'vitest';
import { resolveProfile, type MachineFacts } from '../../src/profiles.js';
import { poolProfileDefaults } from '../../plugins/pg-pool/profile.js';
import { cacheProfileDefaults } from '../../plugins/cache/profile.js';
import { objectPoolProfileDefaults } from '../../plugins/object-pool/profile.js';
import { heapBudgetProfileDefaults } from '../../plugins/heap-budget/profile.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const tunedPool = { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000, maxLifetimeSeconds: 1800 };

// The defaults each plugin drew from the profiles before profiles became machine figures (docs/profiles.md's table).
describe('each plugin turns the named profiles into the defaults of docs/profiles.md', () => {
  it.each([
    ['container-512m', { max: 3, min: 0 }, 16 * MiB, 2, { softHeapRatio: 0.7, hardHeapRatio: 0.85, maxRssBytes: Math.round(512 * MiB * 0.9) }],
    ['laptop-4g', { max: 5, min: 0 }, 64 * MiB, 4, { softHeapRatio: 0.75, hardHeapRatio: 0.9, maxRssBytes: 0 }],
    ['server-16g', { max: 17, min: 2 }, 512 * MiB, 16, { softHeapRatio: 0.75, hardHeapRatio: 0.9, maxRssBytes: 0 }],
  ])('%s', (name, pool, l1Bytes, objectPoolMax, heap) => {
    const profile = resolveProfile(name)!;
    expect(poolProfileDefaults(profile)).toEqual({ ...pool, ...tunedPool });
    expect(cacheProfileDefaults(profile)).toEqual({ l1Bytes });
    expect(objectPoolProfileDefaults(profile)).toEqual({ max: objectPoolMax });
    expect(heapBudgetProfileDefaults(profile)).toEqual({ ...heap, maxEventLoopDelayMs: 0 });
  });
});

describe('auto on a machine', () => {
  const container: MachineFacts = { constrainedMemory: 512 * MiB, totalMemory: 24 * GiB, cpus: 1 };
  const server: MachineFacts = { constrainedMemory: undefined, totalMemory: 64 * GiB, cpus: 32 };

  it('sets no pool value at all: the app’s pools keep their sizes and pg’s semantics', () => {
    expect(poolProfileDefaults(resolveProfile('auto', container)!)).toEqual({});
    expect(poolProfileDefaults(resolveProfile('auto', server)!)).toEqual({});
  });

  it('sizes the cache at an eighth of the old space and object pools at one per CPU, bounded', () => {
    expect(cacheProfileDefaults(resolveProfile('auto', container)!)).toEqual({ l1Bytes: 32 * MiB });
    expect(cacheProfileDefaults(resolveProfile('auto', server)!)).toEqual({ l1Bytes: 512 * MiB });
    expect(objectPoolProfileDefaults(resolveProfile('auto', container)!)).toEqual({ max: 1 });
    expect(objectPoolProfileDefaults(resolveProfile('auto', server)!)).toEqual({ max: 16 });
  });

  it('sheds earlier in a container, whose limit also counts native memory', () => {
    expect(heapBudgetProfileDefaults(resolveProfile('auto', container)!)).toMatchObject({ softHeapRatio: 0.7, hardHeapRatio: 0.85, maxRssBytes: Math.round(512 * MiB * 0.9) });
    expect(heapBudgetProfileDefaults(resolveProfile('auto', server)!)).toMatchObject({ softHeapRatio: 0.75, hardHeapRatio: 0.9, maxRssBytes: 0 });
  });
});

describe('a custom profile says figures, and the plugins follow them', () => {
  it('connections size the pool; intent tuned adds the timeouts; a safe profile adds none', () => {
    const custom = { db: { extends: 'auto' as const, connections: 12 }, prod: { extends: 'auto' as const, intent: 'tuned' as const } };
    expect(poolProfileDefaults(resolveProfile('db', undefined, custom)!)).toEqual({ max: 12, min: 1 });
    expect(poolProfileDefaults(resolveProfile('prod', undefined, custom)!)).toEqual(tunedPool);
  });
});
