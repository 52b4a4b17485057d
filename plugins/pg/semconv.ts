/** OpenTelemetry database semantic conventions used by this plugin. */
export const METRIC_DB_CLIENT_OPERATION_DURATION = 'db.client.operation.duration' as const;
export const METRIC_DB_CLIENT_CONNECTION_COUNT = 'db.client.connection.count' as const;
export const METRIC_DB_CLIENT_CONNECTION_MAX = 'db.client.connection.max' as const;
export const METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS = 'db.client.connection.pending_requests' as const;
export const METRIC_DB_CLIENT_CONNECTION_IDLE_MAX = 'db.client.connection.idle.max' as const;
export const METRIC_DB_CLIENT_CONNECTION_IDLE_MIN = 'db.client.connection.idle.min' as const;

export const ATTR_DB_SYSTEM_NAME = 'db.system.name' as const;
export const ATTR_DB_OPERATION_NAME = 'db.operation.name' as const;
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name' as const;
export const ATTR_DB_NAMESPACE = 'db.namespace' as const;
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;
export const ATTR_POOL_NAME = 'db.client.connection.pool.name' as const;
export const ATTR_CONNECTION_STATE = 'db.client.connection.state' as const;

export const DB_SYSTEM_POSTGRESQL = 'postgresql' as const;

/** Bucket bounds advised by the semantic conventions for `db.client.operation.duration`, in seconds. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

export const metricNames = [
  METRIC_DB_CLIENT_OPERATION_DURATION,
  METRIC_DB_CLIENT_CONNECTION_COUNT,
  METRIC_DB_CLIENT_CONNECTION_MAX,
  METRIC_DB_CLIENT_CONNECTION_IDLE_MAX,
  METRIC_DB_CLIENT_CONNECTION_IDLE_MIN,
  METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS,
] as const;
