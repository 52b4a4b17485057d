import os from 'node:os';

/**
 * A profile describes the machine a process runs on, in figures every plugin can read; each plugin turns
 * them into its own defaults (`profileDefaults` in its `profile.ts`). The core knows no plugin's options.
 * A name selects one (`PLANDEX_PERF_PROFILE`, the config's `profile`); `auto` reads this machine.
 * docs/profiles.md explains each figure.
 */
export interface ProfileFigures {
  /** Memory the process may use, in bytes: the cgroup limit when there is one, else total memory. */
  memoryBytes: number;
  /** CPUs the process may use. */
  cpus: number;
  /** True when `memoryBytes` is a limit the process owns (a container's cgroup), not a shared machine's total. */
  constrained: boolean;
  /**
   * Database connections this process may hold (its share of the server's `max_connections`). Undefined:
   * not known, and pools stay as the app sized them (`auto`: the database's cores are not this machine's).
   */
  connections?: number;
  /**
   * What the profile may change. `safe` (`auto`): only sizes and bounds, never what a working app sees
   * (no query timeouts, no connection rotation). `tuned` (a named profile someone chose): also the
   * semantics a production service wants (statement and idle timeouts, rotation, tighter caches).
   */
  intent: ProfileIntent;
  /** `--max-old-space-size` in MiB: V8's old generation, most of the heap (applied by `env` and `run`). */
  maxOldSpaceMb: number;
  /** `--max-semi-space-size` in MiB: each of the young generation's semi-spaces. */
  maxSemiSpaceMb: number;
  /** `UV_THREADPOOL_SIZE`: libuv's pool for fs, dns.lookup, crypto and zlib work. */
  uvThreadpoolSize: number;
}

export type ProfileIntent = 'safe' | 'tuned';
export const INTENTS: readonly ProfileIntent[] = ['safe', 'tuned'];

