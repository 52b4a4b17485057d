#!/usr/bin/env node
// Overload benchmark ("Adaptive concurrency limit"): the reference app bare vs with the preload's
// concurrency limit on, under an open-loop spike of 2× and 4× its capacity.
//
//   npm run bench:overload                 (build first; 3 rounds, 30 s spikes)
//   npm run bench:overload -- --quick      (1 round, 8 s spikes: a smoke run, not representative)
//   BENCH_ROUNDS=5 BENCH_SPIKE_SEC=30 BENCH_TIMEOUT_MS=5000 BENCH_PIN=0
//   BENCH_LIMIT_ENV='PLANDEX_PERF_CONCURRENCY_LIMIT_MIN_LIMIT=3 …'   the limit variant's other options (named in the report);
//   BENCH_LIMIT_ENV='; PLANDEX_PERF_CONCURRENCY_LIMIT_MIN_LIMIT=3'    two limit variants (defaults, floor 3) in one run
//   BENCH_VARIANTS=bare,limit,limit-2                                  spike runs of these only (the capacity curve keeps bare and preload)
//   BENCH_REFERENCE=/elsewhere/dist/register.js                        adds `limit-ref`: that build with the first limit set
//
// Method.
//  1. Capacity: the bare app, closed loop (autocannon) at 1, 2, 4 … 64 connections; capacity is the best
//     2xx/s, the knee the fewest connections within 5 % of it. Unloaded p99: the open-loop generator at
//     0.2× capacity. The preload (limit off) gets the same curve, step by step alongside, for what any
//     limit could at best serve.
//  2. Runs: per round, per spike factor (2×, 4×), each variant on a fresh app (order rotated per round):
//     `before` 0.8× capacity, `spike` k× capacity, `after` 0.8× capacity, open loop, per-request timeout.
//     Goodput = 2xx/s during the spike; p99 of the spike's 2xx (from the moment each request was due);
//     peak RSS = VmHWM of the app; recovery = seconds after the spike until requests sent in that second
//     and the next two all succeed at ≥ 95 % (a server still working off its backlog fails them).
//  The app runs on CPU 0, the load generator on CPU 1 (taskset); PostgreSQL unpinned. The mix is read-only,
//  so the database is seeded once.
//
// Output: Markdown on stdout, loadtests/results/overload-<date>-node<major>[-quick].{json,md}. Exit 1 only
// if the bench itself failed (an app died, no 2xx at all); missed targets are reported, not fatal. For the
// preloaded variants the JSON keeps the concurrency limit (in flight, queued) and the pool size about once a
// second through the run (`metricsSeries`, ms since the app's spawn; see ../lib/metrics-sampler.mjs).

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { clearCallerSettings, startApp } from '../lib/app-process.mjs';
import { runLoad } from '../lib/load.mjs';
import { runOpenLoop } from '../lib/open-loop.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { metricsSampler } from '../lib/metrics-sampler.mjs';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { fmt, freePort, machine, mb, median, positive, rotate, sleep } from '../lib/bench-util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
const REGISTER = path.join(REPO, 'dist/register.js');
const RESULTS = path.join(REPO, 'loadtests/results');

let args;
try {
  args = parseArgs({ options: { quick: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } }, strict: true }).values;
} catch (err) {
  console.error(`overload: ${err.message}\nusage: node loadtests/bench/overload.mjs [--quick] [--verbose]`);
  process.exit(2);
}
const quick = args.quick;
const ROUNDS = positive('BENCH_ROUNDS', quick ? 1 : 3);
const SPIKE_SEC = positive('BENCH_SPIKE_SEC', quick ? 8 : 30);
const BEFORE_SEC = quick ? 3 : 5;
const AFTER_SEC = quick ? 8 : 15;
const TIMEOUT_MS = positive('BENCH_TIMEOUT_MS', 5000);
const STEP_SEC = quick ? 2 : 4;
const FACTORS = [2, 4];
const NORMAL = 0.8; // before and after the spike, × capacity
const USERS = 1000;
const PIN = benchPinning();
const TARGETS = { goodputVsCapacity: 0.95, p99VsUnloaded: 2, peakRssVsBare: 0.7, recoverySec: 5 };

