#!/usr/bin/env node
// Memory benchmark ("Heap budgets"): how much resident memory does the
// reference app take under load with Node's defaults, and with the heap flags
// + preload of the laptop-4g and container-512m profiles? Two scenarios:
//
// - `mix` (default): the realistic mix below, a live heap of 11–20 MB.
// - `reports` (issue 13, "Memory where it matters"): JSON responses of
//   100 KB–1 MB (`GET /report/:size`) under concurrency spikes, bare against
//   the profiles and each lever alone (./memory-levers.mjs); ratios are taken
//   against bare within each round, then the median over rounds.
//
//   node loadtests/bench/memory.mjs [--scenario mix|reports] [--quick] [--out DIR] [--verbose]
//     (npm run build first; --quick: 1 short round, a smoke test)
//   mix:     BENCH_ROUNDS=3 BENCH_DURATION=15 BENCH_CONNECTIONS=32 BENCH_WARMUP=2
//   reports: BENCH_ROUNDS=3 BENCH_CONNECTIONS=8 BENCH_SPIKE_CONNECTIONS=64
//            BENCH_BASE_SEC=3 BENCH_SPIKE_SEC=5 BENCH_CYCLES=2 BENCH_WARMUP=2
//   BENCH_VARIANTS=node-defaults,container-512m (reports: bare,semi-4,…)   BENCH_PIN=0 (no CPU pinning)
//
// Method. Each run starts a fresh app process directly (not through
// `plandex-perf run`), with the flags and env that `plandex-perf env --profile P`
// prints, so the RSS sampler watches the node process itself. Peak RSS is
// measured from spawn to the end of the load, warm-up included: a container's
// memory limit does not forgive start-up or warm-up spikes. The kernel's
// VmHWM is the figure the targets use (it misses no spike between samples).
// The database is re-seeded before every run because the mix inserts rows:
// without that, later runs would query a bigger table (hot plans' stats join
// their conversations) and the variant order would decide the throughput.
// Variants are interleaved and their order rotates per round, so neither
// machine drift nor position favours one. With taskset, the app runs on CPU 0
// and the load generator on CPU 1 (see ../lib/cpu.mjs).
//
// Output: Markdown on stdout (progress on stderr) and the full data in
// DIR/memory[-reports]-<date>-node<major>[-quick].{json,md}, DIR being --out or
// else plandex-perf-bench/ in the system's temporary directory (a run leaves
// the checkout as it was; `--out loadtests/results` to keep one). Exit code is
// non-zero only if the benchmark itself failed (an app did not start or
// crashed, transport errors, 5xx other than 503, a profile's heap limit not
// applied); missed targets are marked ✗ and 503s from load shedding are
// reported, neither fails the run.

import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearCallerSettings, nodeAcceptsFlag, startApp } from '../lib/app-process.mjs';
import { runLoad } from '../lib/load.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { parseArgs } from 'node:util';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { machine, defaultHeapLimitMB, fmt, freePort, mb, median, positive, profileLaunch, rotate, sha256, sleep } from '../lib/bench-util.mjs';
import { REPORT_MIX, REPORT_TARGETS, REPORT_VARIANTS, combinePhases, roundRatios, spikePhases, targetVerdict, unsupportedVariants } from './memory-levers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
// BENCH_DIST: measure another build of the preload (a dist/ directory), e.g. the one before a change.
const DIST = path.resolve(process.env.BENCH_DIST || path.join(REPO, 'dist'));
const REGISTER = path.join(DIST, 'register.js');
const BUNDLE = path.join(DIST, 'preload.cjs');
const CLI = path.join(DIST, 'src/cli.js');

