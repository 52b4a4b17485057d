import os from 'node:os';

/**
 * Profiles give every plugin machine-sized defaults. This is the plumbing: a name selects one,
 * `auto` derives its figures from the machine. The heap-budget work fills in the per-profile values.
 */
export interface Profile {
  name: string;
  /** Memory the process may use, in bytes: the cgroup limit when there is one, else total memory. */
  memoryBytes: number;
  /** CPUs the process may use (`os.availableParallelism()`). */
  cpus: number;
  /** True when `memoryBytes` comes from a cgroup limit (a container). */
  constrained: boolean;
}

export interface MachineFacts {
  constrainedMemory: number | undefined;
  totalMemory: number;
  cpus: number;
}

export function readMachine(): MachineFacts {
  return {
    // undefined or 0 means no limit; some kernels report a huge number instead, handled in `auto`.
    constrainedMemory: process.constrainedMemory?.() || undefined,
    totalMemory: os.totalmem(),
    cpus: os.availableParallelism(),
  };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Named profiles: the machine each one is written for. */
export const namedProfiles: Record<string, Omit<Profile, 'name'>> = {
  'container-512m': { memoryBytes: 512 * MiB, cpus: 1, constrained: true },
  'laptop-4g': { memoryBytes: 4 * GiB, cpus: 2, constrained: false },
  'server-16g': { memoryBytes: 16 * GiB, cpus: 8, constrained: false },
};

export function autoProfile(machine: MachineFacts = readMachine()): Profile {
  // A cgroup limit at or above physical memory is no limit at all (cgroup v1 reports ~2^63).
  const limit = machine.constrainedMemory;
  const constrained = limit !== undefined && limit > 0 && limit < machine.totalMemory;
  return {
    name: 'auto',
    memoryBytes: constrained ? limit : machine.totalMemory,
    cpus: Math.max(1, machine.cpus),
    constrained,
  };
}

export function profileNames(extra: Record<string, unknown> = {}): string[] {
  return ['auto', ...Object.keys(namedProfiles), ...Object.keys(extra)];
}

/** Returns the profile, or undefined for an unknown name (the caller warns and falls back to `auto`). */
export function resolveProfile(name: string | undefined, machine?: MachineFacts): Profile | undefined {
  if (name === undefined || name === '' || name === 'auto') return autoProfile(machine);
  const named = Object.hasOwn(namedProfiles, name) ? namedProfiles[name] : undefined;
  return named ? { name, ...named } : undefined;
}