// Read-only (the database is seeded once); {id} is a Zipf draw over 1..USERS.
const MIX = [
  { path: '/users/{id}/plans', weight: 5 },
  { path: '/users/{id}', weight: 2 },
  { path: '/plans/{id}/stats', weight: 2 },
  { path: '/users/{id}/plans-n1', weight: 1 },
  { path: '/hello', weight: 1 },
];

/**
 * BENCH_LIMIT_ENV: `NAME=value` pairs (PLANDEX_PERF_CONCURRENCY_LIMIT_* only) for the limit variant; several
 * sets separated by `;` give one limit variant each (`limit`, `limit-2`, …), interleaved in the same run.
 */
const LIMIT_SETS = (process.env.BENCH_LIMIT_ENV ?? '').split(';').map((set) =>
  set
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      const name = at > 0 ? pair.slice(0, at) : '';
      if (!name.startsWith('PLANDEX_PERF_CONCURRENCY_LIMIT_')) {
        console.error(`overload: BENCH_LIMIT_ENV: "${pair}" is not PLANDEX_PERF_CONCURRENCY_LIMIT_NAME=value`);
        process.exit(2);
      }
      return [name, pair.slice(at + 1)];
    }),
);

const REFERENCE = process.env.BENCH_REFERENCE ? path.resolve(process.env.BENCH_REFERENCE) : undefined;
if (REFERENCE && !existsSync(REFERENCE)) {
  console.error(`overload: BENCH_REFERENCE: ${REFERENCE} not found`);
  process.exit(2);
}

