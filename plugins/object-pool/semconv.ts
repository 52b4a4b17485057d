/** generic-pool object pools. No semantic convention covers them (db.client.connection.* is for databases). */
export const METRIC_POOL_SIZE = 'plandex_perf.pool.size' as const;
export const METRIC_POOL_AVAILABLE = 'plandex_perf.pool.available' as const;
export const METRIC_POOL_BORROWED = 'plandex_perf.pool.borrowed' as const;
export const METRIC_POOL_PENDING = 'plandex_perf.pool.pending' as const;
export const METRIC_POOL_MAX = 'plandex_perf.pool.max' as const;
export const METRIC_POOL_ACQUIRE_DURATION = 'plandex_perf.pool.acquire.duration' as const;
export const METRIC_POOL_CREATE_ERRORS = 'plandex_perf.pool.create_errors' as const;
export const METRIC_POOL_LEAKED = 'plandex_perf.pool.leaked' as const;

export const ATTR_POOL_NAME = 'plandex_perf.pool.name' as const;

export const WAIT_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];

export const metricNames = [
  METRIC_POOL_SIZE,
  METRIC_POOL_AVAILABLE,
  METRIC_POOL_BORROWED,
  METRIC_POOL_PENDING,
  METRIC_POOL_MAX,
  METRIC_POOL_ACQUIRE_DURATION,
  METRIC_POOL_CREATE_ERRORS,
  METRIC_POOL_LEAKED,
] as const;
