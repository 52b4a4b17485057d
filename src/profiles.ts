import os from 'node:os';

/**
 * Profiles give every plugin machine-sized defaults. A name selects one (`PLANDEX_PERF_PROFILE`, the
 * config's `profile`); `auto` derives one from the machine. docs/profiles.md explains each figure.
 */
export interface ProfileValues {
  /** `--max-old-space-size` in MiB: V8's old generation, most of the heap. */
  maxOldSpaceMb: number;
  /** `--max-semi-space-size` in MiB: each of the young generation's semi-spaces. */
  maxSemiSpaceMb: number;
  /** `UV_THREADPOOL_SIZE`: libuv's pool for fs, dns.lookup, crypto and zlib work. */
  uvThreadpoolSize: number;
  /**
   * pg pool tuning. Optional: `auto` (what everyone gets) sets none of them, so the host's pools keep
   * pg's defaults and the app's own settings; a named or custom profile opts in to the values it names.
   * Pool size and floor (HikariCP: about 2 × cores + 1).
   */
  pgPoolMax?: number;
  pgPoolMin?: number;
  /** How long an acquirer waits for a pg connection before a clear error (node-postgres waits forever by default). */
  pgConnectionTimeoutMs?: number;
  pgIdleTimeoutMs?: number;
  pgStatementTimeoutMs?: number;
  pgIdleInTransactionTimeoutMs?: number;
  /** Rotate connections older than this (HikariCP `maxLifetime`). */
  pgMaxLifetimeSeconds?: number;
  /** In-process (L1) cache budget, bytes. */
  cacheL1Bytes: number;
  /** Upper bound of each generic-pool object pool. */
  objectPoolMax: number;
  /** Heap used / heap limit at which caches and idle pools are shrunk. */
  softHeapRatio: number;
  /** Heap used / heap limit at which new requests are shed with 503. */
  hardHeapRatio: number;
  /** Event-loop delay (p99 over the last sample interval) at which requests are shed; 0 = never on delay. */
  maxEventLoopDelayMs: number;
}