// A misspelled flag is an error, not silently ignored (strict).
let args;
try {
  ({ values: args } = parseArgs({
    options: { quick: { type: 'boolean' }, verbose: { type: 'boolean' }, scenario: { type: 'string', default: 'mix' }, out: { type: 'string' } },
    strict: true,
  }));
  if (!['mix', 'reports'].includes(args.scenario)) throw new Error(`--scenario must be mix or reports, got ${args.scenario}`);
} catch (err) {
  console.error(`memory benchmark: ${err.message}\nusage: node loadtests/bench/memory.mjs [--scenario mix|reports] [--quick] [--out DIR] [--verbose]`);
  process.exit(2);
}
const RESULTS = path.resolve(args.out ?? path.join(os.tmpdir(), 'plandex-perf-bench'));
const SCENARIO = args.scenario;
const quick = args.quick === true;
const verbose = args.verbose === true;
const reports = SCENARIO === 'reports';
const ROUNDS = positive('BENCH_ROUNDS', quick ? 1 : 3);
const DURATION = positive('BENCH_DURATION', quick ? 5 : 15);
const CONNECTIONS = positive('BENCH_CONNECTIONS', reports ? (quick ? 2 : 8) : 32);
const WARMUP = positive('BENCH_WARMUP', quick ? (reports ? 0 : 1) : 2, true);
// reports: the spike schedule (see spikePhases) and a finer RSS sampler (responses of 1 MB come and go fast).
const PHASES = reports
  ? spikePhases({
      baseConnections: CONNECTIONS,
      spikeConnections: positive('BENCH_SPIKE_CONNECTIONS', quick ? 8 : 64),
      baseSec: positive('BENCH_BASE_SEC', quick ? 1 : 3),
      spikeSec: positive('BENCH_SPIKE_SEC', quick ? 1 : 5),
      cycles: positive('BENCH_CYCLES', quick ? 1 : 2),
    })
  : null;
const RSS_INTERVAL_MS = reports ? 50 : 100;
const SAMPLE_MS = 2000; // composition samples under load (a Prometheus-like scrape rate, not the 100 ms RSS sampler)
const USERS = 1000; // seed scale 1 → users 1..1000, plans 1..~5000
const PIN = benchPinning();

const TARGETS = { peakRssRatio: 0.6, throughputRatio: 0.9 }; // vs node-defaults; printed, never enforced

// Realistic mix; every {id} is a Zipf draw over 1..USERS (hot users/plans
// first). A few plan ids in that range are soft-deleted by the seed, so
// /plans/{id}/stats answers a small, fixed share of 404s: expected, reported.
const MIX = [
  { path: '/users/{id}/plans', weight: 5 },
  { path: '/users/{id}', weight: 2 },
  { path: '/plans/{id}/stats', weight: 2 },
  { path: '/users/{id}/plans-n1', weight: 1 },
  { path: '/hello', weight: 1 },
  { method: 'POST', path: '/plans/{id}/conversations', body: { message: 'memory bench: a note on plan {id}' }, weight: 1 },
];

const PROFILE_VARIANTS = ['laptop-4g', 'container-512m'];
const BASELINE = reports ? 'bare' : 'node-defaults';
const ALL_VARIANTS = reports ? REPORT_VARIANTS.map((v) => v.name) : ['node-defaults', ...PROFILE_VARIANTS];

const problems = []; // real failures: non-zero exit
let current = null; // app being measured, for Ctrl-C cleanup
let db = null;

process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));

try {
  await main();
} catch (err) {
  await abort(err?.stack ?? String(err), 1);
}

