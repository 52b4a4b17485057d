// The pool size and the adaptive concurrency limit over time: the app's Prometheus /metrics scraped about
// once a second while a bench runs (suite.mjs charts it; pg-adaptive.mjs and overload.mjs record it too).
//
// Cost to the measured app: one scrape takes it about 5 ms of CPU (the exporter collects and serialises
// every instrument, ~34 KB of text on the reference app; measured on the 2-core bench VM with the limit
// on), so about 0.5 % of a core at one scrape a second, charged to the preloaded variant only. Hence once
// a second and no faster; scrapes never overlap (a tick is skipped while one is out) and the connection is
// kept alive between them. On the bench's side only the lines of the gauges kept here are parsed.
//
//   const sampler = metricsSampler({ url: `http://127.0.0.1:${port}/metrics`, origin: app.startedAt }).start();
//   … load …
//   run.metricsSeries = await sampler.stop();

import { parseMetrics, sum } from './prom.mjs';

/**
 * The Prometheus names (checked by scraping the reference app; the SDK's exporter adds no unit suffix
 * to these gauges). Sources: plugins/pg-pool (OpenTelemetry's db.client.connection.*) and
 * plugins/concurrency-limit/semconv.ts. The concurrency gauges exist only while the limit is on.
 */
export const GAUGES = /** @type {const} */ ({
  poolMax: 'db_client_connection_max',
  poolCount: 'db_client_connection_count', // per db_client_connection_state: idle, used
  poolPending: 'db_client_connection_pending_requests',
  limit: 'plandex_perf_concurrency_limit_limit',
  inFlight: 'plandex_perf_concurrency_limit_in_flight',
  queued: 'plandex_perf_concurrency_limit_queued',
});

const PREFIXES = ['db_client_connection_', 'plandex_perf_concurrency_limit_'];

/**
 * The kept gauges of one scrape, summed over pools: `pool` [max, used, pending] and `limit`
 * [limit, inFlight, queued]; either is null when its metric is absent (no pg plugin; the limit off).
 * A figure inside is null when its own metric is absent.
 * @param {string} text  the Prometheus text format
 * @returns {{ pool: [number, number | null, number | null] | null, limit: [number, number | null, number | null] | null }}
 */
export function parseGauges(text) {
  const lines = text.split('\n').filter((line) => PREFIXES.some((p) => line.startsWith(p)));
  const samples = parseMetrics(lines.join('\n'));
  const has = (name) => samples.some((s) => s.name === name);
  const value = (name, labels) => (has(name) ? sum(samples, name, labels) : null);
  return {
    pool: has(GAUGES.poolMax) ? [sum(samples, GAUGES.poolMax), value(GAUGES.poolCount, { db_client_connection_state: 'used' }), value(GAUGES.poolPending)] : null,
    limit: has(GAUGES.limit) ? [sum(samples, GAUGES.limit), value(GAUGES.inFlight), value(GAUGES.queued)] : null,
  };
}

/**
 * @typedef {object} MetricsSeries  what a run stores as `metricsSeries` (null for a variant without /metrics)
 * @property {number} intervalMs
 * @property {number} scrapes        scrapes that answered
 * @property {number} failures       scrapes that failed or timed out
 * @property {string | null} error   the first failure's reason
 * @property {[number, number, number | null, number | null][]} pool   [ms since origin, max, used, pending]; no rows: no pool metrics
 * @property {[number, number, number | null, number | null][]} limit  [ms since origin, limit, in flight, queued]; no rows: the limit was off
 */

/**
 * @param {object} o
 * @param {string} o.url
 * @param {number} [o.origin]       time 0 of the series, on the `now` clock (the app's spawn: app.startedAt)
 * @param {number} [o.intervalMs=1000]
 * @param {() => number} [o.now]    the clock (performance.now)
 * @param {(url: string, timeoutMs: number) => Promise<string>} [o.fetchText]
 */
export function metricsSampler({ url, origin, intervalMs = 1000, now = () => performance.now(), fetchText = defaultFetchText }) {
  const t0 = origin ?? now();
  /** @type {MetricsSeries} */
  const series = { intervalMs, scrapes: 0, failures: 0, error: null, pool: [], limit: [] };
  let timer = null;
  let pending = null;

  async function scrape() {
    // Stamped when the scrape is sent: the gauges are read by the exporter right after it arrives.
    const t = Math.round(now() - t0);
    try {
      const { pool, limit } = parseGauges(await fetchText(url, intervalMs));
      series.scrapes++;
      if (pool) series.pool.push([t, ...pool]);
      if (limit) series.limit.push([t, ...limit]);
    } catch (error) {
      series.failures++;
      series.error ??= error?.cause?.code ?? error?.message ?? String(error);
    }
  }

  const sampler = {
    /** One scrape now, unless one is still out. */
    tick() {
      pending ??= scrape().finally(() => (pending = null));
      return pending;
    },
    /** The first scrape now, then one every intervalMs, on an unref'd timer. */
    start() {
      if (timer) return sampler;
      void sampler.tick();
      timer = setInterval(() => void sampler.tick(), intervalMs);
      timer.unref();
      return sampler;
    },
    /** Stops the timer, waits for a scrape still out, and returns the series. */
    async stop() {
      clearInterval(timer);
      await pending;
      return series;
    },
  };
  return sampler;
}

async function defaultFetchText(url, timeoutMs) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

/**
 * The range of each figure over a run's series, for the Markdown summary; null for a run without /metrics.
 * `limit` is null when the limit was off (scrapes answered without its gauge).
 * @param {MetricsSeries | null | undefined} s
 */
export function seriesRanges(s) {
  if (!s) return null;
  const range = (rows, i) => {
    const xs = rows.map((r) => r[i]).filter((x) => x != null);
    return xs.length ? [Math.min(...xs), Math.max(...xs)] : null;
  };
  return {
    scrapes: s.scrapes,
    pool: s.pool.length ? { max: range(s.pool, 1), used: range(s.pool, 2), pending: range(s.pool, 3) } : null,
    limit: s.limit.length ? { limit: range(s.limit, 1), inFlight: range(s.limit, 2), queued: range(s.limit, 3) } : null,
  };
}
