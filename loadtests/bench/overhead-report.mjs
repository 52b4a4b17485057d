// Statistics, the Markdown report and --compare for the overhead bench (overhead.mjs): pure functions of the
// results data, so a results file can be re-reported or compared without running anything.

import { fmt, median } from '../lib/bench-util.mjs';

export const FORMAT = 'plandex-perf-overhead/2';
const _ENDPOINT_LABEL = { hello: '/hello (trivial)', db: '/users/{id} (one query)' };

/** Medians per variant over its rounds, and ratios (or deltas) against bare. */
export function summarise(runs, variants, loads) {
  const medians = {};
  for (const name of variants) {
    const rs = runs.filter((r) => r.variant === name);
    const m = { runs: rs.length, startupMs: median(rs.map((r) => r.startupMs)), idleRssMB: median(rs.map((r) => r.idleRssMB)), loadedRssMB: median(rs.map((r) => r.loadedRssMB)), load: {} };
    for (const l of loads) {
      m.load[l] = {};
      for (const e of ['hello', 'db']) {
        m.load[l][e] = { rps: median(rs.map((r) => r.load[l]?.[e]?.rps)), p99: median(rs.map((r) => r.load[l]?.[e]?.latency?.p99)), cpuUs: median(rs.map((r) => r.load[l]?.[e]?.cpuUs).filter((x) => typeof x === 'number')) };
      }
    }
    medians[name] = m;
  }
  const bare = medians.bare;
  const ratios = {};
  for (const name of variants) {
    if (name === 'bare') continue;
    const m = medians[name];
    const r = {
      startupDeltaMs: m.startupMs - bare.startupMs,
      idleRssDeltaMB: m.idleRssMB - bare.idleRssMB,
      loadedRssDeltaMB: m.loadedRssMB - bare.loadedRssMB,
      idleRss: m.idleRssMB / bare.idleRssMB,
      loadedRss: m.loadedRssMB / bare.loadedRssMB,
      startup: m.startupMs / bare.startupMs,
      throughput: {},
    };
    for (const l of loads) {
      r.throughput[l] = {};
      for (const e of ['hello', 'db']) {
        // Ratio of the medians, and the median of the per-round ratios (robust to drift between rounds).
        const perRound = runs.filter((x) => x.variant === name).map((x) => {
          const b = runs.find((y) => y.variant === 'bare' && y.round === x.round);
          return b ? x.load[l]?.[e]?.rps / b.load[l]?.[e]?.rps : null;
        });
        const cpuPerRound = runs.filter((x) => x.variant === name).map((x) => {
          const b = runs.find((y) => y.variant === 'bare' && y.round === x.round);
          const ours = x.load[l]?.[e]?.cpuUs;
          const theirs = b?.load[l]?.[e]?.cpuUs;
          return typeof ours === 'number' && typeof theirs === 'number' && ours > 0 ? theirs / ours : null;
        });
        // cpu: bare's CPU per request over this variant's (1 = costs nothing; 0.8 = 25 % more CPU per request).
        r.throughput[l][e] = { ofMedians: m.load[l][e].rps / bare.load[l][e].rps, perRoundMedian: median(perRound), cpu: median(cpuPerRound.filter((x) => x !== null)) };
      }
    }
    ratios[name] = r;
  }
  return { medians, ratios };
}

/**
 * The defaults' ratios against bare, before vs now. Throughput ratios regress when they fall by more than
 * `threshold` (relative); RSS and start-up ratios (variant / bare) when they grow by more than it.
 */
export function compareResults(previous, now, threshold) {
  const before = previous.ratios?.defaults;
  const after = now.ratios?.defaults;
  const rows = [];
  if (!before || !after) return { rows, regressions: [], note: 'one of the files has no defaults variant: nothing compared' };
  const row = (label, b, a, higherIsBetter) => {
    if (b == null || a == null || !Number.isFinite(b) || !Number.isFinite(a)) return;
    const change = a / b - 1;
    rows.push({ label, before: b, after: a, change, regressed: higherIsBetter ? change < -threshold : change > threshold });
  };
  for (const l of Object.keys(after.throughput)) {
    for (const e of ['hello', 'db']) row(`throughput ${e} (${l})`, before.throughput?.[l]?.[e]?.ofMedians, after.throughput[l][e].ofMedians, true);
    for (const e of ['hello', 'db']) row(`CPU per request ${e} (${l})`, before.throughput?.[l]?.[e]?.cpu, after.throughput[l][e].cpu, true);
  }
  row('RSS idle', before.idleRss, after.idleRss, false);
  row('RSS after load', before.loadedRss, after.loadedRss, false);
  row('start-up', before.startup, after.startup, false);
  return { rows, regressions: rows.filter((r) => r.regressed), threshold, previousDate: previous.meta?.date };
}