async function main() {
  if (!existsSync(APP)) throw new Error(`reference app not found: ${APP}`);
  // The caller's settings would change what a variant measures; each variant sets its own. Cleared from
  // process.env, not only by startApp, so that every child this bench starts sees the defaults.
  clearCallerSettings();

  const asked = (process.env.BENCH_VARIANTS ?? ALL_VARIANTS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of asked) if (!ALL_VARIANTS.includes(name)) throw new Error(`unknown variant in BENCH_VARIANTS: ${name}`);
  // A lever whose flag the app's node lacks (not every supported Node 22.x has each V8 flag) is left out, not a crash at start-up.
  const skipped = reports ? unsupportedVariants(asked, nodeAcceptsFlag) : [];
  for (const s of skipped) progress(`skipping ${s.name}: ${s.reason}`);
  const selected = asked.filter((name) => !skipped.some((s) => s.name === name));
  if (!selected.includes(BASELINE)) throw new Error(`the ${BASELINE} variant is required: every ratio is relative to it`);
  const needsBuild = (name) => !reports ? name !== 'node-defaults' : REPORT_VARIANTS.find((v) => v.name === name).launch !== 'bare';
  if (selected.some(needsBuild) && !(existsSync(REGISTER) && existsSync(CLI))) {
    throw new Error('dist/register.js or dist/src/cli.js not found — run `npm run build` first');
  }
  const variants = Object.fromEntries(selected.map((name) => [name, reports ? makeReportVariant(name) : makeVariant(name)]));

  const { getDatabase } = await import('../lib/database.mjs');
  const { seed } = await import('../app/seed.mjs');
  const loadavgBefore = os.loadavg();
  if (loadavgBefore[0] > os.availableParallelism() * 0.5) {
    progress(`warning: machine is busy (1-min load average ${loadavgBefore[0].toFixed(2)}); results will be noisy`);
  }
  db = await getDatabase({ log: progress });
  progress(`database: ${db.kind}`);

  const meta = {
    ...machine(),
    loadavgBefore,
    loadavgAfter: null,
    // What "Node's defaults" means on this machine: V8 sizes its heap from
    // physical memory, so the baseline differs between machines.
    defaultHeapLimitMB: defaultHeapLimitMB(),
    // The build under test: dist/ can change between runs of a working tree.
    // The hash is the bundle's (dist/preload.cjs), which the loader dist/register.js runs.
    register: existsSync(BUNDLE) ? { path: path.relative(REPO, REGISTER) || REGISTER, sha256: sha256(BUNDLE).slice(0, 16), mtime: statSync(BUNDLE).mtime.toISOString() } : null,
    scenario: SCENARIO,
    rounds: ROUNDS,
    durationSec: reports ? PHASES.reduce((a, p) => a + p.durationSec, 0) : DURATION,
    warmupSec: WARMUP,
    connections: CONNECTIONS,
    phases: PHASES,
    rssIntervalMs: RSS_INTERVAL_MS,
    mix: (reports ? REPORT_MIX : MIX).map((r) => `${r.method ?? 'GET'} ${r.path} ×${r.weight}`),
    ids: reports ? null : `Zipf s=1 over 1..${USERS}`,
    pinning: PIN.note,
    quick,
    database: db.kind,
    variants: Object.fromEntries(Object.entries(variants).map(([n, v]) => [n, { command: v.describe, run: v.runCommand, env: v.env, lever: v.lever }])),
    skipped,
  };
  if (reports) await seed(db.url, { scale: 1 }); // read-only scenario: one seed serves every run

  const runs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = rotate(selected, round - 1);
    for (const name of order) {
      progress(`round ${round}/${ROUNDS}: ${name} …`);
      if (!reports) await seed(db.url, { scale: 1 }); // identical data for every run (see the header)
      const run = await measure(variants[name], round);
      runs.push(run);
      progress(
        `  peak RSS ${fmt(run.hwmMB, 1)} MB (sampled ${fmt(run.peakRssMB, 1)}) · after ${fmt(run.rssAfterMB, 1)} MB · ` +
          `${fmt(run.rps, 0)} 2xx/s · p99 ${fmt(run.p99, 1)} ms · 503 ${run.shed} · other non-2xx ${run.otherNon2xx} · errors ${run.errors}`,
      );
    }
  }
  meta.loadavgAfter = os.loadavg();
  await db.stop();
  db = null;

  const medians = Object.fromEntries(selected.map((n) => [n, summarize(runs.filter((r) => r.variant === n))]));
  const ratios = reports
    ? roundRatios(runs, BASELINE, ['hwmMB', 'peakRssMB', 'rps', 'p99', 'p99Base', 'rssAfterMB'])
    : Object.fromEntries(selected.filter((n) => n !== 'node-defaults').map((n) => [n, compare(medians[n], medians['node-defaults'])]));
  const report = reports ? reportsMarkdown(meta, medians, ratios) : markdown(meta, medians, ratios);
  process.stdout.write(report);

  const base = `memory${reports ? '-reports' : ''}-${meta.date.slice(0, 10)}-node${process.versions.node.split('.')[0]}${quick ? '-quick' : ''}`;
  await mkdir(RESULTS, { recursive: true });
  const targets = reports ? REPORT_TARGETS : TARGETS;
  await writeFile(path.join(RESULTS, `${base}.json`), `${JSON.stringify({ meta, targets, medians, ratios, runs, problems }, null, 2)}\n`);
  await writeFile(path.join(RESULTS, `${base}.md`), report);
  progress(`wrote ${path.join(RESULTS, base)}.json and .md`);

  if (problems.length) {
    progress(`\nFAILED: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------------------
// Variants.

function makeVariant(name) {
  if (name === 'node-defaults') {
    return { name, describe: 'node loadtests/app/server.mjs', nodeArgs: [], env: {}, metrics: false };
  }
  const { nodeArgs, env, expectedHeapLimitMB } = profileLaunch({ cli: CLI, register: REGISTER, cwd: REPO, profile: name });
  return {
    name,
    describe: `node ${nodeArgs.map((a) => (a === REGISTER ? 'dist/register.js' : a)).join(' ')} loadtests/app/server.mjs` +
      ` (env ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')})`,
    runCommand: `node dist/src/cli.js run --profile ${name} -- node loadtests/app/server.mjs`,
    nodeArgs,
    env,
    metrics: true,
    expectedHeapLimitMB,
  };
}

// The reports scenario's variants (./memory-levers.mjs): a lever on plain node, the preload with env, or a profile.
function makeReportVariant(name) {
  const spec = REPORT_VARIANTS.find((v) => v.name === name);
  if (spec.launch === 'profile') return { ...makeVariant(spec.profile), name, lever: spec.lever };
  const nodeArgs = [...(spec.launch === 'preload' ? ['--import', REGISTER] : []), ...(spec.nodeArgs ?? [])];
  const env = spec.env ?? {};
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('');
  const shown = nodeArgs.map((a) => (a === REGISTER ? 'dist/register.js' : a));
  return {
    name,
    lever: spec.lever,
    describe: `${envText}node ${[...shown, 'loadtests/app/server.mjs'].join(' ')}`,
    nodeArgs,
    env,
    metrics: spec.launch === 'preload',
    expectedHeapLimitMB: null,
  };
}

// reports: a warm-up at the base concurrency (discarded), then the spike phases, one load worker each.
async function reportsLoad(app, round) {
  const common = { baseUrl: app.baseUrl, requests: REPORT_MIX, ids: { seed: round }, cpu: PIN.load };
  if (WARMUP > 0) await runLoad({ ...common, connections: CONNECTIONS, durationSec: WARMUP });
  const phases = [];
  for (const p of PHASES) phases.push({ phase: p.phase, result: await runLoad({ ...common, connections: p.connections, durationSec: p.durationSec }) });
  const c = combinePhases(phases);
  return {
    ...c,
    statusCodes: Object.fromEntries(Object.entries(c.statusCodes).map(([code, count]) => [code, { count }])),
    latency: { p50: c.p50, p99: c.p99 },
    cpu: phases[0]?.result.cpu ?? null,
    phases: phases.map(({ phase, result }) => ({ phase, connections: result.connections, durationSec: result.durationSec, requests: result.requests, p99: result.latency.p99, statusCodes: result.statusCodes })),
  };
}

// ---------------------------------------------------------------------------
// One variant, one round.

async function measure(variant, round) {
  const metricsPort = variant.metrics ? await freePort() : null;
  const metricsUrl = metricsPort && `http://127.0.0.1:${metricsPort}/metrics`;
  const app = await startApp({
    script: APP,
    cwd: REPO,
    nodeArgs: variant.nodeArgs,
    env: {
      DATABASE_URL: db.url,
      APP_GRACEFUL: '1', // SIGTERM → clean exit, so a non-zero exit below means a crash
      ...variant.env,
      // Both names: PLANDEX_PERF_METRICS_PORT is documented, the OTEL one is read too.
      ...(metricsPort ? { PLANDEX_PERF_METRICS_PORT: String(metricsPort), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) } : {}),
    },
    timeoutMs: 30_000,
    rssIntervalMs: RSS_INTERVAL_MS,
    verbose,
    cpu: PIN.app,
  });
  current = app;
  const where = `${variant.name} round ${round}`;
  try {
    // Composition samples while the load runs; the one at the highest RSS is
    // kept, since that is the moment the peak is made of.
    let atPeak = null;
    let busy = false;
    const timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const c = await composition(app.pid, metricsUrl);
        if (c && (!atPeak || c.rssMB > atPeak.rssMB)) atPeak = c;
      } finally {
        busy = false;
      }
    }, SAMPLE_MS);
    let load;
    try {
      load = reports ? await reportsLoad(app, round) : await runLoad({
        baseUrl: app.baseUrl,
        requests: MIX,
        ids: { max: USERS, distribution: 'zipf', s: 1.0, seed: round }, // same sequence for every variant of a round
        connections: CONNECTIONS,
        durationSec: DURATION,
        warmupSec: WARMUP,
        cpu: PIN.load,
      });
    } finally {
      clearInterval(timer);
    }
    const rssAfter = await app.readRss();
    const after = await composition(app.pid, metricsUrl);
    if (app.child.exitCode !== null || app.child.signalCode !== null) problems.push(`${where}: the app died during the load`);

    const codes = Object.fromEntries(Object.entries(load.statusCodes ?? {}).map(([code, s]) => [code, s.count]));
    const count = (test) => Object.entries(codes).filter(([c]) => test(Number(c))).reduce((a, [, n]) => a + n, 0);
    const ok = count((c) => c >= 200 && c < 300);
    const shed = codes['503'] ?? 0;
    const notFound = codes['404'] ?? 0;
    const otherNon2xx = count((c) => (c < 200 || c >= 300) && c !== 503);
    const unexpected = count((c) => (c < 200 || c >= 300) && c !== 503 && c !== 404);
    if (load.errors || load.timeouts) problems.push(`${where}: ${load.errors} errors, ${load.timeouts} timeouts`);
    if (unexpected) problems.push(`${where}: unexpected statuses ${JSON.stringify(codes)}`);
    if (ok === 0) problems.push(`${where}: no successful responses at all`);
    if (variant.metrics) {
      const limit = after?.heapLimitMB ?? atPeak?.heapLimitMB;
      if (limit == null) problems.push(`${where}: no heap-budget metrics on ${metricsUrl}${after?.scrapeError ? ` (${after.scrapeError})` : ''}`);
      else if (variant.expectedHeapLimitMB != null && Math.abs(limit - variant.expectedHeapLimitMB) > variant.expectedHeapLimitMB * 0.05) {
        problems.push(`${where}: V8 heap limit ${limit.toFixed(0)} MB, expected ${variant.expectedHeapLimitMB} MB: the profile's flags were not applied`);
      }
    }

    return {
      variant: variant.name,
      round,
      appCpu: app.cpu,
      loadCpu: load.cpu,
      startupMs: app.startupMs,
      hwmMB: mb(app.rss.hwm),
      peakRssMB: mb(app.rss.peak),
      rssAfterMB: mb(rssAfter),
      rps: ok / load.durationSec, // 2xx only: cheap 503s must not count as throughput
      p50: load.latency.p50,
      p99: load.latency.p99, // reports: the spike phases' p99
      p99Base: load.p99Base ?? null,
      phases: load.phases ?? null,
      requests: load.requests,
      ok,
      errors: load.errors,
      timeouts: load.timeouts,
      shed,
      notFound,
      otherNon2xx,
      statusCodes: codes,
      atPeak,
      after,
    };
  } finally {
    const exit = await app.stop();
    current = null;
    if (exit.code !== 0) {
      problems.push(`${where}: app exit ${exit.code ?? exit.signal} on stop`);
      progress(app.stderrTail().slice(-2000));
    }
    await sleep(500); // let this run's sockets and pg backends go before the next start-up
  }
}

