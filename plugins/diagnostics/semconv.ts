/**
 * Diagnostics names. The request counter uses the OpenTelemetry HTTP attribute names; no convention
 * covers on-demand profiling, so the metric itself lives under `plandex_perf.` (Prometheus:
 * `plandex_perf_diagnostics_requests_total`).
 */
export const METRIC_DIAGNOSTICS_REQUESTS = 'plandex_perf.diagnostics.requests' as const;

/** Refused token checks (and requests refused while their address backs off), by reason. */
export const METRIC_DIAGNOSTICS_AUTH_FAILURES = 'plandex_perf.diagnostics.auth_failures' as const;
export const ATTR_AUTH_FAILURE_REASON = 'plandex_perf.diagnostics.auth_failure.reason' as const;
/** The values of ATTR_AUTH_FAILURE_REASON: a fixed set. `backoff` = refused unchecked with 429. */
export const AUTH_FAILURE_REASONS = ['no_token_configured', 'missing_token', 'wrong_token', 'backoff'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export const ATTR_HTTP_ROUTE = 'http.route' as const;
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code' as const;

/** The routes served on the metrics server: a fixed set, so the route label stays bounded. */
export const ROUTE_CPU_PROFILE = '/debug/cpu-profile' as const;
export const ROUTE_HEAP_SNAPSHOT = '/debug/heap-snapshot' as const;
export const ROUTE_SNAPSHOT = '/debug/snapshot' as const;
export const ROUTES = [ROUTE_CPU_PROFILE, ROUTE_HEAP_SNAPSHOT, ROUTE_SNAPSHOT] as const;
export type Route = (typeof ROUTES)[number];

export const metricNames = [METRIC_DIAGNOSTICS_REQUESTS, METRIC_DIAGNOSTICS_AUTH_FAILURES] as const;