/** The preload with the limit on and `set`'s options, from the build at `register`. */
const limitVariant = (register, set, note = '') => ({
  describe: `node --import ${register === REGISTER ? 'dist/register.js' : register} loadtests/app/server.mjs, PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED=1${set.length > 0 ? ` ${set.map(([k, v]) => `${k}=${v}`).join(' ')}` : ' (other options at their defaults)'}${note}`,
  nodeArgs: ['--import', register],
  env: { PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1', ...Object.fromEntries(set) },
  metrics: true,
});

const ALL_VARIANTS = {
  bare: { describe: 'node loadtests/app/server.mjs', nodeArgs: [], env: {} },
  // The preload with the limit off (its default): separates the limit's effect from the preload's own cost
  // and from what other plugins change (pg-pool sizes the pool).
  preload: { describe: 'node --import dist/register.js loadtests/app/server.mjs (limit off: its default)', nodeArgs: ['--import', REGISTER], env: {}, metrics: true },
  // BENCH_REFERENCE=/elsewhere/dist/register.js: another build (e.g. main's, packed and unpacked elsewhere) with
  // the first limit set, as `limit-ref`, interleaved with this build's: an A/B of two builds in one run.
  ...(REFERENCE ? { 'limit-ref': limitVariant(REFERENCE, LIMIT_SETS[0], ' (the reference build)') } : {}),
  ...Object.fromEntries(LIMIT_SETS.map((set, i) => [i === 0 ? 'limit' : `limit-${i + 1}`, limitVariant(REGISTER, set)])),
};

/** BENCH_VARIANTS=bare,limit,limit-2: the spike runs of these variants only (bare is always kept: the RSS ratios are against it). */
const VARIANTS = (() => {
  const wanted = (process.env.BENCH_VARIANTS ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  if (wanted.length === 0) return ALL_VARIANTS;
  const unknown = wanted.filter((v) => !(v in ALL_VARIANTS));
  if (unknown.length > 0) {
    console.error(`overload: BENCH_VARIANTS: unknown ${unknown.join(', ')} (have ${Object.keys(ALL_VARIANTS).join(', ')})`);
    process.exit(2);
  }
  return Object.fromEntries(Object.entries(ALL_VARIANTS).filter(([n]) => n === 'bare' || wanted.includes(n)));
})();

const problems = [];
let db;
let current;
const progress = (...a) => console.error(...a);
process.on('SIGINT', () => void abort('interrupted', 130));

try {
  await main();
} catch (err) {
  await abort(err?.stack ?? String(err), 1);
}

async function abort(why, code) {
  progress(`overload: ${why}`);
  await current?.stop().catch(() => {});
  await db?.stop().catch(() => {});
  process.exit(code);
}

async function main() {
  if (!existsSync(REGISTER)) throw new Error('dist/register.js not found — run `npm run build` first');
  // The caller's settings would change what a variant measures; each variant sets its own. Cleared from
  // process.env, not only by startApp, so that every child this bench starts sees the defaults.
  clearCallerSettings();
  const { getDatabase } = await import('../lib/database.mjs');
  const { seed } = await import('../app/seed.mjs');
  db = await getDatabase({ log: progress });
  await seed(db.url, { scale: 1 });
  const meta = {
    ...machine(),
    loadavgBefore: os.loadavg(),
    rounds: ROUNDS,
    spikeSec: SPIKE_SEC,
    beforeSec: BEFORE_SEC,
    afterSec: AFTER_SEC,
    timeoutMs: TIMEOUT_MS,
    factors: FACTORS,
    normal: NORMAL,
    mix: MIX.map((r) => `GET ${r.path} ×${r.weight}`),
    pinning: PIN.note,
    database: db.kind,
    quick,
    variants: Object.fromEntries(Object.entries(VARIANTS).map(([n, v]) => [n, v.describe])),
  };

  const capacity = await measureCapacity();
  progress(`capacity ${fmt(capacity.rps, 0)} 2xx/s at ${capacity.knee} connections; unloaded p99 ${fmt(capacity.unloadedP99, 1)} ms`);

  const runs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const factor of FACTORS) {
      for (const name of rotate(Object.keys(VARIANTS), round - 1 + factor / 2)) {
        progress(`round ${round}/${ROUNDS}, spike ${factor}×: ${name} …`);
        const run = await measure(name, factor, capacity, round);
        runs.push(run);
        progress(`  goodput ${fmt(run.goodput, 0)}/s (${fmt(run.goodput / capacity.rps, 2)}× capacity) · p99 ${fmt(run.p99, 1)} ms · peak RSS ${fmt(run.hwmMB, 0)} MB · recovery ${run.recoverySec ?? `>${AFTER_SEC}`} s · 503 ${run.status503} · timeouts ${run.timeouts} · errors ${run.errors}${kinds(run.errorKinds)}`);
      }
    }
  }
  meta.loadavgAfter = os.loadavg();
  await db.stop();
  db = undefined;

  const summary = {};
  for (const factor of FACTORS) {
    for (const name of Object.keys(VARIANTS)) {
      const rs = runs.filter((r) => r.factor === factor && r.variant === name);
      summary[`${name}@${factor}`] = {
        variant: name,
        factor,
        runs: rs.length,
        goodput: median(rs.map((r) => r.goodput)),
        p99: median(rs.map((r) => r.p99)),
        hwmMB: median(rs.map((r) => r.hwmMB)),
        // Never recovered within the window counts as the window's length, marked in the table.
        recoverySec: median(rs.map((r) => r.recoverySec ?? AFTER_SEC)),
        recovered: rs.every((r) => r.recoverySec !== null),
        status503: rs.reduce((a, r) => a + r.status503, 0),
        timeouts: rs.reduce((a, r) => a + r.timeouts, 0),
        errors: rs.reduce((a, r) => a + r.errors, 0),
        errorKinds: mergeKinds(rs.map((r) => r.errorKinds)),
        limitAfter: median(rs.map((r) => r.limit?.limit)),
        // Per-round ratios against the bare run of the same round and factor.
        rssRatio: median(rs.map((r) => r.hwmMB / runs.find((b) => b.variant === 'bare' && b.factor === factor && b.round === r.round).hwmMB)),
      };
    }
  }
  const report = markdown(meta, capacity, summary);
  process.stdout.write(report);
  const base = `overload-${meta.date.slice(0, 10)}-node${process.versions.node.split('.')[0]}${quick ? '-quick' : ''}`;
  await mkdir(RESULTS, { recursive: true });
  await writeFile(path.join(RESULTS, `${base}.json`), `${JSON.stringify({ meta, targets: TARGETS, capacity, summary, runs, problems }, null, 2)}\n`);
  await writeFile(path.join(RESULTS, `${base}.md`), report);
  progress(`wrote loadtests/results/${base}.json and .md`);
  if (problems.length) {
    progress(`FAILED:\n- ${problems.join('\n- ')}`);
    process.exitCode = 1;
  }
}