// RSS split by the kernel (anonymous vs file-backed) for every variant; for
// the preload variants also V8's own view from /metrics. "anon outside the
// V8 heap" is then native memory: malloc'd buffers, thread stacks, ICU, etc.
async function composition(pid, metricsUrl) {
  let status;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  const c = { rssMB: kb('VmRSS'), anonMB: kb('RssAnon'), fileMB: kb('RssFile') + kb('RssShmem') };
  if (!metricsUrl) return c;
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
    const samples = parseMetrics(await res.text());
    const metric = (name, labels) => sum(samples, name, labels);
    const has = (name) => samples.some((s) => s.name === name);
    Object.assign(c, {
      heapUsedMB: mb(metric('v8js_memory_heap_used')),
      heapCommittedMB: mb(metric('v8js_memory_heap_space_physical_size')),
      newSpaceCommittedMB: mb(metric('v8js_memory_heap_space_physical_size', { v8js_heap_space_name: 'new_space' })),
      heapLimitMB: has('plandex_perf_heap_budget_limit') ? mb(metric('plandex_perf_heap_budget_limit')) : null,
      budgetState: samples.find((s) => s.name === 'plandex_perf_heap_budget_state' && s.value === 1)?.labels.plandex_perf_heap_budget_state ?? null,
      shedTotal: has('plandex_perf_heap_budget_shed_requests_total') ? metric('plandex_perf_heap_budget_shed_requests_total') : null,
      // Profiles also size the pg pool, which moves throughput on this
      // DB-bound mix; recorded so a throughput ratio can be read with it.
      poolMax: has('db_client_connection_max') ? metric('db_client_connection_max') : null,
    });
    c.nativeAnonMB = c.anonMB - c.heapCommittedMB;
  } catch (err) {
    c.scrapeError = err?.cause?.code ?? err?.message ?? String(err);
  }
  return c;
}

