import { describe, expect, it } from 'vitest';
import { builtinPlugins } from '../../src/builtin.js';
import { optionsMarkdown } from '../../src/docs.js';
import { autoProfile, checkCustomProfiles, customProfileSchema, customProfilesSchema, namedProfiles, resolveProfile, type MachineFacts } from '../../src/profiles.js';

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

describe('profile figures', () => {
  it('sizes auto for a 512 MB container like container-512m', () => {
    const auto = autoProfile({ constrainedMemory: 512 * 2 ** 20, totalMemory: 24 * 2 ** 30, cpus: 1 });
    expect(auto).toMatchObject({ constrained: true, maxOldSpaceMb: 256, maxSemiSpaceMb: 4, intent: 'safe' });
  });

  it('auto knows no connections figure (issue 12): the host keeps its own pools; named profiles say theirs', () => {
    const auto = autoProfile({ constrainedMemory: 512 * 2 ** 20, totalMemory: 24 * 2 ** 30, cpus: 1 });
    expect(auto.connections).toBeUndefined();
    expect(resolveProfile('container-512m')).toMatchObject({ connections: 3, intent: 'tuned' });
    const custom = resolveProfile('my-box', undefined, { 'my-box': { extends: 'auto', connections: 4 } });
    expect(custom).toMatchObject({ connections: 4, intent: 'safe' });
  });

  it('carries machine figures only: no plugin option in any profile', () => {
    const figures = ['name', 'memoryBytes', 'cpus', 'constrained', 'connections', 'intent', 'maxOldSpaceMb', 'maxSemiSpaceMb', 'uvThreadpoolSize'];
    for (const name of ['auto', ...Object.keys(namedProfiles)]) {
      expect(Object.keys(resolveProfile(name)!).filter((k) => !figures.includes(k))).toEqual([]);
    }
  });

  it('sizes auto for an unlimited 4 GB, 2-core laptop: a quarter of memory for the heap', () => {
    const auto = autoProfile({ constrainedMemory: undefined, totalMemory: 4 * 2 ** 30, cpus: 2 });
    expect(auto).toMatchObject({ constrained: false, maxOldSpaceMb: 1024, uvThreadpoolSize: 2 });
  });

  it('resolves a custom profile on top of the one it extends', () => {
    const custom = { 'my-box': { extends: 'laptop-4g', connections: 7 } };
    expect(resolveProfile('my-box', undefined, custom)).toMatchObject({ name: 'my-box', connections: 7, maxOldSpaceMb: 512, intent: 'tuned' });
  });

  it('re-derives the heap and libuv figures of a custom machine, unless the profile sets them', () => {
    const custom = {
      small: { extends: 'server-16g' as const, memoryBytes: 1024 * MiB, cpus: 1, constrained: true },
      pinned: { extends: 'server-16g' as const, memoryBytes: 1024 * MiB, maxOldSpaceMb: 300 },
    };
    expect(resolveProfile('small', undefined, custom)).toMatchObject({ maxOldSpaceMb: 512, maxSemiSpaceMb: 8, uvThreadpoolSize: 2, connections: 17 });
    expect(resolveProfile('pinned', undefined, custom)).toMatchObject({ maxOldSpaceMb: 300, maxSemiSpaceMb: 8, uvThreadpoolSize: 8 });
  });

  it('reports every problem of custom profiles with its path, and where a former plugin value went', () => {
    const problems = checkCustomProfiles({ a: { extends: 'nope', connections: -1, colour: 3 }, b: { intent: 'fast', constrained: 1 }, c: { pgPoolMax: 4, cacheL1Bytes: 1 } });
    expect(problems).toHaveLength(7);
    const text = problems.join('\n');
    expect(text).toMatch(/profiles\.a\.extends: expected one of "auto", "container-512m"/);
    expect(text).toMatch(/profiles\.a\.connections: must be ≥ 0/);
    expect(text).toMatch(/profiles\.a\.colour: unknown option "colour" \(known: extends, memoryBytes/);
    expect(text).toMatch(/profiles\.b\.intent: expected one of "safe", "tuned"/);
    expect(text).toMatch(/profiles\.b\.constrained: expected true or false/);
    expect(text).toMatch(/profiles\.c\.pgPoolMax: .*`pg-pool\.max`/);
    expect(text).toMatch(/profiles\.c\.cacheL1Bytes: .*`cache\.l1Bytes`/);
    expect(checkCustomProfiles(undefined)).toEqual([]);
    expect(checkCustomProfiles([])).toEqual([expect.stringMatching(/^profiles: expected an object of named entries/)]);
    expect(checkCustomProfiles({ a: 3 })).toEqual(['profiles.a: expected an object']);
  });

  it('are checked by one schema, which also gives their rows in the options table', () => {
    expect(Object.keys(customProfileSchema.fields).sort()).toEqual(['connections', 'constrained', 'cpus', 'extends', 'intent', 'maxOldSpaceMb', 'maxSemiSpaceMb', 'memoryBytes', 'uvThreadpoolSize']);
    // Every figure of a profile is a field, so a new figure cannot be left out of the check.
    expect(Object.keys(customProfileSchema.fields).filter((k) => k !== 'extends').sort()).toEqual(Object.keys(namedProfiles['server-16g']!).sort());
    expect(customProfilesSchema.check({ big: { extends: 'server-16g', cpus: 4 } }, ['profiles'], [])).toEqual({ big: { extends: 'server-16g', cpus: 4 } });
    expect(optionsMarkdown(builtinPlugins)).toContain('| `profiles.<name>.memoryBytes` |');
  });
});
