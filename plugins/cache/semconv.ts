/**
 * Cache metrics. No OpenTelemetry semantic convention covers application caches, so these live under
 * `plandex_perf.` (Prometheus: `plandex_perf_cache_*`). The dashboards query exactly these names.
 */
export const METRIC_CACHE_REQUESTS = 'plandex_perf.cache.requests' as const;
export const METRIC_CACHE_DURATION = 'plandex_perf.cache.duration' as const;
export const METRIC_CACHE_L1_BYTES = 'plandex_perf.cache.l1.bytes' as const;
export const METRIC_CACHE_L1_ENTRIES = 'plandex_perf.cache.l1.entries' as const;
export const METRIC_CACHE_EVICTIONS = 'plandex_perf.cache.evictions' as const;
export const METRIC_CACHE_COALESCED = 'plandex_perf.cache.coalesced' as const;
export const METRIC_CACHE_BREAKER_STATE = 'plandex_perf.cache.breaker.state' as const;
export const METRIC_CACHE_BUS_MESSAGES = 'plandex_perf.cache.bus.messages' as const;

/** `l1`, `l2` or `origin` (a call that reached the cached function itself). */
export const ATTR_CACHE_LEVEL = 'plandex_perf.cache.level' as const;
/** `hit`, `miss` or `stale` (an old value served within grace or stale-if-error). */
export const ATTR_CACHE_RESULT = 'plandex_perf.cache.result' as const;
/** `sent` or `received`. */
export const ATTR_CACHE_BUS_DIRECTION = 'plandex_perf.cache.bus.direction' as const;

export const LEVELS = ['l1', 'l2', 'origin'] as const;
export const RESULTS = ['hit', 'miss', 'stale'] as const;

/** Seconds: L2 round trips are sub-millisecond to tens of ms; origins from ms to seconds. */
export const DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metricNames = [
  METRIC_CACHE_REQUESTS,
  METRIC_CACHE_DURATION,
  METRIC_CACHE_L1_BYTES,
  METRIC_CACHE_L1_ENTRIES,
  METRIC_CACHE_EVICTIONS,
  METRIC_CACHE_COALESCED,
  METRIC_CACHE_BREAKER_STATE,
  METRIC_CACHE_BUS_MESSAGES,
] as const;