async function withApp(name, fn) {
  const variant = ALL_VARIANTS[name];
  const metricsPort = variant.metrics ? await freePort() : undefined;
  const app = await startApp({
    script: APP,
    cwd: REPO,
    nodeArgs: variant.nodeArgs,
    env: { DATABASE_URL: db.url, ...variant.env, ...(metricsPort ? { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_METRICS_PORT: String(metricsPort) } : {}) },
    timeoutMs: 30_000,
    verbose: args.verbose,
    cpu: PIN.app,
  });
  current = app;
  try {
    return await fn(app, metricsPort);
  } finally {
    if (app.child.exitCode !== null || app.child.signalCode !== null) problems.push(`${name}: the app died (${app.stderrTail().slice(-500)})`);
    await app.stop();
    current = undefined;
    await sleep(500);
  }
}

/**
 * The capacity curve of the bare app and, interleaved step by step on a second app, of the preload with the
 * limit off: the limit can serve at most what the preload itself can, so its goodput is also read against
 * that (the preload's own per-request cost is issue 12's, not the limit's).
 */
async function measureCapacity() {
  return withApp('bare', (bareApp) =>
    withApp('preload', async (preloadApp) => {
      const curve = [];
      const preloadCurve = [];
      const step = async (app, connections, into, label) => {
        const r = await runLoad({ baseUrl: app.baseUrl, requests: MIX, ids: { max: USERS, distribution: 'zipf', s: 1.0, seed: 1 }, connections, durationSec: STEP_SEC, warmupSec: 1, cpu: PIN.load });
        const ok = Object.entries(r.statusCodes ?? {}).filter(([c]) => Number(c) < 300).reduce((a, [, s]) => a + s.count, 0);
        into.push({ connections, rps: ok / r.durationSec, p50: r.latency.p50, p99: r.latency.p99 });
        progress(`  closed loop ${connections} connections, ${label}: ${fmt(ok / r.durationSec, 0)} 2xx/s, p99 ${fmt(r.latency.p99, 1)} ms`);
      };
      for (const [i, connections] of [1, 2, 4, 8, 16, 32, 64].entries()) {
        const order = i % 2 === 0 ? ['bare', 'preload'] : ['preload', 'bare'];
        for (const label of order) await step(label === 'bare' ? bareApp : preloadApp, connections, label === 'bare' ? curve : preloadCurve, label);
      }
      const kneeOf = (c) => {
        const best = Math.max(...c.map((x) => x.rps));
        return { best, knee: c.find((x) => x.rps >= 0.95 * best) };
      };
      const { best, knee } = kneeOf(curve);
      const pre = kneeOf(preloadCurve);
      const unloaded = await runOpenLoop({ baseUrl: bareApp.baseUrl, requests: MIX, ids: { max: USERS, distribution: 'zipf', s: 1.0, seed: 2 }, schedule: [{ name: 'unloaded', rate: 0.2 * knee.rps, durationSec: STEP_SEC * 2 }], timeoutMs: TIMEOUT_MS, cpu: PIN.load });
      return {
        rps: knee.rps,
        best,
        knee: knee.connections,
        kneeP99: knee.p99,
        unloadedP99: unloaded.phases[0].p99,
        unloadedP50: unloaded.phases[0].p50,
        curve,
        preload: { rps: pre.knee.rps, best: pre.best, knee: pre.knee.connections, curve: preloadCurve },
      };
    }),
  );
}

