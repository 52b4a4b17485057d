/**
 * Heap-budget metrics. No OpenTelemetry semantic convention covers load shedding, so these live under
 * the `plandex_perf.` namespace (Prometheus: `plandex_perf_heap_budget_*`).
 */
export const METRIC_BUDGET_LIMIT = 'plandex_perf.heap_budget.limit' as const;
export const METRIC_BUDGET_USED_RATIO = 'plandex_perf.heap_budget.used_ratio' as const;
export const METRIC_BUDGET_STATE = 'plandex_perf.heap_budget.state' as const;
export const METRIC_BUDGET_SHED_REQUESTS = 'plandex_perf.heap_budget.shed_requests' as const;
export const METRIC_BUDGET_STATE_TIME = 'plandex_perf.heap_budget.state_time' as const;
export const METRIC_BUDGET_TRANSITIONS = 'plandex_perf.heap_budget.transitions' as const;

export const ATTR_STATE = 'plandex_perf.heap_budget.state' as const;

export const STATES = ['ok', 'soft', 'shedding'] as const;

export const metricNames = [
  METRIC_BUDGET_LIMIT,
  METRIC_BUDGET_USED_RATIO,
  METRIC_BUDGET_STATE,
  METRIC_BUDGET_SHED_REQUESTS,
  METRIC_BUDGET_STATE_TIME,
  METRIC_BUDGET_TRANSITIONS,
] as const;
