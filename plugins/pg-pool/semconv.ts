/** Pool metrics from the database semantic conventions that OpenTelemetry's pg instrumentation lacks, plus our checks. */
export const METRIC_DB_CLIENT_CONNECTION_TIMEOUTS = 'db.client.connection.timeouts' as const;
export const METRIC_DB_CLIENT_CONNECTION_WAIT_TIME = 'db.client.connection.wait_time' as const;
export const METRIC_DB_CLIENT_CONNECTION_USE_TIME = 'db.client.connection.use_time' as const;
export const METRIC_DB_CLIENT_CONNECTION_CREATE_TIME = 'db.client.connection.create_time' as const;

/** No convention exists for these: our namespace. */
export const METRIC_PG_LEAKED_CONNECTIONS = 'plandex_perf.pg.leaked_connections' as const;
export const METRIC_PG_SLOW_QUERIES = 'plandex_perf.pg.slow_queries' as const;
export const METRIC_PG_N_PLUS_ONE = 'plandex_perf.pg.n_plus_one' as const;
export const METRIC_PG_UNPOOLED_CONNECTS = 'plandex_perf.pg.unpooled_connects' as const;
export const METRIC_PG_IDLE_CLIENT_ERRORS = 'plandex_perf.pg.idle_client_errors' as const;
/** Size changes of an adaptive pool (the size itself is `db.client.connection.max`). */
export const METRIC_PG_POOL_RESIZES = 'plandex_perf.pg.pool.resizes' as const;

export const ATTR_POOL_NAME = 'db.client.connection.pool.name' as const;
export const ATTR_HTTP_ROUTE = 'http.route' as const;
export const ATTR_DB_OPERATION_NAME = 'db.operation.name' as const;
/** `grow` or `shrink`. */
export const ATTR_RESIZE_DIRECTION = 'direction' as const;
/** Why: `callers waited`, `latency rose`, `connections idle`, `server cap`. */
export const ATTR_RESIZE_REASON = 'reason' as const;

/** Seconds; connection waits are short when healthy and long when not. */
export const TIME_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];

export const metricNames = [
  METRIC_DB_CLIENT_CONNECTION_TIMEOUTS,
  METRIC_DB_CLIENT_CONNECTION_WAIT_TIME,
  METRIC_DB_CLIENT_CONNECTION_USE_TIME,
  METRIC_DB_CLIENT_CONNECTION_CREATE_TIME,
  METRIC_PG_LEAKED_CONNECTIONS,
  METRIC_PG_SLOW_QUERIES,
  METRIC_PG_N_PLUS_ONE,
  METRIC_PG_UNPOOLED_CONNECTS,
  METRIC_PG_IDLE_CLIENT_ERRORS,
  METRIC_PG_POOL_RESIZES,
] as const;
