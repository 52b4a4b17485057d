import type { Code } from '../../src/errors.js';

/**
 * The coded lines and errors of the cache; src/errors.ts documents each with its cause and fix.
 * `code()` types our literals as the shared `Code` (the build fails if one is missing there).
 */
type CacheCode =
  | 'PPERF_ERR_CACHE_TIMEOUT'
  | 'PPERF_ERR_CACHE_STORE'
  | 'PPERF_WRN_020'
  | 'PPERF_WRN_021'
  | 'PPERF_WRN_022'
  | 'PPERF_WRN_023'
  | 'PPERF_WRN_024';

const code = (c: CacheCode): Code => c;

/** The origin did not answer within `hardTimeout` and no stale value was at hand: the caller gets this error. */
export const ERR_TIMEOUT = code('PPERF_ERR_CACHE_TIMEOUT');
/** The L2 store could not be set up (module missing, bad URL): the cache runs on L1 alone. */
export const ERR_STORE = code('PPERF_ERR_CACHE_STORE');
/** The L2 circuit breaker opened: L2 is failing or too slow; L1 and the origin serve. */
export const WRN_BREAKER_OPEN = code('PPERF_WRN_020');
/** A result cannot go to L2 unchanged (class instance, function, symbol): it is kept in L1 only. */
export const WRN_NOT_PORTABLE = code('PPERF_WRN_021');
/** The invalidation bus reconnected: L1 was flushed, since messages may have been missed. */
export const WRN_BUS_RECONNECTED = code('PPERF_WRN_022');
/** A `functions` entry could not be wrapped (module or export not found, hooks unavailable). */
export const WRN_WRAP_TARGET = code('PPERF_WRN_023');
/** A call's arguments cannot form a key (function, symbol, too deep, or the `key` option threw): the call bypasses the cache. */
export const WRN_UNKEYABLE = code('PPERF_WRN_024');

/** The error a caller receives on a hard timeout with nothing stale to serve. */
export class CacheTimeoutError extends Error {
  readonly code = 'PPERF_ERR_CACHE_TIMEOUT';
  constructor(name: string, ms: number) {
    super(`${name} did not answer within its hardTimeout of ${ms} ms and no stale value was cached`);
    this.name = 'CacheTimeoutError';
  }
}
