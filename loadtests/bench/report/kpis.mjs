// The bench's figures: medians per variant, the project's KPIs with their ratios and targets, and the comparison of two result files (`plandex-perf bench --compare previous.json`).
// Pure functions over the results object of ../suite.mjs; no I/O.

import { median } from '../../lib/bench-util.mjs';

/**
 * The project's KPIs, plugin against bare, with its targets: database work −50–70 %, API latency −25–50 %,
 * peak memory −30–40 %, cache hit rate ≥ 70 %. A target is the near end of its range as a ratio
 * (plugin / bare ≤ 0.5 for −50 %) or, for the cache, a value; null where there is none. `why` is the
 * target as the report prints it, so a reader needs no other document.
 */
export const KPIS = /** @type {const} */ ([
  { key: 'dbPerRequestMs', label: 'DB time per request', unit: 'ms', digits: 2, better: 'lower', target: { ratio: 0.5 }, why: 'database work −50–70 %' },
  { key: 'p50', label: 'API latency p50', unit: 'ms', digits: 2, better: 'lower', target: { ratio: 0.75 }, why: 'API latency −25–50 %' },
  { key: 'p95', label: 'API latency p95', unit: 'ms', digits: 2, better: 'lower', target: { ratio: 0.75 }, why: 'API latency −25–50 %' },
  { key: 'p99', label: 'API latency p99', unit: 'ms', digits: 2, better: 'lower', target: { ratio: 0.75 }, why: 'API latency −25–50 %' },
  { key: 'rps', label: 'Throughput', unit: '2xx/s', digits: 0, better: 'higher', target: null, why: 'no target; reported' },
  { key: 'hwmMB', label: 'Peak RSS', unit: 'MB', digits: 1, better: 'lower', target: { ratio: 0.7 }, why: 'peak memory −30–40 %' },
  { key: 'cacheHitRatio', label: 'Cache hit ratio', unit: '%', digits: 1, better: 'higher', target: { value: 0.7 }, why: 'cache hit rate ≥ 70 %' },
]);

/** Medians over rounds per variant (counts are totals: one failed request matters, a median would hide it). */
export function summarize(runs) {
  const variants = [...new Set(runs.map((r) => r.variant))];
  return Object.fromEntries(
    variants.map((variant) => {
      const mine = runs.filter((r) => r.variant === variant);
      const med = (pick) => median(mine.map(pick));
      const total = (pick) => mine.reduce((a, r) => a + (pick(r) ?? 0), 0);
      const rps = med((r) => r.rps);
      // The run whose throughput is closest to the median stands for the variant in the charts.
      const representative = mine.reduce((best, r) => (Math.abs(r.rps - rps) < Math.abs(best.rps - rps) ? r : best), mine[0]);
      return [
        variant,
        {
          runs: mine.length,
          rps,
          p50: med((r) => r.latency.p50),
          p95: med((r) => r.latency.p95),
          p99: med((r) => r.latency.p99),
          p999: med((r) => r.latency.p999),
          hwmMB: med((r) => r.hwmMB),
          startupMs: med((r) => r.startupMs),
          dbPerRequestMs: med((r) => r.db?.perRequestMs),
          queryP95Ms: med((r) => r.client?.queryP95Ms),
          poolMax: med((r) => r.poolMax),
          cacheHitRatio: med((r) => r.cache?.ratio),
          requests: total((r) => r.requests),
          errors: total((r) => r.errors + r.timeouts),
          shed: total((r) => r.shed),
          // Who answered those 503s, from the shedders' counters; null when a run could not tell (bare, no /metrics).
          shedBy: mine.every((r) => r.shedBy) ? { heapBudget: total((r) => r.shedBy.heapBudget), concurrencyLimit: total((r) => r.shedBy.concurrencyLimit) } : null,
          representative: { round: representative.round },
        },
      ];
    }),
  );
}

/** The run that stands for `variant` in the charts and the series: its representative round (see summarize). */
export function representativeRun(results, variant) {
  const round = results.summary[variant]?.representative?.round;
  return results.runs.find((r) => r.variant === variant && r.round === round);
}

/** One row per KPI: both figures, the ratio, and whether the target is met (null: no target or no data). */
export function kpiRows(summary) {
  const bare = summary.bare ?? {};
  const plugin = summary.plugin ?? {};
  return KPIS.map((k) => {
    const b = finite(bare[k.key]);
    const p = finite(plugin[k.key]);
    const ratio = b != null && p != null && b !== 0 ? p / b : null;
    let met = null;
    if (k.target?.ratio != null && ratio != null) met = k.better === 'lower' ? ratio <= k.target.ratio : ratio >= k.target.ratio;
    if (k.target?.value != null && p != null) met = k.better === 'lower' ? p <= k.target.value : p >= k.target.value;
    return { ...k, bare: b, plugin: p, ratio, met };
  });
}

/** Throws with a coded message unless `value` is a results object this version can read. */
export function checkResults(value, name) {
  if (!value || typeof value !== 'object' || value.format !== 'plandex-perf-bench/1' || !value.summary || typeof value.summary !== 'object') {
    throw new Error(`PPERF_ERR_BENCH_RESULTS: ${name} is not a plandex-perf bench results file (expected "format": "plandex-perf-bench/1" and a summary)`);
  }
  return value;
}

/**
 * Compare two results: each KPI's ratio against bare where both runs have one (bare is measured in the
 * same run, so the machine's speed cancels out), else the plugin's own value (the hit ratio). A KPI
 * regressed when it moved the wrong way by more than `threshold` (relative, 0.1 = 10 %).
 */
export function compareResults(previous, current, threshold = 0.1) {
  const before = kpiRows(previous.summary);
  const now = kpiRows(current.summary);
  const rows = now.map((row, i) => {
    const old = before[i];
    const basis = row.ratio != null && old.ratio != null ? 'ratio' : 'value';
    const prev = basis === 'ratio' ? old.ratio : old.plugin;
    const cur = basis === 'ratio' ? row.ratio : row.plugin;
    if (prev == null || cur == null || prev === 0) return { key: row.key, label: row.label, basis, previous: prev, current: cur, change: null, regressed: false, skipped: true };
    const change = cur / prev - 1;
    const regressed = row.better === 'lower' ? change > threshold : change < -threshold;
    return { key: row.key, label: row.label, basis, previous: prev, current: cur, change, regressed, skipped: false };
  });
  return { threshold, rows, regressions: rows.filter((r) => r.regressed) };
}

function finite(x) {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}
