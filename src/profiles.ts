import os from 'node:os';
import { s } from './schema.js';

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

const figure = (what: string) => s.number({ min: 0 }).optional().describe(what);

/** One custom profile: a built-in to start from and the figures it changes (docs/profiles.md). */
export const customProfileSchema = s.object({
  extends: s
    .enum(['auto', ...Object.keys(namedProfiles)])
    .optional()
    .describe('The built-in profile it starts from; `auto` (this machine) when unset.'),
  memoryBytes: figure('Memory the process may use, in bytes.'),
  cpus: figure('CPUs the process may use.'),
  constrained: s.boolean().optional().describe('True when `memoryBytes` is a limit the process owns (a container), not a shared total.'),
  connections: figure('Database connections this process may hold; unset: pools stay as the app sized them.'),
  intent: s.enum(INTENTS).optional().describe('`safe`: only sizes and bounds; `tuned`: also timeouts and rotation.'),
  maxOldSpaceMb: figure('`--max-old-space-size` in MiB; derived from memory and `constrained` when unset.'),
  maxSemiSpaceMb: figure('`--max-semi-space-size` in MiB; derived from the old space when unset.'),
  uvThreadpoolSize: figure('`UV_THREADPOOL_SIZE`; derived from the CPUs when unset.'),
});
/** `profiles` in the config file: custom profiles by name (a bounded set, like every map here). */
export const customProfilesSchema = s.record(customProfileSchema, { max: 50 });

/** Values profiles carried before they became machine figures, and the plugin option that now says each. */
const movedKeys: Record<string, string> = {
  pgPoolMax: '`connections`, or `pg-pool.max`', pgPoolMin: '`pg-pool.min`', pgConnectionTimeoutMs: '`pg-pool.connectionTimeoutMillis`',
  pgIdleTimeoutMs: '`pg-pool.idleTimeoutMillis`', pgStatementTimeoutMs: '`pg-pool.statementTimeoutMs` (or `intent: "tuned"`)',
  pgIdleInTransactionTimeoutMs: '`pg-pool.idleInTransactionTimeoutMs`', pgMaxLifetimeSeconds: '`pg-pool.maxLifetimeSeconds`',
  cacheL1Bytes: '`cache.l1Bytes`', objectPoolMax: '`object-pool.max`', softHeapRatio: '`heap-budget.softHeapRatio`',
  hardHeapRatio: '`heap-budget.hardHeapRatio`', maxEventLoopDelayMs: '`heap-budget.maxEventLoopDelayMs`',
};

/**
 * Checks custom profiles against `customProfilesSchema`; returns problems as `profiles.<name>.<field>: message`.
 * A former plugin value gets the option that replaced it instead of the schema's "unknown option".
 */
export function checkCustomProfiles(custom: unknown): string[] {
  if (custom === undefined) return [];
  const problems: string[] = [];
  let rest = custom;
  if (custom !== null && typeof custom === 'object' && !Array.isArray(custom)) {
    rest = Object.fromEntries(
      Object.entries(custom).map(([name, values]) => {
        if (values === null || typeof values !== 'object' || Array.isArray(values)) return [name, values];
        const kept = Object.entries(values as Record<string, unknown>).filter(([key]) => {
          if (!Object.hasOwn(movedKeys, key)) return true;
          problems.push(`profiles.${name}.${key}: a profile carries machine figures, not plugin options; set ${movedKeys[key]} in the config instead`);
          return false;
        });
        return [name, Object.fromEntries(kept)];
      }),
    );
  }
  const issues: { path: (string | number)[]; message: string }[] = [];
  customProfilesSchema.check(rest, ['profiles'], issues);
  return [...issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`), ...problems];
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
