import type { log } from '../../src/log.js';
import type { Store } from './stores.js';

/** Per-function options, from the API (`cached(fn, options)`) or a `functions` entry of the config. */
export interface CachedOptions {
  /** The function's identity in keys, shared by every instance. Default: `module#export` when wrapped from the config, else the function's name plus a hash of its source. */
  name?: string;
  /** Part of every key: change it when the shape of the result changes, so old entries are never read. */
  version?: string | number;
  /** Freshness (a duration: `30s`, `5m`, or ms). */
  ttl?: number | string;
  /** After `ttl`, the old value is served at once while one refresh runs (stale-while-revalidate). */
  grace?: number | string;
  /** After `ttl`, the old value is served when the origin throws or is slower than `softTimeout`. */
  staleIfError?: number | string;
  /** When a stale value is at hand and the origin takes longer than this, the stale value is served; the origin's result still fills the cache. */
  softTimeout?: number | string;
  /** The origin's result is not awaited past this: the stale value if any, else a `PPERF_ERR_CACHE_TIMEOUT` error. */
  hardTimeout?: number | string;
  /** How long an empty result (`null`, `undefined`, `[]`) is cached; `0` = not cached. */
  negativeTtl?: number | string;
  /** Tags for invalidation: a list, or a function of the call's arguments. */
  tags?: readonly string[] | ((...args: never[]) => readonly string[]);
  /**
   * What forms the key: a function of the arguments (`(user) => user.id`, its result keyed like an argument),
   * or the positions or paths of the arguments that do (`[1, 2]`, `['0.id']`). Default: every argument that
   * is plain data; connection handles and contexts (pools, clients, knex, requests, objects with methods)
   * are left out.
   */
  key?: ((...args: never[]) => unknown) | readonly (number | string)[];
  /** Invalidate with `invalidateTags([fnTag(name)])`: set for functions with `invalidatedBy` in the config. */
  selfTag?: boolean;
  /** `false` keeps this function's entries in L1 only (never shared). */
  l2?: boolean;
}

/** What `cached()` and `invalidate*` talk to: the plugin's engine, or the fallback when the plugin is off. */
export interface CacheApi {
  cached<F extends (...args: never[]) => unknown>(fn: F, options?: CachedOptions): F;
  /** Drops the entry of one call (`invalidate(getUserPlans, userId)`), here and, through the bus, on every instance. */
  invalidate(fnOrName: ((...args: never[]) => unknown) | string, ...args: unknown[]): Promise<void>;
  /** Drops every entry carrying one of `tags`, here and on every instance. */
  invalidateTags(tags: readonly string[]): Promise<void>;
  /** Drops every entry that read one of `tables` (a write the cache could not see), here and on every instance. */
  invalidateTables(tables: readonly string[]): Promise<void>;
}

/** What the plugin provides to other plugins (diagnostics): the API plus a look at its state. */
export interface CachePlugin extends CacheApi {
  snapshot(): CacheSnapshot;
}

export interface CacheSnapshot {
  l1: { bytes: number; entries: number; budget: number; evictions: number };
  l2: { store: string; breaker: 'closed' | 'half-open' | 'open'; bus: boolean } | undefined;
  counts: Readonly<Record<string, number>>;
}

export interface Defaults {
  ttl: number;
  grace: number;
  staleIfError: number;
  softTimeout: number;
  hardTimeout: number;
  negativeTtl: number;
}

export interface EngineOptions {
  l1Bytes: number;
  l1MaxEntryBytes: number;
  /** Cap of L1 freshness when L2 is shared (a missed bus message costs at most this); `0` = no cap. */
  l1MaxTtl: number;
  defaults: Defaults;
  /** Fraction of the TTL taken off at random, so entries written together do not expire together. */
  jitter: number;
  keyPrefix: string;
  store: Store | undefined;
  commandTimeoutMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** Redis lease for one computation across instances; `0` = no lease. */
  leaseMs: number;
  /** How long an instance that did not get the lease polls L2 before computing anyway. */
  leaseWaitMs: number;
  compressAboveBytes: number;
  maxInFlight: number;
  bus: boolean;
  log: typeof log;
  /** The clock (ms since the epoch); tests pass fake time. Default: a coarse wall clock (clock.ts). */
  now?: () => number;
  /**
   * The exact wall clock that stamps invalidations (ms since the epoch). It must never be behind the real
   * time, where `now` may be by ~1 ms: an invalidation stamped early would let a load that started just
   * before it pass as newer. Default: `now` when that is given (fake time then drives both), else `Date.now`.
   */
  wallNow?: () => number;
  /** Whether a handle argument (a pg client) is inside a transaction: the call then bypasses the cache. */
  inTransaction?: (client: object) => boolean;
  /** When set and it returns an API, functions made here hand over to it (the plugin started after `cached()` ran). */
  handoff?: () => CacheApi | undefined;
}