const signed = (x, digits) => (x == null || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);

export function markdown(data, targets, comparison) {
  const { meta, medians, ratios, problems } = data;
  const loads = meta.loads;
  const L = [];
  L.push(`## Overhead benchmark${meta.quick ? ' (quick smoke run — not representative)' : ''}`, '');
  L.push(`${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM · ${meta.platform}`, '');
  L.push(
    `${meta.rounds} round(s), variants interleaved with their order rotated per round; per run: a fresh app (reference app, ESM node:http + pg, default pg.Pool), ` +
      `RSS 0.5 s after listening, ${meta.warmupSec} s warm-up, then ${meta.durationSec} s on each endpoint with each load generator (${loads.join(', ')}), ` +
      `${meta.connections} connections; medians over rounds. Database: ${meta.database}. CPU pinning: ${meta.pinning}. ` +
      `1-min load average before the run: ${meta.loadavgBefore.toFixed(2)}.`,
    '',
  );
  if (meta.loadavgBefore > meta.cpus * 0.5) L.push(`> ⚠ The machine was busy before the run (load average ${meta.loadavgBefore.toFixed(2)} on ${meta.cpus} CPUs): compare ratios only.`, '');

  const names = Object.keys(ratios);
  // The defaults first: what a user gets.
  names.sort((a, b) => (a === 'defaults' ? -1 : b === 'defaults' ? 1 : 0));
  L.push('Against bare (throughput ×: higher is better; Δ: lower is better). ✓/✗ against the targets of issue 12.', '');
  const head = ['variant', ...loads.flatMap((l) => [`/hello × ${l}`, `/users × ${l}`]), 'RSS idle Δ MB', 'RSS after load Δ MB', 'start-up Δ ms'];
  L.push(`| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '--:').join('|')}|`);
  for (const name of names) {
    const r = ratios[name];
    const t = targets[name];
    const mark = (ok) => (t ? (ok ? ' ✓' : ' ✗') : '');
    const cells = loads.flatMap((l) => ['hello', 'db'].map((e) => `${fmt(r.throughput[l][e].ofMedians, 2)}${mark(r.throughput[l][e].ofMedians >= t?.throughput)}`));
    L.push(
      `| **${name}** | ${cells.join(' | ')} | ${signed(r.idleRssDeltaMB, 1)}${mark(r.idleRssDeltaMB <= t?.idleRssDeltaMB)} | ` +
        `${signed(r.loadedRssDeltaMB, 1)}${mark(r.loadedRssDeltaMB <= t?.loadedRssDeltaMB)} | ${signed(r.startupDeltaMs, 0)}${mark(r.startupDeltaMs <= t?.startupDeltaMs)} |`,
    );
  }
  L.push('');
  L.push('Median of the per-round ratios (each variant against the bare run of its own round):', '');
  L.push(`| variant | ${loads.flatMap((l) => [`/hello × ${l}`, `/users × ${l}`]).join(' | ')} |`, `|---|${loads.flatMap(() => ['--:', '--:']).join('|')}|`);
  for (const name of names) L.push(`| ${name} | ${loads.flatMap((l) => ['hello', 'db'].map((e) => fmt(ratios[name].throughput[l][e].perRoundMedian, 2))).join(' | ')} |`);
  L.push('');
  L.push("The app's CPU time per answered request, bare's over the variant's (median of the per-round ratios; 1.00 = costs the host nothing, 0.80 = 25 % more CPU per request). Steadier than req/s on a shared machine: it leaves out the load generator's and PostgreSQL's share of the cores.", '');
  L.push(`| variant | ${loads.flatMap((l) => [`/hello × ${l}`, `/users × ${l}`]).join(' | ')} | µs per /hello, /users (median, ${loads[0]}) |`, `|---|${loads.flatMap(() => ['--:', '--:']).join('|')}|--:|`);
  L.push(`| bare | ${loads.flatMap(() => ['1.00', '1.00']).join(' | ')} | ${fmt(medians.bare.load[loads[0]].hello.cpuUs, 1)}, ${fmt(medians.bare.load[loads[0]].db.cpuUs, 1)} |`);
  for (const name of names) L.push(`| ${name} | ${loads.flatMap((l) => ['hello', 'db'].map((e) => fmt(ratios[name].throughput[l][e].cpu, 2))).join(' | ')} | ${fmt(medians[name].load[loads[0]].hello.cpuUs, 1)}, ${fmt(medians[name].load[loads[0]].db.cpuUs, 1)} |`);
  L.push('');
  L.push('Medians (absolute figures move ±25 % with the machine; read the ratios):', '');
  const abs = ['variant', 'start-up ms', 'RSS idle MB', 'RSS after load MB', ...loads.flatMap((l) => [`/hello rps ${l}`, `/hello p99 ms ${l}`, `/users rps ${l}`, `/users p99 ms ${l}`])];
  L.push(`| ${abs.join(' | ')} |`, `|---|${abs.slice(1).map(() => '--:').join('|')}|`);
  for (const [name, m] of Object.entries(medians)) {
    const cells = loads.flatMap((l) => [fmt(m.load[l].hello.rps, 0), fmt(m.load[l].hello.p99, 2), fmt(m.load[l].db.rps, 0), fmt(m.load[l].db.p99, 2)]);
    L.push(`| ${name} | ${fmt(m.startupMs, 0)} | ${fmt(m.idleRssMB, 1)} | ${fmt(m.loadedRssMB, 1)} | ${cells.join(' | ')} |`);
  }
  for (const [name, v] of Object.entries(meta.variants)) if (v.skipped) L.push(`| ${name} | skipped: ${v.skipped} |`);
  L.push('');
  const t = targets.defaults;
  L.push(`Targets (issue 12): defaults ≥ ${t.throughput}× bare on both endpoints, ≤ +${t.idleRssDeltaMB} MB idle, ≤ +${t.loadedRssDeltaMB} MB after load, ≤ +${t.startupDeltaMs} ms start-up; metrics-only ≥ ${targets['metrics-only'].throughput}× and ahead of prom-client by hand.`, '');

  const checks = data.runs.filter((r) => r.metrics);
  if (checks.length) {
    L.push('Metrics check after each run (HTTP server and pg series present on the variant\'s /metrics):', '');
    for (const name of new Set(checks.map((r) => r.variant))) {
      const rs = checks.filter((r) => r.variant === name);
      const http = rs.filter((r) => r.metrics.http).length;
      const pg = rs.filter((r) => r.metrics.pg).length;
      L.push(`- ${name}: http ${http}/${rs.length} ${http === rs.length ? '✓' : '✗'}, pg ${pg}/${rs.length} ${pg === rs.length ? '✓' : '✗'}`);
    }
    L.push('');
  }
  L.push('Variants:', '', ...Object.entries(meta.variants).map(([n, v]) => `- ${n}: \`${v.command}\``), '');
  if (comparison) {
    L.push(`### Against ${comparison.previousDate ?? 'the previous run'} (defaults vs bare; threshold ${(comparison.threshold * 100).toFixed(0)} %)`, '');
    if (comparison.note) L.push(comparison.note, '');
    L.push('| ratio | before | now | change | |', '|---|--:|--:|--:|---|');
    for (const r of comparison.rows) L.push(`| ${r.label} | ${r.before.toFixed(2)} | ${r.after.toFixed(2)} | ${signed(r.change * 100, 1)} % | ${r.regressed ? '✗ regressed' : '✓'} |`);
    L.push('');
  }
  if (problems.length) L.push(`**Run problems (${problems.length}):**`, '', ...problems.map((p) => `- ${p}`), '');
  return L.join('\n');
}
