import { describe, expect, it } from 'vitest';
import { autoProfile, namedProfiles, resolveProfile, type MachineFacts } from '../../src/profiles.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('autoProfile', () => {
  it('uses a cgroup limit below total memory, and says it is constrained', () => {
    expect(autoProfile({ constrainedMemory: 512 * MiB, totalMemory: 16 * GiB, cpus: 2 })).toEqual({
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
    expect(autoProfile({ constrainedMemory: limit, totalMemory: 16 * GiB, cpus: 8 })).toEqual({
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
    expect(resolveProfile('container-512m', machine)).toEqual({ name: 'container-512m', memoryBytes: 512 * MiB, cpus: 1, constrained: true });
    expect(resolveProfile('server-16g', machine)).toEqual({ name: 'server-16g', ...namedProfiles['server-16g'] });
  });

  it.each([['auto'], [undefined], ['']])('derives the profile from the machine for %j', (name) => {
    expect(resolveProfile(name, machine)).toEqual({ name: 'auto', memoryBytes: 256 * MiB, cpus: 3, constrained: true });
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
