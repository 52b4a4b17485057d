/**
 * The metrics the dashboards query: OpenTelemetry name, instrument kind and the unit suffix an
 * OpenTelemetry Collector adds. Selectors built from here match both exporters:
 *   - the preload's own (OpenTelemetry JS SDK): dots → underscores, `_total` on counters, no unit
 *     suffix: `http_server_request_duration_bucket`;
 *   - the Collector's (and Prometheus' OTLP receiver): the same plus a unit suffix:
 *     `http_server_request_duration_seconds_bucket`. Unit `1` becomes `_ratio` on gauges; units in
 *     braces (`{request}`) add nothing; a name that already holds the suffix word gets no second one.
 * Names not yet in any plugin's semconv.ts are listed in ../pending-metrics.json.
 */

/** @typedef {'counter' | 'gauge' | 'histogram'} Kind */
/** @typedef {{ otel: string, kind: Kind, unit?: 'seconds' | 'bytes' | 'ratio' }} MetricRef */

/** @type {(otel: string, kind: Kind, unit?: 'seconds' | 'bytes' | 'ratio') => MetricRef} */
const ref = (otel, kind, unit) => (unit ? { otel, kind, unit } : { otel, kind });

export const http = {
  duration: ref('http.server.request.duration', 'histogram', 'seconds'),
  excluded: ref('http.server.excluded_requests', 'counter'),
};

export const httpClient = {
  duration: ref('http.client.request.duration', 'histogram', 'seconds'),
};

export const redis = {
  clients: ref('plandex_perf.redis.clients', 'gauge'),
};

export const db = {
  duration: ref('db.client.operation.duration', 'histogram', 'seconds'),
  connections: ref('db.client.connection.count', 'gauge'),
  max: ref('db.client.connection.max', 'gauge'),
  pending: ref('db.client.connection.pending_requests', 'gauge'),
  idleMax: ref('db.client.connection.idle.max', 'gauge'),
  idleMin: ref('db.client.connection.idle.min', 'gauge'),
  timeouts: ref('db.client.connection.timeouts', 'counter'),
  waitTime: ref('db.client.connection.wait_time', 'histogram', 'seconds'),
  useTime: ref('db.client.connection.use_time', 'histogram', 'seconds'),
  createTime: ref('db.client.connection.create_time', 'histogram', 'seconds'),
  leaked: ref('plandex_perf.pg.leaked_connections', 'counter'),
  slow: ref('plandex_perf.pg.slow_queries', 'counter'),
  nPlusOne: ref('plandex_perf.pg.n_plus_one', 'counter'),
  unpooled: ref('plandex_perf.pg.unpooled_connects', 'counter'),
  idleErrors: ref('plandex_perf.pg.idle_client_errors', 'counter'),
};

export const pool = {
  size: ref('plandex_perf.pool.size', 'gauge'),
  available: ref('plandex_perf.pool.available', 'gauge'),
  borrowed: ref('plandex_perf.pool.borrowed', 'gauge'),
  pending: ref('plandex_perf.pool.pending', 'gauge'),
  max: ref('plandex_perf.pool.max', 'gauge'),
  acquire: ref('plandex_perf.pool.acquire.duration', 'histogram', 'seconds'),
  createErrors: ref('plandex_perf.pool.create_errors', 'counter'),
  leaked: ref('plandex_perf.pool.leaked', 'counter'),
};

export const runtime = {
  elu: ref('nodejs.eventloop.utilization', 'gauge', 'ratio'),
  delayP50: ref('nodejs.eventloop.delay.p50', 'gauge', 'seconds'),
  delayP90: ref('nodejs.eventloop.delay.p90', 'gauge', 'seconds'),
  delayP99: ref('nodejs.eventloop.delay.p99', 'gauge', 'seconds'),
  delayMax: ref('nodejs.eventloop.delay.max', 'gauge', 'seconds'),
  loopTime: ref('nodejs.eventloop.time', 'counter', 'seconds'),
  gc: ref('v8js.gc.duration', 'histogram', 'seconds'),
  heapUsed: ref('v8js.memory.heap.used', 'gauge', 'bytes'),
  heapSpaceSize: ref('v8js.memory.heap.space.size', 'gauge', 'bytes'),
  heapSpaceAvailable: ref('v8js.memory.heap.space.available_size', 'gauge', 'bytes'),
  heapSpacePhysical: ref('v8js.memory.heap.space.physical_size', 'gauge', 'bytes'),
  rss: ref('process.memory.usage', 'gauge', 'bytes'),
};

export const budget = {
  limit: ref('plandex_perf.heap_budget.limit', 'gauge', 'bytes'),
  usedRatio: ref('plandex_perf.heap_budget.used_ratio', 'gauge'), // unit 1, but the name already ends in ratio
  state: ref('plandex_perf.heap_budget.state', 'gauge', 'ratio'), // unit 1 on a gauge: the Collector appends _ratio
  shed: ref('plandex_perf.heap_budget.shed_requests', 'counter'),
  stateTime: ref('plandex_perf.heap_budget.state_time', 'counter', 'seconds'),
  transitions: ref('plandex_perf.heap_budget.transitions', 'counter'),
};

/** The cache plugin's names (pending: see ../pending-metrics.json). */
export const cache = {
  requests: ref('plandex_perf.cache.requests', 'counter'),
  duration: ref('plandex_perf.cache.duration', 'histogram', 'seconds'),
  l1Bytes: ref('plandex_perf.cache.l1.bytes', 'gauge'), // unit By, but the name already ends in bytes
  l1Entries: ref('plandex_perf.cache.l1.entries', 'gauge'),
  evictions: ref('plandex_perf.cache.evictions', 'counter'),
  coalesced: ref('plandex_perf.cache.coalesced', 'counter'),
  breakerState: ref('plandex_perf.cache.breaker.state', 'gauge'),
  busMessages: ref('plandex_perf.cache.bus.messages', 'counter'),
};

/**
 * The `__name__` regex for one series family of a metric, e.g. `name(http.duration, 'bucket')` →
 * `http_server_request_duration(_seconds)?_bucket`. Counters get `_total` without asking.
 * @param {MetricRef} metric
 * @param {'bucket' | 'sum' | 'count'} [part]  histograms only
 */
export function name(metric, part) {
  if ((metric.kind === 'histogram') !== (part !== undefined)) throw new Error(`${metric.otel}: a part (bucket, sum, count) is for histograms only, and histograms need one`);
  const base = metric.otel.replaceAll('.', '_');
  const unit = metric.unit ? `(_${metric.unit})?` : '';
  const tail = metric.kind === 'counter' ? '_total' : part ? `_${part}` : '';
  return `${base}${unit}${tail}`;
}