async function measure(name, factor, capacity, round) {
  return withApp(name, async (app, metricsPort) => {
    const rate = capacity.rps;
    const sampler = metricsPort ? metricsSampler({ url: `http://127.0.0.1:${metricsPort}/metrics`, origin: app.startedAt }).start() : null;
    const loadStartMs = Math.round(performance.now() - app.startedAt);
    let metricsSeries = null;
    let load;
    try {
      load = await runOpenLoop({
        baseUrl: app.baseUrl,
        requests: MIX,
        ids: { max: USERS, distribution: 'zipf', s: 1.0, seed: round },
        schedule: [
          { name: 'before', rate: NORMAL * rate, durationSec: BEFORE_SEC },
          { name: 'spike', rate: factor * rate, durationSec: SPIKE_SEC },
          { name: 'after', rate: NORMAL * rate, durationSec: AFTER_SEC },
        ],
        timeoutMs: TIMEOUT_MS,
        cpu: PIN.load,
      });
    } finally {
      metricsSeries = (await sampler?.stop()) ?? null;
    }
    let limit;
    if (metricsPort) {
      try {
        const samples = parseMetrics(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
        limit = { limit: sum(samples, 'plandex_perf_concurrency_limit_limit'), rejected: sum(samples, 'plandex_perf_concurrency_limit_rejected_total'), baselineMs: sum(samples, 'plandex_perf_concurrency_limit_baseline') * 1000 };
      } catch (err) {
        problems.push(`${name} round ${round} ${factor}×: metrics scrape failed: ${err.message}`);
      }
    }
    const spike = load.phases.find((p) => p.name === 'spike');
    const afterStart = BEFORE_SEC + SPIKE_SEC;
    const secs = load.perSecond;
    let recoverySec = null;
    for (let t = afterStart; t + 2 < secs.length; t++) {
      if ([0, 1, 2].every((d) => secs[t + d].sent > 0 && secs[t + d].okBySend >= 0.95 * secs[t + d].sent)) {
        recoverySec = t - afterStart;
        break;
      }
    }
    if (load.phases.every((p) => p.ok === 0)) problems.push(`${name} round ${round} ${factor}×: no 2xx at all`);
    return {
      variant: name,
      factor,
      round,
      goodput: spike.goodput,
      p99: spike.p99,
      p50: spike.p50,
      status503: spike.status503,
      timeouts: load.phases.reduce((a, p) => a + p.timeouts, 0),
      errors: load.phases.reduce((a, p) => a + p.errors + p.otherStatus, 0),
      // What the errors were: non-2xx, non-503 statuses and the client's socket errors (fresh or reused keep-alive socket).
      errorKinds: mergeKinds(load.phases.map((p) => p.errorKinds ?? {})),
      dropped: load.phases.reduce((a, p) => a + p.dropped, 0),
      hwmMB: mb(app.rss.hwm),
      recoverySec,
      limit,
      // The open loop's schedule starts about here, in ms since spawn (the time base of metricsSeries).
      loadStartMs,
      metricsSeries,
      phases: load.phases,
      perSecond: secs,
      appCpu: app.cpu,
      loadCpu: load.cpu,
    };
  });
}

/** @param {Array<Record<string, number>>} list */
function mergeKinds(list) {
  const all = {};
  for (const kinds of list) for (const [k, n] of Object.entries(kinds ?? {})) all[k] = (all[k] ?? 0) + n;
  return all;
}

/** ` (ECONNRESET on a reused socket 12, HTTP 500 3)`, or nothing. @param {Record<string, number> | undefined} k */
function kinds(k) {
  const e = Object.entries(k ?? {}).sort((a, b) => b[1] - a[1]);
  return e.length === 0 ? '' : ` (${e.map(([what, n]) => `${what} ${n}`).join(', ')})`;
}

function markdown(meta, capacity, summary) {
  const L = [];
  const mark = (ok) => (ok ? '✓' : '✗');
  L.push(`## Overload benchmark: adaptive concurrency limit${meta.quick ? ' (quick smoke run — not representative)' : ''}`, '');
  L.push(
    `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM · ${meta.platform}. ` +
      `Load average before ${meta.loadavgBefore.map((x) => x.toFixed(2)).join('/')}, after ${meta.loadavgAfter.map((x) => x.toFixed(2)).join('/')}. CPU pinning: ${meta.pinning}. Database: ${meta.database}.`,
    '',
    `Capacity (bare, closed loop): **${fmt(capacity.rps, 0)} 2xx/s** at the knee of ${capacity.knee} connections (best ${fmt(capacity.best, 0)}); unloaded p99 (open loop at 0.2×) **${fmt(capacity.unloadedP99, 1)} ms**. ` +
      `Curve: ${capacity.curve.map((c) => `${c.connections}→${fmt(c.rps, 0)}`).join(', ')}.` +
      (capacity.preload
        ? ` The preload with the limit off, measured step by step alongside: ${fmt(capacity.preload.rps, 0)} 2xx/s at ${capacity.preload.knee} connections (best ${fmt(capacity.preload.best, 0)}, **${fmt(capacity.preload.best / capacity.best, 2)}× bare's best**); curve ${capacity.preload.curve.map((c) => `${c.connections}→${fmt(c.rps, 0)}`).join(', ')}. No limit can serve more than the preload itself: its goodput is also given × the preload's best.`
        : ''),
    '',
    `${meta.rounds} round(s), variants interleaved (order rotated), fresh app per run; open loop: ${meta.beforeSec} s at ${meta.normal}×, spike ${meta.spikeSec} s at k×, ${meta.afterSec} s at ${meta.normal}×; ` +
      `per-request timeout ${meta.timeoutMs} ms; mix ${meta.mix.join(', ')}. Medians over rounds; counts are totals. Variants: ${Object.entries(meta.variants).map(([n, d]) => `**${n}** = \`${d}\``).join('; ')}.`,
    '',
    '| spike | variant | goodput 2xx/s | × capacity | p99 of 2xx ms | × unloaded p99 | peak RSS MB | × bare | recovery s | 503 | timeouts | errors | limit at end |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const s of Object.values(summary)) {
    L.push(
      `| ${s.factor}× | ${s.variant} | ${fmt(s.goodput, 0)} | ${fmt(s.goodput / capacity.rps, 2)} | ${fmt(s.p99, 1)} | ${fmt(s.p99 / capacity.unloadedP99, 2)} | ${fmt(s.hwmMB, 0)} | ${fmt(s.rssRatio, 2)} | ` +
        `${s.recovered ? fmt(s.recoverySec, 0) : `>${meta.afterSec - 3}`} | ${s.status503} | ${s.timeouts} | ${s.errors} | ${s.limitAfter ?? '–'} |`,
    );
  }
  const withErrors = Object.values(summary).filter((s) => s.errors > 0);
  if (withErrors.length > 0) L.push('', `Errors by kind (totals): ${withErrors.map((s) => `${s.factor}× ${s.variant}${kinds(s.errorKinds)}`).join('; ')}.`);
  L.push('', 'Targets (with the limit; printed, never enforced):', '');
  const limits = Object.keys(meta.variants).filter((n) => n.startsWith('limit'));
  for (const factor of meta.factors) for (const name of limits) {
    const s = summary[`${name}@${factor}`];
    const b = summary[`bare@${factor}`];
    L.push(
      `- ${factor}×${limits.length > 1 ? ` ${name}` : ''}: goodput ≥ ${TARGETS.goodputVsCapacity}× capacity: ${fmt(s.goodput / capacity.rps, 2)} ${mark(s.goodput >= TARGETS.goodputVsCapacity * capacity.rps)} (bare ${fmt(b.goodput / capacity.rps, 2)}${capacity.preload ? `; × the preload's best ${fmt(s.goodput / capacity.preload.best, 2)}` : ''}); ` +
        `p99 ≤ ${TARGETS.p99VsUnloaded}× unloaded: ${fmt(s.p99 / capacity.unloadedP99, 2)} ${mark(s.p99 <= TARGETS.p99VsUnloaded * capacity.unloadedP99)}; ` +
        `peak RSS ≤ ${TARGETS.peakRssVsBare}× bare: ${fmt(s.rssRatio, 2)} ${mark(s.rssRatio <= TARGETS.peakRssVsBare)}; ` +
        `full throughput ≤ ${TARGETS.recoverySec} s after: ${s.recovered ? fmt(s.recoverySec, 0) : 'not within the window'} ${mark(s.recovered && s.recoverySec <= TARGETS.recoverySec)}`,
    );
  }
  L.push('');
  return `${L.join('\n')}\n`;
}
