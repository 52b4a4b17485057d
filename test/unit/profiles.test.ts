import { describe, expect, it } from 'vitest';
import { autoProfile, checkCustomProfiles, namedProfiles, resolveProfile, type MachineFacts } from '../../src/profiles.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('autoProfile', () => {
  it('uses a cgroup limit below total memory, and says it is constrained', () => {
    expect(autoProfile({ constrainedMemory: 512 * MiB, totalMemory: 16 * GiB, cpus: 2 })).toMatchObject({
      name: 'auto',
      memoryBytes: 512 * MiB,
      cpus: 2,
      constrained: true,
    });
  });

  it.each([
    ['equal to total memory', 16 * GiB],
    ['above total memory (cgroup v1 reports ~2^63)', 2 ** 63],
    ['absent', undefined],
    ['zero', 0],
  ])('uses total memory when the limit is %s', (_label, limit) => {
    expect(autoProfile({ constrainedMemory: limit, totalMemory: 16 * GiB, cpus: 8 })).toMatchObject({
      name: 'auto',
      memoryBytes: 16 * GiB,
      cpus: 8,
      constrained: false,
    });
  });

  it('never reports fewer than one CPU', () => {
    expect(autoProfile({ constrainedMemory: undefined, totalMemory: GiB, cpus: 0 }).cpus).toBe(1);
  });

  it('reads the real machine when given no facts', () => {
    const profile = autoProfile();
    expect(profile.name).toBe('auto');
    expect(profile.memoryBytes).toBeGreaterThan(0);
    expect(profile.cpus).toBeGreaterThanOrEqual(1);
  });
});

describe('resolveProfile', () => {
  const machine: MachineFacts = { constrainedMemory: 256 * MiB, totalMemory: 8 * GiB, cpus: 3 };

  it('returns a named profile with its figures, whatever the machine', () => {
    expect(resolveProfile('container-512m', machine)).toMatchObject({ name: 'container-512m', memoryBytes: 512 * MiB, cpus: 1, constrained: true });
    expect(resolveProfile('server-16g', machine)).toMatchObject({ name: 'server-16g', ...namedProfiles['server-16g'] });
  });

  it.each([['auto'], [undefined], ['']])('derives the profile from the machine for %j', (name) => {
    expect(resolveProfile(name, machine)).toMatchObject({ name: 'auto', memoryBytes: 256 * MiB, cpus: 3, constrained: true });
  });

  it('returns undefined for an unknown name', () => {
    expect(resolveProfile('laptop-8g', machine)).toBeUndefined();
    expect(resolveProfile('AUTO', machine)).toBeUndefined();
  });

  // Regression: names inherited from Object.prototype are not profiles.
  it('returns undefined for names inherited from Object.prototype (constructor, toString)', () => {
    expect(resolveProfile('constructor', machine)).toBeUndefined();
    expect(resolveProfile('toString', machine)).toBeUndefined();
  });
});

describe('profile values', () => {
  it('sizes auto for a 512 MB container like container-512m', () => {
    const auto = autoProfile({ constrainedMemory: 512 * 2 ** 20, totalMemory: 24 * 2 ** 30, cpus: 1 });
    expect(auto).toMatchObject({ constrained: true, maxOldSpaceMb: 256, maxSemiSpaceMb: 4, hardHeapRatio: 0.85 });
  });

  it('auto carries no pg pool values (issue 12): the host keeps its own pool; named profiles keep theirs', () => {
    const auto = autoProfile({ constrainedMemory: 512 * 2 ** 20, totalMemory: 24 * 2 ** 30, cpus: 1 });
    expect(Object.keys(auto).filter((k) => k.startsWith('pg'))).toEqual([]);
    expect(resolveProfile('container-512m')).toMatchObject({ pgPoolMax: 3, pgConnectionTimeoutMs: 5000, pgStatementTimeoutMs: 30_000 });
    const custom = resolveProfile('my-box', undefined, { 'my-box': { extends: 'auto', pgPoolMax: 4 } });
    expect(custom?.pgPoolMax).toBe(4);
    expect(custom?.pgStatementTimeoutMs).toBeUndefined();
  });

  it('sizes auto for an unlimited 4 GB, 2-core laptop: a quarter of memory for the heap', () => {
    const auto = autoProfile({ constrainedMemory: undefined, totalMemory: 4 * 2 ** 30, cpus: 2 });
    expect(auto).toMatchObject({ constrained: false, maxOldSpaceMb: 1024, uvThreadpoolSize: 2 });
  });

  it('resolves a custom profile on top of the one it extends', () => {
    const custom = { 'my-box': { extends: 'laptop-4g', pgPoolMax: 7 } };
    expect(resolveProfile('my-box', undefined, custom)).toMatchObject({ name: 'my-box', pgPoolMax: 7, maxOldSpaceMb: 512 });
  });

  it('reports every problem of custom profiles with its path', () => {
    const problems = checkCustomProfiles({ a: { extends: 'nope', pgPoolMax: -1, colour: 3 }, b: { hardHeapRatio: 2 } });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/profiles\.a\.extends/);
    expect(problems.join('\n')).toMatch(/profiles\.a\.pgPoolMax/);
    expect(problems.join('\n')).toMatch(/profiles\.a\.colour/);
    expect(problems.join('\n')).toMatch(/profiles\.b\.hardHeapRatio/);
    expect(checkCustomProfiles(undefined)).toEqual([]);
  });
});