// ---------------------------------------------------------------------------
// Statistics and report.

function summarize(runs) {
  const med = (pick) => median(runs.map(pick).filter((x) => x != null && Number.isFinite(x)));
  const total = (pick) => runs.reduce((a, r) => a + (pick(r) ?? 0), 0);
  const part = (key) => ({
    rssMB: med((r) => r[key]?.rssMB),
    anonMB: med((r) => r[key]?.anonMB),
    fileMB: med((r) => r[key]?.fileMB),
    heapCommittedMB: med((r) => r[key]?.heapCommittedMB),
    heapUsedMB: med((r) => r[key]?.heapUsedMB),
    newSpaceCommittedMB: med((r) => r[key]?.newSpaceCommittedMB),
    nativeAnonMB: med((r) => r[key]?.nativeAnonMB),
    heapLimitMB: med((r) => r[key]?.heapLimitMB),
    poolMax: med((r) => r[key]?.poolMax),
  });
  return {
    runs: runs.length,
    startupMs: med((r) => r.startupMs),
    hwmMB: med((r) => r.hwmMB),
    peakRssMB: med((r) => r.peakRssMB),
    rssAfterMB: med((r) => r.rssAfterMB),
    rps: med((r) => r.rps),
    p50: med((r) => r.p50),
    p99: med((r) => r.p99),
    p99Base: med((r) => r.p99Base),
    // Counts are totals over all rounds: a single 503 matters, a median would hide it.
    requests: total((r) => r.requests),
    errors: total((r) => r.errors + r.timeouts),
    otherNon2xx: total((r) => r.otherNon2xx),
    notFound: total((r) => r.notFound),
    shed: total((r) => r.shed),
    atPeak: part('atPeak'),
    after: part('after'),
  };
}

