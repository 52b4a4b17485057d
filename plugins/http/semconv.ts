/** OpenTelemetry HTTP semantic conventions (stable) used by this plugin. */
export const METRIC_HTTP_SERVER_REQUEST_DURATION = 'http.server.request.duration' as const;

export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method' as const;
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code' as const;
export const ATTR_HTTP_ROUTE = 'http.route' as const;
export const ATTR_URL_SCHEME = 'url.scheme' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;

/** Bucket bounds advised by the semantic conventions for `http.server.request.duration`, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Methods kept as-is; anything else becomes `_OTHER` so a client cannot grow the label set. */
export const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

export const metricNames = [METRIC_HTTP_SERVER_REQUEST_DURATION] as const;

/**
 * `http.route` of a request no route matched (a 404, or a middleware answering before any route): none.
 * Kept as one constant so that a fixed value (e.g. `_UNMATCHED`) can be chosen in one place.
 */
export const ROUTE_UNMATCHED: string | undefined = undefined;
/** Written in a route for a path the app gave as a regular expression (or, on Express 4, in regexp syntax). */
export const ROUTE_REGEXP = '{regexp}' as const;
/** Written in a route for a prefix whose template cannot be known; the raw path is never used instead. */
export const ROUTE_UNKNOWN = '{unknown}' as const;
