// The bench's Markdown summary: the KPIs side by side with their ratios and targets, then how the run
// was made (machine, load, variants) and anything that went wrong.

import { fmt } from '../../lib/bench-util.mjs';
import { seriesRanges } from '../../lib/metrics-sampler.mjs';
import { kpiRows, representativeRun } from './kpis.mjs';

/** What a `--quick` report says first: it checked that the bench runs, it measured nothing. */
export const SMOKE_NOTE =
  '**Smoke run (`--quick`)**: one short round, to check that the bench works end to end. Its figures are not a measurement ' +
  'and its ✓/✗ mean nothing; run without `--quick` (2 rounds of 20 s by default) to measure.';

const mark = (met) => (met == null ? '' : met ? ' ✓' : ' ✗');

/** @param {any} results  from ../suite.mjs   @param {ReturnType<typeof import('./kpis.mjs').compareResults>} [comparison] */
export function benchMarkdown(results, comparison) {
  const { meta, summary, problems } = results;
  const o = meta.options;
  const L = [];
  L.push(`## plandex-perf bench${o.smoke ? ' (smoke run)' : ''}: the reference app bare and with the plugin (profile \`${o.profile}\`)`, '');
  if (o.smoke) L.push(SMOKE_NOTE, '');
  L.push(
    `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB · ${meta.platform} · ` +
      `load average before ${meta.loadavgBefore.map((x) => x.toFixed(2)).join('/')}`,
    '',
  );
  L.push('| KPI | bare | with plugin | plugin / bare | target |');
  L.push('|---|--:|--:|--:|---|');
  for (const k of kpiRows(summary)) {
    const show = (x) => (k.unit === '%' ? (x == null ? '–' : `${fmt(x * 100, k.digits)} %`) : `${fmt(x, k.digits)} ${k.unit}`);
    const target = k.target?.ratio != null ? `${k.better === 'lower' ? '≤' : '≥'} ${k.target.ratio}× (${k.why})` : k.target?.value != null ? `${k.better === 'lower' ? '≤' : '≥'} ${show(k.target.value)} (${k.why})` : `— (${k.why})`;
    const ratio = k.ratio == null ? '–' : `${k.ratio.toFixed(2)}×`;
    L.push(`| ${k.label} | ${k.bare == null ? '–' : show(k.bare)} | ${k.plugin == null ? '–' : show(k.plugin)} | ${ratio}${k.target?.ratio != null ? mark(k.met) : ''} | ${target}${k.target?.value != null ? mark(k.met) : ''} |`);
  }
  L.push('');
  const plugin = summary.plugin ?? {};
  L.push(
    'Targets, plugin against bare: database work −50–70 %, API latency −25–50 %, peak memory −30–40 %, cache hit rate ≥ 70 %; ' +
      'a KPI is ✓ when its ratio reaches the near end of its range. ' +
      `Medians of ${o.rounds} round(s). DB time is PostgreSQL's own (\`pg_stat_database.active_time\` over the app's life, divided by its responses), ` +
      'so the bare app is measured without any instrumentation. ' +
      (plugin.queryP95Ms != null ? `Client-side query p95 with the plugin (\`db.client.operation.duration\`): ${fmt(plugin.queryP95Ms, 2)} ms. ` : '') +
      (plugin.poolMax != null ? `pg pool max with the plugin: ${fmt(plugin.poolMax, 0)} (bare: pg's default, 10). ` : '') +
      overTime(seriesRanges(representativeRun(results, 'plugin')?.metricsSeries)) +
      `Requests: bare ${summary.bare?.requests ?? 0}, plugin ${plugin.requests ?? 0}; transport errors and timeouts: ${(summary.bare?.errors ?? 0) + (plugin.errors ?? 0)}; ` +
      shedNote(plugin),
    '',
  );
  if (comparison) {
    L.push(`### Against the previous results (threshold ${(comparison.threshold * 100).toFixed(0)} %)`, '');
    L.push('| KPI | compared | previous | now | change | |');
    L.push('|---|---|--:|--:|--:|:-:|');
    for (const r of comparison.rows) {
      L.push(`| ${r.label} | ${r.basis === 'ratio' ? 'plugin / bare' : 'plugin value'} | ${fmt(r.previous, 3)} | ${fmt(r.current, 3)} | ${r.change == null ? '–' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`} | ${r.skipped ? 'skipped (no data)' : r.regressed ? '✗ regressed' : '✓'} |`);
    }
    L.push('');
  }
  L.push(
    `Load: scenario \`${o.scenario}\` (${meta.mix.join(', ')}), ids ${meta.ids}, ${o.connections} connections, ${o.warmupSec} s warm-up + ${o.durationSec} s measured per run, ` +
      `seed scale ${o.scale}, database re-seeded before each run (${meta.database}), variants interleaved with their order rotated per round. CPU pinning: ${meta.pinning}. ` +
      `Node's default heap limit here: ${fmt(meta.defaultHeapLimitMB, 0)} MB.`,
    '',
    `- bare: \`${meta.variants.bare.command}\``,
    '- plugin: `' + meta.variants.plugin.command + '`' + ` with ${Object.entries(meta.variants.plugin.env).map(([k, v]) => `${k}=${v}`).join(' ')}` +
      (o.cache ? `; cache: \`getUserPlans\` wrapped zero-code, L1${o.redisUrl ? ' + Redis L2' : ' only'}` : '; cache off'),
    '',
    inheritedNote(meta.ignoredEnv),
    '',
  );
  if (problems.length) L.push(`**Problems (${problems.length}): the figures above are not trustworthy.**`, '', ...problems.map((p) => `- ${p.split('\n')[0]}`), '');
  return L.join('\n');
}

/**
 * The plugin's 503s and what answered them: the heap budget and the concurrency limit each count theirs
 * (../suite.mjs reads both counters over the measured window); the rest came from the app. Without those
 * counts (older results, /metrics unanswered) the line names no shedder.
 */
function shedNote(plugin) {
  const shed = plugin.shed ?? 0;
  const by = plugin.shedBy;
  if (shed === 0) return '503 answers with the plugin: 0.';
  if (!by) return `503 answers with the plugin: ${shed} (what answered them is not known: the shedders' counters were not read).`;
  const rest = Math.max(0, shed - by.heapBudget - by.concurrencyLimit);
  const parts = [
    by.concurrencyLimit > 0 ? `${by.concurrencyLimit} by the concurrency limit` : null,
    by.heapBudget > 0 ? `${by.heapBudget} by the heap budget` : null,
    rest > 0 ? `${rest} counted by neither shedder, so the app's` : null,
  ].filter(Boolean);
  return `503 answers with the plugin: ${shed} (${parts.join(', ')}; from the shedders' own counters over the same window).`;
}

/**
 * What the apps did not inherit. Results written before the bench dropped the caller's settings have no
 * `ignoredEnv`: their apps inherited the shell's, and the note says it cannot tell which.
 */
function inheritedNote(ignored) {
  if (ignored === undefined) return "Environment: these results predate the bench's clean environment; the apps inherited the caller's PLANDEX_PERF_* and OTEL_* variables, if any.";
  const base = 'Environment: the plugin runs with its defaults plus the variables above; PLANDEX_PERF_*, OTEL_*, NODE_OPTIONS and UV_THREADPOOL_SIZE from the shell reach neither app';
  return ignored.length ? `${base} (ignored here: ${ignored.map((name) => `\`${name}\``).join(', ')}).` : `${base} (none was set).`;
}

/** The plugin run's pool and limit over time, as ranges (the HTML report charts them); '' without a series. */
function overTime(r) {
  if (!r || r.scrapes === 0) return '';
  const range = (x) => (x == null ? '–' : x[0] === x[1] ? `${x[0]}` : `${x[0]}–${x[1]}`);
  const pool = r.pool ? `pool max ${range(r.pool.max)}, in use ${range(r.pool.used)}, waiting ${range(r.pool.pending)}` : 'no pg pool metrics';
  const limit = r.limit ? `concurrency limit ${range(r.limit.limit)}, in flight ${range(r.limit.inFlight)}, queued ${range(r.limit.queued)}` : 'concurrency limit off in this run (its default)';
  return `Over the plugin's run (/metrics scraped once a second, ${r.scrapes} times): ${pool}; ${limit}. `;
}
