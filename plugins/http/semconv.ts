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

/**
 * Requests left out by `http.exclude`, counted when `http.countExcluded` is on: no attributes at all, so one
 * series however many paths are excluded. Not in the conventions (nothing there counts what is not measured);
 * Prometheus: `http_server_excluded_requests_total`.
 */
export const METRIC_HTTP_SERVER_EXCLUDED_REQUESTS = 'http.server.excluded_requests' as const;

export const metricNames = [METRIC_HTTP_SERVER_REQUEST_DURATION, METRIC_HTTP_SERVER_EXCLUDED_REQUESTS] as const;

/** The value given to a method, a route over the bound or an attribute value over its cap. */
export const OTHER = '_OTHER' as const;

/**
 * `http.route` of a request that a framework's router handled and matched to no route: a 404, a scanner's
 * probe, a middleware that answered before any route (`express.static`, a body parser's 400). One fixed value
 * so these are visible and bounded (fastify-metrics writes `__unknown__`; we follow the conventions' `_OTHER`
 * style). Only where a router ran: a plain `node:http` server has none, so its requests keep no route.
 */
export const ROUTE_UNMATCHED = '_UNMATCHED' as const;
/** Written in a route for a path the app gave as a regular expression (or, on Express 4, in regexp syntax). */
export const ROUTE_REGEXP = '{regexp}' as const;
/** Written in a route for a prefix whose template cannot be known; the raw path is never used instead. */
export const ROUTE_UNKNOWN = '{unknown}' as const;