export interface Profile extends ProfileFigures {
  name: string;
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

/**
 * Named profiles: the machine each is written for. All are `tuned` (someone chose them), and each says
 * how many database connections it may hold: HikariCP's cores × 2 + 1, here the app's cores.
 */
export const namedProfiles: Record<string, ProfileFigures> = {
  // A 512 MB container, 1 CPU: heap at half the limit leaves room for buffers, code and native memory.
  'container-512m': {
    memoryBytes: 512 * MiB, cpus: 1, constrained: true, connections: 3, intent: 'tuned',
    maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2,
  },
  // A 2012 MacBook: 2 cores, 4 GB shared with an editor and a browser.
  'laptop-4g': {
    memoryBytes: 4 * GiB, cpus: 2, constrained: false, connections: 5, intent: 'tuned',
    maxOldSpaceMb: 512, maxSemiSpaceMb: 8, uvThreadpoolSize: 4,
  },
  // A 16 GB, 8-core server that runs this one service.
  'server-16g': {
    memoryBytes: 16 * GiB, cpus: 8, constrained: false, connections: 17, intent: 'tuned',
    maxOldSpaceMb: 4096, maxSemiSpaceMb: 32, uvThreadpoolSize: 8,
  },
};

export const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** The process figures (heap flags, libuv's pool) for a machine: the named profiles' reasoning, applied to it. */
export function deriveProcessFigures(memoryBytes: number, cpus: number, constrained: boolean): Pick<ProfileFigures, 'maxOldSpaceMb' | 'maxSemiSpaceMb' | 'uvThreadpoolSize'> {
  const memoryMb = memoryBytes / MiB;
  // In a container the process owns its limit: half for the heap. On a shared machine: a quarter, at most 4 GiB.
  const maxOldSpaceMb = Math.round(constrained ? clamp(memoryMb * 0.5, 64, 8192) : clamp(memoryMb * 0.25, 128, 4096));
  return { maxOldSpaceMb, maxSemiSpaceMb: semiSpaceFor(maxOldSpaceMb), uvThreadpoolSize: clamp(cpus, 2, 16) };
}

/** Semi-spaces grow with the old space: 4 MiB up to a 256 MiB heap, … 32 MiB above 2 GiB. */
const semiSpaceFor = (maxOldSpaceMb: number) => (maxOldSpaceMb <= 256 ? 4 : maxOldSpaceMb <= 1024 ? 8 : maxOldSpaceMb <= 2048 ? 16 : 32);

/**
 * This machine's figures. No connections figure: a pool sized from the app's CPUs (3 on one CPU) failed
 * bursts that pg's 10 served slowly (issue 12), so `auto` leaves pools as the app has them; and `safe`.
 */
export function autoProfile(machine: MachineFacts = readMachine()): Profile {
  // A cgroup limit at or above physical memory is no limit at all (cgroup v1 reports ~2^63).
  const limit = machine.constrainedMemory;
  const constrained = limit !== undefined && limit > 0 && limit < machine.totalMemory;
  const memoryBytes = constrained ? limit : machine.totalMemory;
  const cpus = Math.max(1, machine.cpus);
  return { name: 'auto', memoryBytes, cpus, constrained, intent: 'safe', ...deriveProcessFigures(memoryBytes, cpus, constrained) };
}

/** A profile from the config file: `{ extends?: name, ...figures }`. */
export type CustomProfiles = Record<string, Partial<ProfileFigures> & { extends?: string }>;

export function profileNames(custom: CustomProfiles = {}): string[] {
  return ['auto', ...Object.keys(namedProfiles), ...Object.keys(custom)];
}

const numberKeys = ['memoryBytes', 'cpus', 'connections', 'maxOldSpaceMb', 'maxSemiSpaceMb', 'uvThreadpoolSize'];
const figureKeys = [...numberKeys, 'constrained', 'intent'];
/** Values profiles carried before they became machine figures, and the plugin option that now says each. */
const movedKeys: Record<string, string> = {
  pgPoolMax: '`connections`, or `pg-pool.max`', pgPoolMin: '`pg-pool.min`', pgConnectionTimeoutMs: '`pg-pool.connectionTimeoutMillis`',
  pgIdleTimeoutMs: '`pg-pool.idleTimeoutMillis`', pgStatementTimeoutMs: '`pg-pool.statementTimeoutMs` (or `intent: "tuned"`)',
  pgIdleInTransactionTimeoutMs: '`pg-pool.idleInTransactionTimeoutMs`', pgMaxLifetimeSeconds: '`pg-pool.maxLifetimeSeconds`',
  cacheL1Bytes: '`cache.l1Bytes`', objectPoolMax: '`object-pool.max`', softHeapRatio: '`heap-budget.softHeapRatio`',
  hardHeapRatio: '`heap-budget.hardHeapRatio`', maxEventLoopDelayMs: '`heap-budget.maxEventLoopDelayMs`',
};

/** Checks custom profiles' figures; returns problems as `profiles.<name>.<field>: message`. */
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
      const at = `profiles.${name}.${key}`;
      if (key === 'extends') {
        if (typeof value !== 'string' || !(value === 'auto' || Object.hasOwn(namedProfiles, value))) problems.push(`${at}: must name a built-in profile (${['auto', ...Object.keys(namedProfiles)].join(', ')})`);
      } else if (Object.hasOwn(movedKeys, key)) {
        problems.push(`${at}: a profile carries machine figures, not plugin options; set ${movedKeys[key]} in the config instead`);
      } else if (!figureKeys.includes(key)) {
        problems.push(`${at}: unknown profile figure (known: ${figureKeys.join(', ')})`);
      } else if (key === 'intent') {
        if (!INTENTS.includes(value as ProfileIntent)) problems.push(`${at}: must be one of ${INTENTS.join(', ')}`);
      } else if (key === 'constrained') {
        if (typeof value !== 'boolean') problems.push(`${at}: must be true or false`);
      } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        problems.push(`${at}: must be a number ≥ 0`);
      }
    }
  }
  return problems;
}

/** Returns the profile, or undefined for an unknown name (the caller warns and falls back to `auto`). */
export function resolveProfile(name: string | undefined, machine?: MachineFacts, custom: CustomProfiles = {}): Profile | undefined {
  if (name === undefined || name === '' || name === 'auto') return autoProfile(machine);
  if (Object.hasOwn(custom, name)) {
    const { extends: parent = 'auto', ...figures } = custom[name]!;
    const base = parent === name ? undefined : resolveProfile(parent, machine);
    if (!base) return undefined;
    const merged = { ...base, ...figures, name };
    // A custom machine (memory, CPUs, container) resizes the heap and libuv's pool, unless it sets them too.
    if (figures.memoryBytes !== undefined || figures.cpus !== undefined || figures.constrained !== undefined) {
      const derived = deriveProcessFigures(merged.memoryBytes, merged.cpus, merged.constrained);
      const maxOldSpaceMb = figures.maxOldSpaceMb ?? derived.maxOldSpaceMb;
      return { ...merged, ...derived, maxOldSpaceMb, maxSemiSpaceMb: semiSpaceFor(maxOldSpaceMb), ...figures, name };
    }
    return merged;
  }
  const named = Object.hasOwn(namedProfiles, name) ? namedProfiles[name] : undefined;
  return named ? { name, ...named } : undefined;
}
