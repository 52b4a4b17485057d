/**
 * Names of the cluster view. No semantic convention covers an aggregating scrape endpoint, so they live
 * under `plandex_perf.` (Prometheus: `plandex_perf_cluster_*`, `plandex_perf_process_slot`).
 */
/** Processes whose metrics the scrape includes, by `plandex_perf.cluster.process.state` (`answered`, `timed_out`). */
export const METRIC_CLUSTER_PROCESSES = 'plandex_perf.cluster.processes' as const;
/** Followers that did not answer a scrape in time (their last snapshot was used). */
export const METRIC_CLUSTER_SCRAPE_TIMEOUTS = 'plandex_perf.cluster.scrape.timeouts' as const;
/** Processes that left; their counters and histograms stay in the totals. */
export const METRIC_CLUSTER_DEPARTURES = 'plandex_perf.cluster.departures' as const;
/** Totals this leader took over from a previous one (handed to its heir), so that its sums go on. */
export const METRIC_CLUSTER_INHERITED = 'plandex_perf.cluster.handovers' as const;

export const ATTR_CLUSTER_PROCESS_STATE = 'plandex_perf.cluster.process.state' as const;
/**
 * The per-process label of non-additive points (gauges) in a cluster: 0 for the leader, then the lowest
 * free number for each follower, reused when one leaves, so the label set stays bounded.
 */
export const ATTR_PROCESS_SLOT = 'plandex_perf.process.slot' as const;

/** Response header on every route of the metrics server: which process answered (and was profiled). */
export const HEADER_PROCESS = 'x-plandex-perf-process' as const;

export const metricNames = [METRIC_CLUSTER_PROCESSES, METRIC_CLUSTER_SCRAPE_TIMEOUTS, METRIC_CLUSTER_DEPARTURES, METRIC_CLUSTER_INHERITED] as const;
