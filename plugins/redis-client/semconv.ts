/** OpenTelemetry database semantic conventions (Redis) used by this plugin, and our own client-state gauge. */
export const METRIC_DB_CLIENT_OPERATION_DURATION = 'db.client.operation.duration' as const;
/**
 * Redis clients by state. Not in the conventions: their `db.client.connection.count` counts a pool's
 * connections as `idle`/`used` (and the pg plugin reports it so); a Redis client is one connection with a
 * lifecycle instead, so it gets a name of ours, in the style of the pg plugin's `plandex_perf.pg.*`.
 */
export const METRIC_REDIS_CLIENTS = 'plandex_perf.redis.clients' as const;

export const ATTR_DB_SYSTEM_NAME = 'db.system.name' as const;
export const ATTR_DB_OPERATION_NAME = 'db.operation.name' as const;
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;
/** Which client library: `ioredis` or `node-redis`. */
export const ATTR_REDIS_CLIENT_LIBRARY = 'plandex_perf.redis.client.library' as const;
/** The client's state: one of CLIENT_STATES. */
export const ATTR_REDIS_CLIENT_STATE = 'plandex_perf.redis.client.state' as const;

export const DB_SYSTEM_REDIS = 'redis' as const;
export const OTHER = '_OTHER' as const;

export const LIBRARY_IOREDIS = 'ioredis' as const;
export const LIBRARY_NODE_REDIS = 'node-redis' as const;

/**
 * `ready`: connected and accepting commands. `connecting`: connecting or reconnecting (commands wait or
 * fail). `closed`: not connected and not trying (never connected, quit, or given up), until the app drops it.
 */
export const CLIENT_STATES = ['ready', 'connecting', 'closed'] as const;
export type ClientState = (typeof CLIENT_STATES)[number];

/** The conventions' advice for `db.client.operation.duration`, with 0.5 ms and 2.5 ms added: most Redis commands take well under 1 ms. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

export const metricNames = [METRIC_DB_CLIENT_OPERATION_DURATION, METRIC_REDIS_CLIENTS] as const;
