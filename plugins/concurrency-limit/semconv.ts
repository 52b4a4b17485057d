/**
 * Concurrency-limit metrics. No OpenTelemetry semantic convention covers admission control, so these live
 * under `plandex_perf.` (Prometheus: `plandex_perf_concurrency_limit_*`).
 */
export const METRIC_LIMIT = 'plandex_perf.concurrency_limit.limit' as const;
export const METRIC_IN_FLIGHT = 'plandex_perf.concurrency_limit.in_flight' as const;
export const METRIC_QUEUED = 'plandex_perf.concurrency_limit.queued' as const;
export const METRIC_REJECTED = 'plandex_perf.concurrency_limit.rejected' as const;
export const METRIC_QUEUE_WAIT = 'plandex_perf.concurrency_limit.queue.wait' as const;
export const METRIC_BASELINE = 'plandex_perf.concurrency_limit.baseline' as const;

/** Why a request got 503 (`queue_full`, `queue_timeout`), or how a wait ended (`admitted`, `rejected`, `abandoned`). */
export const ATTR_REASON = 'plandex_perf.concurrency_limit.reason' as const;
export const ATTR_OUTCOME = 'plandex_perf.concurrency_limit.outcome' as const;

export const REASONS = ['queue_full', 'queue_timeout'] as const;
export const OUTCOMES = ['admitted', 'rejected', 'abandoned'] as const;

/** Queue waits are bounded by `maxQueueWaitMs` (≤ 60 s); buckets in seconds. */
export const QUEUE_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60];

export const metricNames = [METRIC_LIMIT, METRIC_IN_FLIGHT, METRIC_QUEUED, METRIC_REJECTED, METRIC_QUEUE_WAIT, METRIC_BASELINE] as const;