function compare(m, base) {
  return { peakRss: m.hwmMB / base.hwmMB, throughput: m.rps / base.rps, p99: m.p99 / base.p99, rssAfter: m.rssAfterMB / base.rssAfterMB };
}

/** The lines both reports open with: title, machine, load average, pinning, heap limit and which preload ran. */
function reportHeader(meta, title, preload) {
  const la = (v) => v.map((x) => x.toFixed(2)).join(' / ');
  return [
    `## Memory benchmark: ${title}${meta.quick ? ' (quick smoke run — not representative)' : ''}`,
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM · ${meta.platform}`,
    '',
    `Load average (1/5/15 min) before: ${la(meta.loadavgBefore)}, after: ${la(meta.loadavgAfter)}. CPU pinning: ${meta.pinning}. ` +
      `Node's default V8 heap limit here: ${fmt(meta.defaultHeapLimitMB, 0)} MB. ${preload}.`,
    '',
  ];
}

function markdown(meta, medians, ratios) {
  const L = reportHeader(meta, 'heap budgets', `dist/register.js ${meta.register ? `sha256 ${meta.register.sha256}…, built ${meta.register.mtime}` : 'absent'}`);
  L.push(
    `${meta.rounds} round(s), variants interleaved (order rotated per round), database re-seeded before each run; per run: fresh app, ` +
      `${meta.warmupSec} s warm-up + ${meta.durationSec} s measured, ${meta.connections} connections, mix ${meta.mix.join(', ')}; ids ${meta.ids}. ` +
      `Database: ${meta.database}. Medians over rounds; counts are totals. Peak RSS covers start-up, warm-up and load.`,
    '',
  );
  if (meta.loadavgBefore[0] > meta.cpus * 0.5) {
    L.push(`> ⚠ The machine was busy before the run (load average ${meta.loadavgBefore[0].toFixed(2)} on ${meta.cpus} CPUs): treat these figures as noisy.`, '');
  }

  L.push('| variant | peak RSS MB (VmHWM) | peak RSS MB (sampled) | RSS after load MB | throughput 2xx/s | p50 ms | p99 ms | requests | errors | non-2xx excl. 503 (of which 404) | 503 shed | start-up ms |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const [name, m] of Object.entries(medians)) {
    L.push(
      `| ${name} | ${fmt(m.hwmMB, 1)} | ${fmt(m.peakRssMB, 1)} | ${fmt(m.rssAfterMB, 1)} | ${fmt(m.rps, 0)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ` +
        `${m.requests} | ${m.errors} | ${m.otherNon2xx} (${m.notFound}) | ${m.shed}${m.shed ? ' ⚠' : ''} | ${fmt(m.startupMs, 0)} |`,
    );
  }
  L.push('');

  if (Object.keys(ratios).length) {
    L.push(
      `Against node-defaults. Targets: peak RSS ≤ ${TARGETS.peakRssRatio.toFixed(2)}× at throughput ≥ ${TARGETS.throughputRatio.toFixed(2)}×; ` +
        'a profile meets the issue only with both ✓.',
      '',
    );
    L.push('| variant | peak RSS × (VmHWM) | throughput × | p99 × | RSS after load × | both targets |');
    L.push('|---|--:|--:|--:|--:|:-:|');
    for (const [name, r] of Object.entries(ratios)) {
      const rssOk = r.peakRss <= TARGETS.peakRssRatio;
      const thrOk = r.throughput >= TARGETS.throughputRatio;
      L.push(
        `| ${name} | ${fmt(r.peakRss, 2)} ${rssOk ? '✓' : '✗'} | ${fmt(r.throughput, 2)} ${thrOk ? '✓' : '✗'} | ${fmt(r.p99, 2)} | ${fmt(r.rssAfter, 2)} | ${rssOk && thrOk ? '✓' : '✗'} |`,
      );
    }
    L.push('');
  }

  L.push(
    'What RSS is made of, at the highest RSS sampled under load (every 2 s; medians, MB). Anon/file from /proc/<pid>/status; ' +
      'V8 heap from the preload\'s /metrics (`v8js_memory_heap_space_physical_size`, `v8js_memory_heap_used`), so not available without the preload. ' +
      '"Native anon" = anonymous RSS − V8 heap committed: Node/V8 internals, buffers, thread stacks, malloc arenas. ' +
      'pg pool max from `db_client_connection_max` (node-defaults: pg.Pool\'s default, 10).',
    '',
  );
  L.push('| variant | RSS | anon | file-backed | V8 heap committed | V8 heap used | new space committed | native anon | V8 heap limit | pg pool max |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const [name, m] of Object.entries(medians)) {
    const p = m.atPeak;
    L.push(
      `| ${name} | ${fmt(p.rssMB, 1)} | ${fmt(p.anonMB, 1)} | ${fmt(p.fileMB, 1)} | ${fmt(p.heapCommittedMB, 1)} | ${fmt(p.heapUsedMB, 1)} | ` +
        `${fmt(p.newSpaceCommittedMB, 1)} | ${fmt(p.nativeAnonMB, 1)} | ${fmt(p.heapLimitMB ?? (name === 'node-defaults' ? meta.defaultHeapLimitMB : null), 0)} | ` +
        `${fmt(p.poolMax ?? (name === 'node-defaults' ? 10 : null), 0)} |`,
    );
  }
  L.push('');

  L.push('Variants:', '');
  for (const [name, v] of Object.entries(meta.variants)) L.push(`- ${name}: \`${v.command}\`${v.run ? ` — same as \`${v.run}\`` : ''}`);
  L.push('');
  if (problems.length) L.push(`**Run problems (${problems.length}):**`, '', ...problems.map((p) => `- ${p}`), '');
  return L.join('\n');
}

function reportsMarkdown(meta, medians, ratios) {
  const phases = meta.phases;
  const base = phases.find((p) => p.phase === 'base');
  const spike = phases.find((p) => p.phase === 'spike');
  const L = reportHeader(meta, 'JSON reports of 100 KB–1 MB under concurrency spikes', `Preload: ${meta.register ? `${meta.register.path}, sha256 ${meta.register.sha256}…` : 'absent'}`);
  L.push(
    `${meta.rounds} round(s), variants interleaved (order rotated per round); per run: fresh app, ${meta.warmupSec} s warm-up at ${base.connections} connections, ` +
      `then ${phases.length / 2} × (${base.durationSec} s at ${base.connections} + ${spike.durationSec} s at ${spike.connections} connections), closed loop; ` +
      `mix ${meta.mix.join(', ')}. Peak RSS: VmHWM from spawn to the end of the load, and the highest of /proc samples every ${meta.rssIntervalMs} ms. ` +
      'Throughput: 2xx/s over the loaded time; p99 of 2xx in the spike phases (median over them), and in the base phases. ' +
      'Ratios: against bare in the same round, median over rounds.',
    '',
  );
  if (meta.loadavgBefore[0] > meta.cpus * 0.5) {
    L.push(`> ⚠ The machine was busy before the run (load average ${meta.loadavgBefore[0].toFixed(2)} on ${meta.cpus} CPUs): treat these figures as noisy.`, '');
  }
  L.push(
    `Target: peak RSS ≤ ${REPORT_TARGETS.peakRss}× bare at throughput ≥ ${REPORT_TARGETS.throughput}× (both ✓ to meet it).`,
    '',
    '| variant | peak RSS MB (VmHWM) | sampled | × bare | 2xx/s | × bare | p99 spike ms | × bare | p99 base ms | RSS after MB | 503 | errors | target |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|',
  );
  for (const [name, m] of Object.entries(medians)) {
    const r = ratios[name];
    const v = r && targetVerdict({ peakRss: r.hwmMB, throughput: r.rps });
    const mark = (ok) => (ok ? ' ✓' : ' ✗');
    L.push(
      `| ${name} | ${fmt(m.hwmMB, 1)} | ${fmt(m.peakRssMB, 1)} | ${r ? fmt(r.hwmMB, 2) + mark(v.rss) : '1'} | ${fmt(m.rps, 0)} | ${r ? fmt(r.rps, 2) + mark(v.throughput) : '1'} | ` +
        `${fmt(m.p99, 1)} | ${r ? fmt(r.p99, 2) : '1'} | ${fmt(m.p99Base, 1)} | ${fmt(m.rssAfterMB, 1)} | ${m.shed} | ${m.errors} | ${r ? (v.both ? '✓' : '✗') : '–'} |`,
    );
  }
  L.push('');
  L.push('What RSS is made of at the highest sample (every 2 s; preload variants only for the V8 figures), medians, MB:', '');
  L.push('| variant | RSS | anon | file-backed | V8 heap committed | new space committed | native anon |');
  L.push('|---|--:|--:|--:|--:|--:|--:|');
  for (const [name, m] of Object.entries(medians)) {
    const p = m.atPeak;
    L.push(`| ${name} | ${fmt(p.rssMB, 1)} | ${fmt(p.anonMB, 1)} | ${fmt(p.fileMB, 1)} | ${fmt(p.heapCommittedMB, 1)} | ${fmt(p.newSpaceCommittedMB, 1)} | ${fmt(p.nativeAnonMB, 1)} |`);
  }
  L.push('', 'Variants:', '');
  for (const [name, v] of Object.entries(meta.variants)) L.push(`- ${name} (${v.lever}): \`${v.command}\`${v.run ? ` — same as \`${v.run}\`` : ''}`);
  for (const s of meta.skipped) L.push(`- ${s.name}: skipped, ${s.reason}`);
  L.push('');
  if (problems.length) L.push(`**Run problems (${problems.length}):**`, '', ...problems.map((p) => `- ${p}`), '');
  return L.join('\n');
}

// ---------------------------------------------------------------------------
// Small helpers (function declarations: main() runs before any const below
// would be initialised).









function progress(...args) {
  console.error(...args);
}


async function abort(message, code) {
  progress(`\nmemory benchmark failed: ${message}`);
  try {
    await current?.stop();
  } catch {}
  try {
    await db?.stop();
  } catch {}
  process.exit(code);
}
