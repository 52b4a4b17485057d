// The bench's HTML report: one self-contained file (uPlot, its CSS, the data and the drawing code are
// inlined; nothing is fetched), with the KPI table and six charts: latency distribution, throughput,
// mean latency, resident memory, pool size and concurrency limit over time, bare against plugin.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fmt } from '../../lib/bench-util.mjs';
import { kpiRows, representativeRun } from './kpis.mjs';
import { SMOKE_NOTE } from './markdown.mjs';

const require = createRequire(import.meta.url);

/** The charts, in page order; the test in test/e2e/bench.test.ts checks that each one drew. */
export const CHARTS = ['latency', 'throughput', 'mean-latency', 'memory', 'pool', 'concurrency'];

/**
 * The two charts from the plugin's /metrics (the run's `metricsSeries`): each figure a column of its rows,
 * drawn per variant; `absent` is the legend of a variant that has no /metrics, saying what it runs with.
 */
const GAUGE_CHARTS = {
  pool: {
    rows: 'pool',
    columns: [['pool max', 1, 'main'], ['in use', 2, 'thin'], ['waiting for a connection', 3, 'dash']],
    absent: { bare: "bare: pg's fixed max 10, no /metrics to sample" },
    missing: 'no pg pool in the scrapes of /metrics',
  },
  concurrency: {
    rows: 'limit',
    columns: [['limit', 1, 'main'], ['in flight', 2, 'thin'], ['queued', 3, 'dash']],
    absent: { bare: 'bare: no limit, no /metrics to sample' },
    missing: 'concurrency limit off in this run (its default)',
  },
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Series for the charts: the representative run of each variant (see kpis.mjs summarize). */
export function chartData(results) {
  const pick = (variant) => representativeRun(results, variant);
  const variants = ['bare', 'plugin'].filter((v) => pick(v));
  const runs = variants.map(pick);
  // Percentile p is drawn at x = -log10(1 - p/100) ("nines": 90 % → 1, 99 % → 2), where tails get room.
  const nines = (p) => -Math.log10(1 - p / 100);
  const curve = runs[0].percentiles.filter(([p]) => p < 100).map(([p]) => p);
  const seconds = Math.max(...runs.map((r) => r.perSecond.length));
  const rssTimes = [...new Set(runs.flatMap((r) => r.rssSeries.map(([t]) => Math.round(t / 500) * 0.5)))].sort((a, b) => a - b);
  const rssAt = (run) => rssTimes.map((t) => run.rssSeries.find(([ms]) => Math.round(ms / 500) * 0.5 === t)?.[1] ?? null);
  return {
    variants,
    latency: { percentiles: curve, x: curve.map(nines), ys: runs.map((r) => curve.map((p) => r.percentiles.find(([q]) => q === p)?.[1] ?? null)) },
    throughput: { x: Array.from({ length: seconds }, (_, i) => i + 1), ys: runs.map((r) => Array.from({ length: seconds }, (_, i) => r.perSecond[i]?.ok ?? null)) },
    meanLatency: { x: Array.from({ length: seconds }, (_, i) => i + 1), ys: runs.map((r) => Array.from({ length: seconds }, (_, i) => r.perSecond[i]?.meanMs ?? null)) },
    memory: { x: rssTimes, ys: runs.map(rssAt) },
    pool: gaugeChart(GAUGE_CHARTS.pool, variants, runs),
    concurrency: gaugeChart(GAUGE_CHARTS.concurrency, variants, runs),
  };
}

/**
 * A chart of gauges over time (seconds since the app's spawn, like memory): one series per column per
 * variant with rows, one empty legend entry per variant without. `note` replaces the chart when nothing
 * at all was sampled, and says why, so the page never shows a blank plot.
 */
function gaugeChart(spec, variants, runs) {
  const at = (ms) => Math.round(ms / 100) / 10;
  const x = [...new Set(runs.flatMap((r) => (r.metricsSeries?.[spec.rows] ?? []).map(([t]) => at(t))))].sort((a, b) => a - b);
  const series = [];
  for (const [i, run] of runs.entries()) {
    const variant = variants[i];
    const rows = run.metricsSeries?.[spec.rows] ?? [];
    const empty = (label) => series.push({ variant, label, style: 'main', ys: x.map(() => null) });
    if (!run.metricsSeries) empty(spec.absent[variant] ?? `${variant}: not sampled`);
    else if (rows.length === 0) empty(`${variant}: ${run.metricsSeries.scrapes > 0 ? spec.missing : '/metrics did not answer'}`);
    else {
      const byTime = new Map(rows.map((r) => [at(r[0]), r]));
      for (const [name, column, style] of spec.columns) series.push({ variant, label: `${variant}: ${name}`, style, ys: x.map((t) => byTime.get(t)?.[column] ?? null) });
    }
  }
  if (series.some((s) => s.ys.some((y) => y != null))) return { x, series, note: null };
  const scraped = runs.some((r) => r.metricsSeries?.scrapes > 0);
  return { x: [], series: [], note: scraped ? spec.missing : runs.some((r) => r.metricsSeries) ? "the plugin's /metrics did not answer during the run" : 'no variant has /metrics to sample' };
}

/** @param {any} results  from ../suite.mjs   @param {ReturnType<typeof import('./kpis.mjs').compareResults>} [comparison] */
export function benchHtml(results, comparison) {
  const uplotJs = fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const { meta } = results;
  const o = meta.options;
  const rows = kpiRows(results.summary)
    .map((k) => {
      const show = (x) => (x == null ? '–' : k.unit === '%' ? `${fmt(x * 100, k.digits)} %` : `${fmt(x, k.digits)} ${k.unit}`);
      // The mark goes on the figure the target is about: the ratio, or the plugin's value (the hit ratio).
      const cls = k.met == null ? '' : `${k.met ? 'met' : 'missed'}${k.target?.value != null ? ' on-value' : ''}`;
      const target = k.target?.ratio != null ? `${k.better === 'lower' ? '≤' : '≥'} ${k.target.ratio}×` : k.target?.value != null ? `${k.better === 'lower' ? '≤' : '≥'} ${show(k.target.value)}` : '—';
      return `<tr class="${cls}"><td>${escape(k.label)}</td><td>${show(k.bare)}</td><td>${show(k.plugin)}</td><td>${k.ratio == null ? '–' : `${k.ratio.toFixed(2)}×`}</td><td>${escape(target)}</td><td>${escape(k.why)}</td></tr>`;
    })
    .join('\n');
  const problems = results.problems.length
    ? `<section class="problems"><h2>Problems (${results.problems.length})</h2><ul>${results.problems.map((p) => `<li>${escape(p.split('\n')[0])}</li>`).join('')}</ul></section>`
    : '';
  const compared = comparison
    ? `<h2>Against the previous results (threshold ${(comparison.threshold * 100).toFixed(0)} %)</h2>
<table id="comparison"><thead><tr><th>KPI</th><th>compared</th><th>previous</th><th>now</th><th>change</th><th></th></tr></thead><tbody>
${comparison.rows
  .map((r) => `<tr class="${r.skipped ? '' : r.regressed ? 'regressed' : 'ok'}"><td>${escape(r.label)}</td><td>${r.basis === 'ratio' ? 'plugin / bare' : 'plugin value'}</td><td>${fmt(r.previous, 3)}</td><td>${fmt(r.current, 3)}</td><td>${r.change == null ? '–' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`}</td><td>${r.skipped ? 'no data' : r.regressed ? 'regressed' : 'ok'}</td></tr>`)
  .join('\n')}
</tbody></table>`
    : '';
  // JSON inside <script>: "<" escaped so no value can close the element.
  const charts = chartData(results);
  const data = JSON.stringify(charts).replace(/</g, '\\u003c');
  // A chart with nothing to draw is its note instead, in the page itself (it needs no script to show).
  const chartDiv = (id) => {
    const note = charts[id]?.note;
    return note
      ? `<div class="chart" id="chart-${id}" data-chart="${id}" data-rendered="0" data-note="${escape(note)}"><p class="note">${escape(note[0].toUpperCase() + note.slice(1))}.</p></div>`
      : `<div class="chart" id="chart-${id}" data-chart="${id}"></div>`;
  };
  const loadWindow = representativeRun(results, 'plugin')?.loadWindowMs;
  const measured = loadWindow ? ` The measured load ran from ${fmt(loadWindow[0] / 1000, 1)} s to ${fmt(loadWindow[1] / 1000, 1)} s (warm-up before it).` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plandex-perf bench${o.smoke ? ' (smoke run)' : ''} — ${escape(meta.date.slice(0, 10))} — Node ${escape(meta.node)}</title>
<style>${uplotCss}
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .3rem .6rem; border-bottom: 1px solid #dde; text-align: right; }
td:first-child, th:first-child, td:last-child, th:last-child { text-align: left; }
tr.met:not(.on-value) td:nth-child(4), tr.met.on-value td:nth-child(3) { color: #17803d; font-weight: 600; }
tr.missed:not(.on-value) td:nth-child(4), tr.missed.on-value td:nth-child(3) { color: #b3261e; font-weight: 600; }
#comparison tr.regressed td:last-child { color: #b3261e; font-weight: 600; } #comparison tr.ok td:last-child { color: #17803d; }
.meta { color: #556; } .problems { border: 2px solid #b3261e; padding: 0 1rem; } .chart { margin: 1rem 0 2rem; }
.error { color: #b3261e; font-weight: 600; } .chart .note { color: #556; font-style: italic; border: 1px dashed #bbc; padding: 2rem; text-align: center; }
</style>
</head>
<body>
<h1>plandex-perf bench${o.smoke ? ' (smoke run)' : ''}: the reference app bare and with the plugin (profile <code>${escape(o.profile)}</code>)</h1>
<p class="meta">${escape(meta.date)} · Node ${escape(meta.node)} · ${escape(meta.cpu)} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB ·
scenario <code>${escape(o.scenario)}</code>, ${o.connections} connections, ${o.warmupSec} s warm-up + ${o.durationSec} s measured × ${o.rounds} round(s) · database ${escape(meta.database)} · CPU pinning: ${escape(meta.pinning)}</p>
${o.smoke ? `<p class="problems" id="smoke">${escape(SMOKE_NOTE.replaceAll('**', '').replaceAll('`', ''))}</p>` : ''}
${problems}
<h2>KPIs (medians over rounds)</h2>
<table id="kpis"><thead><tr><th>KPI</th><th>bare</th><th>with plugin</th><th>plugin / bare</th><th>target</th><th>the project's target</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${compared}
<h2>Latency distribution (2xx responses)</h2><div class="chart" id="chart-latency" data-chart="latency"></div>
<h2>Throughput over time (2xx per second)</h2><div class="chart" id="chart-throughput" data-chart="throughput"></div>
<h2>Mean latency over time</h2><div class="chart" id="chart-mean-latency" data-chart="mean-latency"></div>
<h2>Resident memory (RSS) from start-up</h2><div class="chart" id="chart-memory" data-chart="memory"></div>
<h2>Pool size over time</h2>${chartDiv('pool')}
<p class="meta">From the plugin's <code>/metrics</code>, scraped about once a second from start-up: <code>db_client_connection_max</code> summed over pools, connections in use, requests waiting for one. The bare app has no <code>/metrics</code>: its pool is pg's default, a fixed 10, not sampled.${measured}</p>
<h2>Concurrency limit over time</h2>${chartDiv('concurrency')}
<p class="meta">The adaptive concurrency limit (<code>plandex_perf_concurrency_limit_limit</code>), requests in flight and queued, from the same scrapes; its gauges exist only while the limit is on (off by default). The bare app has no limit.</p>
<p class="meta">Charts show the run of each variant whose throughput is closest to its median. Commands: bare <code>${escape(meta.variants.bare.command)}</code>; plugin <code>${escape(meta.variants.plugin.command)}</code>.</p>
<script>${uplotJs}</script>
<script>
const DATA = ${data};
const COLORS = { bare: '#6b7a99', plugin: '#17803d' };
function draw(id, title, x, ys, opts) {
  const el = document.getElementById(id);
  const series = [{ label: opts.xLabel, value: opts.xValue }].concat(DATA.variants.map((v) => ({ label: v, stroke: COLORS[v], width: 2, spanGaps: true, value: (u, y) => (y == null ? '–' : y.toFixed(opts.digits) + ' ' + opts.unit) })));
  const plot = new uPlot({
    width: Math.min(960, el.clientWidth || 960), height: 300, series,
    scales: { x: { time: false }, y: opts.log ? { distr: 3 } : {} },
    axes: [{ label: opts.xLabel, values: opts.xTicks, splits: opts.xSplits, incrs: opts.xIncrs }, { label: opts.unit }],
  }, [x].concat(ys), el);
  el.dataset.rendered = String(ys.reduce((n, s) => n + s.filter((y) => y != null).length, 0));
  return plot;
}
// Gauge charts: each entry of spec.series is one line, coloured by its variant; 'thin' and 'dash' are the secondary figures.
function drawGauges(id, spec, opts) {
  if (spec.note) return;
  const el = document.getElementById(id);
  const series = [{ label: opts.xLabel }].concat(spec.series.map((s) => ({ label: s.label, stroke: COLORS[s.variant], width: s.style === 'main' ? 2 : 1, dash: s.style === 'dash' ? [6, 4] : undefined, spanGaps: true, value: (u, y) => (y == null ? '–' : y.toFixed(0)) })));
  new uPlot({
    width: Math.min(960, el.clientWidth || 960), height: 300, series,
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } },
    axes: [{ label: opts.xLabel, incrs: opts.xIncrs }, { label: opts.unit }],
  }, [spec.x].concat(spec.series.map((s) => s.ys)), el);
  el.dataset.rendered = String(spec.series.reduce((n, s) => n + s.ys.filter((y) => y != null).length, 0));
}
try {
  const L = DATA.latency;
  draw('chart-latency', 'latency', L.x, L.ys, { xLabel: 'percentile', unit: 'ms', digits: 2, log: true,
    xValue: (u, x) => (x == null ? '' : (100 * (1 - Math.pow(10, -x))).toFixed(2) + ' %'),
    xSplits: () => [0, 1, 2, 3, 4].filter((t) => t <= L.x[L.x.length - 1]),
    xTicks: (u, ticks) => ticks.map((t) => ['0 %', '90 %', '99 %', '99.9 %', '99.99 %'][t] ?? '') });
  const SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
  draw('chart-throughput', 'throughput', DATA.throughput.x, DATA.throughput.ys, { xLabel: 'second', unit: '2xx/s', digits: 0, xIncrs: SECONDS });
  draw('chart-mean-latency', 'mean latency', DATA.meanLatency.x, DATA.meanLatency.ys, { xLabel: 'second', unit: 'ms', digits: 2, xIncrs: SECONDS });
  draw('chart-memory', 'memory', DATA.memory.x, DATA.memory.ys, { xLabel: 'seconds since start', unit: 'MB', digits: 1, xIncrs: [0.5].concat(SECONDS) });
  drawGauges('chart-pool', DATA.pool, { xLabel: 'seconds since start', unit: 'connections', xIncrs: SECONDS });
  drawGauges('chart-concurrency', DATA.concurrency, { xLabel: 'seconds since start', unit: 'requests', xIncrs: SECONDS });
  document.body.dataset.charts = String(document.querySelectorAll('[data-rendered]').length);
} catch (error) {
  document.body.insertAdjacentHTML('afterbegin', '<p class="error">Charts failed to draw: ' + String(error).replace(/</g, '&lt;') + '</p>');
  throw error;
}
</script>
</body>
</html>
`;
}