export interface Profile extends ProfileValues {
  name: string;
  /** Memory the process may use, in bytes: the cgroup limit when there is one, else total memory. */
  memoryBytes: number;
  /** CPUs the process may use. */
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

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** Shared by every profile unless it says otherwise. */
const common = {
  softHeapRatio: 0.75,
  hardHeapRatio: 0.9,
  maxEventLoopDelayMs: 0,
} satisfies Partial<ProfileValues>;

/**
 * The pool tuning of the named profiles: they change query semantics (timeouts, rotation, pool size),
 * which is why only a profile chosen by name carries them, never `auto`.
 */
const tunedPool = {
  pgConnectionTimeoutMs: 5_000,
  pgIdleTimeoutMs: 30_000,
  pgStatementTimeoutMs: 30_000,
  pgIdleInTransactionTimeoutMs: 60_000,
  pgMaxLifetimeSeconds: 1800,
} satisfies Partial<ProfileValues>;

/** Named profiles: the machine each is written for, then the values. */
export const namedProfiles: Record<string, Omit<Profile, 'name'>> = {
  // A 512 MB container, 1 CPU: heap at half the limit leaves room for buffers, code and native memory.
  'container-512m': {
    memoryBytes: 512 * MiB, cpus: 1, constrained: true,
    ...common, ...tunedPool,
    maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2,
    pgPoolMax: 3, pgPoolMin: 0, cacheL1Bytes: 16 * MiB, objectPoolMax: 2,
    softHeapRatio: 0.7, hardHeapRatio: 0.85,
  },
  // The background document's 2012 MacBook: 2 cores, 4 GB shared with an editor and a browser.
  'laptop-4g': {
    memoryBytes: 4 * GiB, cpus: 2, constrained: false,
    ...common, ...tunedPool,
    maxOldSpaceMb: 512, maxSemiSpaceMb: 8, uvThreadpoolSize: 4,
    pgPoolMax: 5, pgPoolMin: 0, cacheL1Bytes: 64 * MiB, objectPoolMax: 4,
  },
  // A 16 GB, 8-core server that runs this one service.
  'server-16g': {
    memoryBytes: 16 * GiB, cpus: 8, constrained: false,
    ...common, ...tunedPool,
    maxOldSpaceMb: 4096, maxSemiSpaceMb: 32, uvThreadpoolSize: 8,
    pgPoolMax: 17, pgPoolMin: 2, cacheL1Bytes: 512 * MiB, objectPoolMax: 16,
  },
};

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * Values derived from the machine: the named profiles' reasoning, applied to what this machine has.
 * No pg pool values: a pool sized from the app's CPUs (3 on one CPU) failed bursts that pg's 10 served
 * slowly, and added timeouts cancelled queries that work bare (issue 12). `auto` leaves pools as the app has them.
 */
export function deriveValues(memoryBytes: number, cpus: number, constrained: boolean): ProfileValues {
  const memoryMb = memoryBytes / MiB;
  // In a container the process owns its limit: half for the heap. On a shared machine: a quarter, at most 4 GiB.
  const maxOldSpaceMb = Math.round(constrained ? clamp(memoryMb * 0.5, 64, 8192) : clamp(memoryMb * 0.25, 128, 4096));
  return {
    ...common,
    maxOldSpaceMb,
    maxSemiSpaceMb: maxOldSpaceMb <= 256 ? 4 : maxOldSpaceMb <= 1024 ? 8 : maxOldSpaceMb <= 2048 ? 16 : 32,
    uvThreadpoolSize: clamp(cpus, 2, 16),
    cacheL1Bytes: Math.round(clamp(maxOldSpaceMb * 0.125, 8, 1024)) * MiB,
    objectPoolMax: clamp(cpus, 1, 16),
    ...(constrained ? { softHeapRatio: 0.7, hardHeapRatio: 0.85 } : {}),
  };
}

export function autoProfile(machine: MachineFacts = readMachine()): Profile {
  // A cgroup limit at or above physical memory is no limit at all (cgroup v1 reports ~2^63).
  const limit = machine.constrainedMemory;
  const constrained = limit !== undefined && limit > 0 && limit < machine.totalMemory;
  const memoryBytes = constrained ? limit : machine.totalMemory;
  const cpus = Math.max(1, machine.cpus);
  return { name: 'auto', memoryBytes, cpus, constrained, ...deriveValues(memoryBytes, cpus, constrained) };
}

/** A profile from the config file: `{ extends?: name, ...values }`. */
export type CustomProfiles = Record<string, Partial<ProfileValues> & { extends?: string }>;

export function profileNames(custom: CustomProfiles = {}): string[] {
  return ['auto', ...Object.keys(namedProfiles), ...Object.keys(custom)];
}

const valueKeys = Object.keys(namedProfiles['laptop-4g']!).filter((k) => !['memoryBytes', 'cpus', 'constrained'].includes(k));

/** Checks a custom profile's values; returns problems as `profiles.<name>.<field>: message`. */
export function checkCustomProfiles(custom: unknown): string[] {
  if (custom === undefined) return [];
  if (custom === null || typeof custom !== 'object' || Array.isArray(custom)) return ['profiles: must be an object of named profiles'];
  const problems: string[] = [];
  for (const [name, values] of Object.entries(custom)) {
    if (values === null || typeof values !== 'object') {
      problems.push(`profiles.${name}: must be an object`);
      continue;
    }
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (key === 'extends') {
        if (typeof value !== 'string' || !(value === 'auto' || Object.hasOwn(namedProfiles, value))) problems.push(`profiles.${name}.extends: must name a built-in profile (${['auto', ...Object.keys(namedProfiles)].join(', ')})`);
      } else if (!valueKeys.includes(key)) {
        problems.push(`profiles.${name}.${key}: unknown profile value (known: ${valueKeys.join(', ')})`);
      } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        problems.push(`profiles.${name}.${key}: must be a number ≥ 0`);
      } else if (key.endsWith('Ratio') && value > 1) {
        problems.push(`profiles.${name}.${key}: must be between 0 and 1`);
      }
    }
  }
  return problems;
}

/** Returns the profile, or undefined for an unknown name (the caller warns and falls back to `auto`). */
export function resolveProfile(name: string | undefined, machine?: MachineFacts, custom: CustomProfiles = {}): Profile | undefined {
  if (name === undefined || name === '' || name === 'auto') return autoProfile(machine);
  if (Object.hasOwn(custom, name)) {
    const { extends: parent = 'auto', ...values } = custom[name]!;
    const base = parent === name ? undefined : resolveProfile(parent, machine);
    return base ? { ...base, ...values, name } : undefined;
  }
  const named = Object.hasOwn(namedProfiles, name) ? namedProfiles[name] : undefined;
  return named ? { name, ...named } : undefined;
}
