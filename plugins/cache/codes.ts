import type { Code } from '../../src/errors.js';

/**
 * The coded lines and errors of the cache; src/errors.ts documents each with its cause and fix.
 * `code()` types our literals as the shared `Code` (the build fails if one is missing there).
 */
export type CacheCode =
  | 'PPERF_ERR_CACHE_TIMEOUT'
  | 'PPERF_ERR_CACHE_STORE'
  | 'PPERF_ERR_CACHE_TRIGGERS'
  | 'PPERF_WRN_020'
  | 'PPERF_WRN_022'
  | 'PPERF_WRN_023'
  | 'PPERF_WRN_024'
  | 'PPERF_WRN_040'
  | 'PPERF_WRN_041'
  | 'PPERF_WRN_042'
  | 'PPERF_WRN_043';

const code = (c: CacheCode): Code => c;

/** The L2 store could not be set up (module missing, bad URL): the cache runs on L1 alone. */
export const ERR_STORE = code('PPERF_ERR_CACHE_STORE');
/** `plandex-perf cache install-triggers` could not run (usage, connection, SQL). */
export const ERR_TRIGGERS = code('PPERF_ERR_CACHE_TRIGGERS');
/** The L2 circuit breaker opened: L2 is failing or too slow; L1 and the origin serve. */
export const WRN_BREAKER_OPEN = code('PPERF_WRN_020');
/** The invalidation bus (Redis pub/sub, PostgreSQL LISTEN) reconnected: L1 was flushed, since messages may have been missed. */
export const WRN_BUS_RECONNECTED = code('PPERF_WRN_022');
/** A `functions` entry could not be wrapped (module or export not found, hooks unavailable). */
export const WRN_WRAP_TARGET = code('PPERF_WRN_023');
/** A call's arguments cannot form a key (function, symbol, too deep, or the `key` option threw): the call bypasses the cache. */
export const WRN_UNKEYABLE = code('PPERF_WRN_024');
/** A cached function is not a data loader (returns a function, class instance or stream; takes a callback; is a class): it runs untouched from then on. */
export const WRN_NOT_LOADER = code('PPERF_WRN_040');
/** A result holds something that is not plain data (a class instance, function or symbol inside): it was returned uncached and unfrozen. */
export const WRN_NOT_DATA = code('PPERF_WRN_041');
/** Foreign keys and views could not be read from the catalog: every write invalidates every entry that read a table. */
export const WRN_CATALOG = code('PPERF_WRN_042');
/** Functions are cached but the pg plugin is off: writes do not invalidate anything; only TTLs, tags and invalidatedBy do. */
export const WRN_NO_TABLES = code('PPERF_WRN_043');

/** The error a caller receives on a hard timeout with nothing stale to serve. */
export class CacheTimeoutError extends Error {
  readonly code = 'PPERF_ERR_CACHE_TIMEOUT';
  constructor(name: string, ms: number) {
    super(`${name} did not answer within its hardTimeout of ${ms} ms and no stale value was cached`);
    this.name = 'CacheTimeoutError';
  }
}
