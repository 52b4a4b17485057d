/** OpenTelemetry HTTP client semantic conventions (stable) used by this plugin. */
export const METRIC_HTTP_CLIENT_REQUEST_DURATION = 'http.client.request.duration' as const;

export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method' as const;
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code' as const;
export const ATTR_SERVER_ADDRESS = 'server.address' as const;
export const ATTR_SERVER_PORT = 'server.port' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;

/** The value the conventions give to a method outside the known set, and that we give to hosts over the bound. */
export const OTHER = '_OTHER' as const;

/**
 * Bucket bounds in seconds. The conventions' advice for HTTP durations starts at 5 ms, which puts every
 * call to a service on the same host or in the same zone into the first bucket; outbound calls also have
 * a longer tail (retries, slow third parties), so the range runs from 1 ms to 30 s.
 */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Methods kept as-is (the conventions' list); anything else becomes `_OTHER`. */
export const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'] as const;

export const metricNames = [METRIC_HTTP_CLIENT_REQUEST_DURATION] as const;
