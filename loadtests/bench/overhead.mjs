#!/usr/bin/env node
// Overhead benchmark: what does the preload cost compared with no
// instrumentation ("bare") and with OpenTelemetry's own zero-code setup ("otel")?
//
//   npm run bench:overhead                 (builds first; 3 rounds × 10 s)
//   node loadtests/bench/overhead.mjs --quick          (1 round × 3 s, smoke test)
//   BENCH_ROUNDS=5 BENCH_DURATION=20 BENCH_CONNECTIONS=32 BENCH_WARMUP=3 BENCH_VARIANTS=bare,ours
//   BENCH_PIN=0                            (no CPU pinning; see ../lib/cpu.mjs)
//
// Method. Variants are interleaved (bare, ours, otel, bare, ours, otel, …) so
// slow drift on the machine (thermal, noisy neighbours, autovacuum) spreads
// over all of them instead of penalising whichever ran last; medians over
// rounds then damp single outliers. Every measurement starts a fresh app
// process, so start-up time and memory are measured per run too. The load
// generator runs in its own process (see ../lib/load.mjs). Where taskset is
// available the app runs on CPU 0 and the load generator on CPU 1, so the two
// do not trade places on the cores mid-run (PostgreSQL is left unpinned).
//
// Output: a Markdown report on stdout (progress goes to stderr), plus the
// full data in loadtests/results/overhead-<date>-node<major>[-quick].{json,md}.
// Exit code: non-zero only if the benchmark itself failed (an app did not
// start, requests errored, the otel baseline was not really instrumented);
// missed targets are reported with ✗ but do not fail the run.

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startApp } from '../lib/app-process.mjs';
import { runLoad } from '../lib/load.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { machine, fmt, freePort, mb, positive, sleep } from '../lib/bench-util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
const REGISTER = path.join(REPO, 'dist/register.js');
const RESULTS = path.join(REPO, 'loadtests/results');

const quick = process.argv.includes('--quick');
const verbose = process.argv.includes('--verbose');
const ROUNDS = positive('BENCH_ROUNDS', quick ? 1 : 3);
const DURATION = positive('BENCH_DURATION', quick ? 3 : 10);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 16);
const WARMUP = positive('BENCH_WARMUP', quick ? 1 : 3, true);
const USERS = 1000; // seed scale 1 → users 1..1000
const PIN = benchPinning(); // { app, load } CPUs, or neither

// The brief's pass marks for "ours". Printed, never enforced.
const TARGETS = {
  dbThroughput: 0.9, // ≥ 0.90× bare rps on the DB endpoint
  helloThroughput: 0.8, // ≥ 0.80× bare rps on the trivial endpoint
  rssDeltaMB: 30, // ≤ +30 MB RSS
  startupDeltaMs: 150, // ≤ +150 ms start-up
};

// ---------------------------------------------------------------------------
// Variants. nodeArgs/env are functions of the metrics port picked per run.

// Both resolved to absolute URLs so the child's cwd does not matter.
const OTEL_HOOK = pathToFileURL(path.join(HERE, 'otel-esm-hook.mjs')).href;
const OTEL_REGISTER = import.meta.resolve('@opentelemetry/auto-instrumentations-node/register');

const VARIANTS = {
  bare: {
    describe: 'node loadtests/app/server.mjs',
    nodeArgs: () => [],
    env: () => ({}),
  },
  // The issue's comparison: our preload doing what OpenTelemetry's does (HTTP, pg and runtime metrics,
  // traces off), so the other capabilities are switched off with the documented rollback variable.
  ours: {
    describe: 'PLANDEX_PERF_DISABLE=pg-pool,object-pool,heap-budget,diagnostics node --import dist/register.js loadtests/app/server.mjs',
    missing: () => (existsSync(REGISTER) ? null : `${path.relative(REPO, REGISTER)} not found — run \`npm run build\` first`),
    nodeArgs: () => ['--import', pathToFileURL(REGISTER).href],
    env: (port) => ({
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_TRACES_EXPORTER: 'none',
      PLANDEX_PERF_DISABLE: 'pg-pool,object-pool,heap-budget,diagnostics',
    }),
    metrics: true,
  },
  // Everything on, with the defaults of the `auto` profile (a tuned pg pool of 2 × cores + 1, N+1 and leak
  // detection, heap budget, diagnostics) and no heap flags: what a user gets from the one --import.
  'ours-all': {
    describe: 'node --import dist/register.js loadtests/app/server.mjs (all plugins, auto profile)',
    missing: () => (existsSync(REGISTER) ? null : `${path.relative(REPO, REGISTER)} not found — run \`npm run build\` first`),
    nodeArgs: () => ['--import', pathToFileURL(REGISTER).href],
    env: (port) => ({ OTEL_EXPORTER_PROMETHEUS_PORT: String(port), OTEL_TRACES_EXPORTER: 'none' }),
    metrics: true,
  },
  otel: {
    describe:
      'node --import loadtests/bench/otel-esm-hook.mjs --import @opentelemetry/auto-instrumentations-node/register loadtests/app/server.mjs',
    // Hook first: it must be in place before the SDK loads its
    // instrumentations and before the app imports node:http and pg.
    nodeArgs: () => ['--import', OTEL_HOOK, '--import', OTEL_REGISTER],
    env: (port) => ({
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_LOGS_EXPORTER: 'none', // nothing to export; avoids an idle OTLP log pipeline
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      // No cloud detectors: they probe metadata endpoints at start-up, which
      // would charge network timeouts to "start-up time".
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
      OTEL_SERVICE_NAME: 'overhead-bench',
    }),
    metrics: true,
    // The comparison is meaningless if OTel silently failed to patch the ESM
    // app, so for this variant missing metrics fail the run.
    mustExportMetrics: true,
  },
};

// Families that prove HTTP-server and pg instrumentation really ran; the
// optional unit suffix covers exporters that append one.
const HTTP_METRIC = /^http_server_(?:request_)?duration(?:_seconds|_milliseconds)?_count\{/m;
const PG_METRIC = /^db_client_operation_duration(?:_seconds|_milliseconds)?_count\{/m;

// ---------------------------------------------------------------------------

const problems = []; // real failures: make the exit code non-zero
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

  // Settings inherited from the shell would change what a variant measures
  // (e.g. a stray OTEL_TRACES_EXPORTER=otlp); each variant sets its own.
  for (const key of Object.keys(process.env)) {
    if (/^(OTEL_|PLANDEX_PERF_)/.test(key) || key === 'NODE_OPTIONS') delete process.env[key];
  }

  const selected = (process.env.BENCH_VARIANTS ?? 'bare,ours,ours-all,otel').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of selected) if (!VARIANTS[name]) throw new Error(`unknown variant in BENCH_VARIANTS: ${name}`);
  const skipped = {};
  const active = selected.filter((name) => {
    const why = VARIANTS[name].missing?.();
    if (why) {
      skipped[name] = why;
      progress(`skipping ${name}: ${why}`);
    }
    return !why;
  });
  if (!active.includes('bare')) throw new Error('the bare variant is required: every figure is relative to it');

  const { getDatabase } = await import('../lib/database.mjs');
  const { seed } = await import('../app/seed.mjs');
  const loadavgBefore = os.loadavg()[0];
  if (loadavgBefore > os.availableParallelism() * 0.5) {
    progress(`warning: machine is busy (1-min load average ${loadavgBefore.toFixed(2)}); results will be noisy`);
  }
  db = await getDatabase({ log: progress });
  progress(`database: ${db.kind}; seeding scale 1 …`);
  await seed(db.url, { scale: 1 });

  const meta = {
    ...machine(),
    // Other work on the machine is the biggest source of noise here (the
    // app, the load generator and PostgreSQL already share the CPUs), so the
    // load before the run is recorded and flagged in the report.
    loadavgBefore,
    rounds: ROUNDS,
    durationSec: DURATION,
    warmupSec: WARMUP,
    connections: CONNECTIONS,
    pinning: PIN.note,
    quick,
    database: db.kind,
    endpoints: { db: '/users/{id} (ids uniform 1..1000)', hello: '/hello' },
    variants: Object.fromEntries(selected.map((n) => [n, { command: VARIANTS[n].describe, skipped: skipped[n] }])),
  };

  const runs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of active) {
      progress(`round ${round}/${ROUNDS}: ${name} …`);
      const run = await measure(name, round);
      runs.push(run);
      progress(
        `  start-up ${run.startupMs.toFixed(0)} ms · /users ${run.db.rps.toFixed(0)} rps p99 ${fmt(run.db.latency.p99, 2)} ms` +
          ` · /hello ${run.hello.rps.toFixed(0)} rps p99 ${fmt(run.hello.latency.p99, 2)} ms · peak RSS ${run.peakRssMB.toFixed(1)} MB`,
      );
    }
  }
  await db.stop();
  db = null;

  const medians = Object.fromEntries(active.map((name) => [name, median(runs.filter((r) => r.variant === name))]));
  const ratios = Object.fromEntries(active.filter((n) => n !== 'bare').map((n) => [n, compare(medians[n], medians.bare)]));
  const report = markdown(meta, medians, ratios, runs, skipped);

  process.stdout.write(report);
  const base = `overhead-${meta.date.slice(0, 10)}-node${process.versions.node.split('.')[0]}${quick ? '-quick' : ''}`;
  await mkdir(RESULTS, { recursive: true });
  const data = { meta, targets: TARGETS, medians, ratios, runs, problems };
  await writeFile(path.join(RESULTS, `${base}.json`), JSON.stringify(data, null, 2) + '\n');
  await writeFile(path.join(RESULTS, `${base}.md`), report);
  progress(`wrote loadtests/results/${base}.json and .md`);

  if (problems.length) {
    progress(`\nFAILED: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
    process.exitCode = 1;
  }
}

// One variant, one round: fresh app, warm-up, two measured endpoints, stop.
async function measure(name, round) {
  const variant = VARIANTS[name];
  const metricsPort = variant.metrics ? await freePort() : null;
  const app = await startApp({
    script: APP,
    cwd: REPO,
    nodeArgs: variant.nodeArgs(metricsPort),
    // APP_GRACEFUL: SIGTERM closes the server and exits, for every variant
    // alike (OTel's register installs its own SIGTERM listener, which would
    // otherwise keep the process alive until the SIGKILL fallback).
    env: { DATABASE_URL: db.url, APP_GRACEFUL: '1', ...variant.env(metricsPort) },
    // OTel's ESM hook parses every imported module: seconds, not milliseconds.
    timeoutMs: 60_000,
    verbose,
    cpu: PIN.app,
  });
  current = app;
  try {
    const common = { baseUrl: app.baseUrl, connections: CONNECTIONS, cpu: PIN.load };
    // Warm-up: both routes, so JIT and the pg pool are hot for each; discarded.
    if (WARMUP > 0) await runLoad({ ...common, paths: ['/users/{id}', '/hello'], ids: { max: USERS }, durationSec: WARMUP });
    // Same id sequence for every variant of a round, different per round.
    const dbLoad = await runLoad({ ...common, paths: '/users/{id}', ids: { max: USERS, seed: round }, durationSec: DURATION });
    const helloLoad = await runLoad({ ...common, paths: '/hello', durationSec: DURATION });
    const rssAfter = await app.readRss();

    for (const [label, r] of [['/users/{id}', dbLoad], ['/hello', helloLoad]]) {
      if (r.errors || r.timeouts || r.non2xx) {
        problems.push(`${name} round ${round} ${label}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx of ${r.requests}`);
      }
      if (r.requests === 0) problems.push(`${name} round ${round} ${label}: no responses at all`);
    }

    let metrics = null;
    if (variant.metrics) {
      metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
      const ok = metrics.http && metrics.pg;
      if (!ok) {
        const msg = `${name} round ${round}: /metrics on port ${metricsPort} lacks ${[!metrics.http && 'http server', !metrics.pg && 'pg'].filter(Boolean).join(' and ')} metrics${metrics.error ? ` (${metrics.error})` : ''}`;
        if (variant.mustExportMetrics) problems.push(msg);
        else progress(`  warning: ${msg}`);
      }
    }

    return {
      variant: name,
      round,
      startupMs: app.startupMs,
      db: dbLoad,
      hello: helloLoad,
      peakRssMB: mb(Math.max(app.rss.peak, app.rss.hwm)),
      rssAfterMB: mb(rssAfter),
      metrics,
    };
  } finally {
    const exit = await app.stop();
    current = null;
    if (exit.code !== 0 && exit.code !== null) progress(`  note: ${name} exited with code ${exit.code}\n${app.stderrTail().slice(-2000)}`);
    // A short breather so TIME_WAIT sockets and pg backends of this run do
    // not overlap with the next app's start-up.
    await sleep(500);
  }
}

async function scrape(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const families = new Set(text.match(/^# TYPE \S+/gm) ?? []).size;
    return { http: HTTP_METRIC.test(text), pg: PG_METRIC.test(text), families, status: res.status };
  } catch (err) {
    return { http: false, pg: false, families: 0, error: err?.cause?.code ?? err?.message ?? String(err) };
  }
}

// ---------------------------------------------------------------------------
// Statistics and report.

function median(runs) {
  const med = (pick) => {
    const v = runs.map(pick).filter((x) => x != null).sort((a, b) => a - b);
    if (!v.length) return null;
    const m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  const endpoint = (key) => ({
    rps: med((r) => r[key].rps),
    p50: med((r) => r[key].latency.p50),
    p99: med((r) => r[key].latency.p99),
  });
  return {
    runs: runs.length,
    startupMs: med((r) => r.startupMs),
    db: endpoint('db'),
    hello: endpoint('hello'),
    peakRssMB: med((r) => r.peakRssMB),
    rssAfterMB: med((r) => r.rssAfterMB),
  };
}

function compare(m, bare) {
  return {
    dbThroughput: m.db.rps / bare.db.rps,
    dbP99: m.db.p99 / bare.db.p99,
    helloThroughput: m.hello.rps / bare.hello.rps,
    helloP99: m.hello.p99 / bare.hello.p99,
    peakRssDeltaMB: m.peakRssMB - bare.peakRssMB,
    rssAfterDeltaMB: m.rssAfterMB - bare.rssAfterMB,
    startupDeltaMs: m.startupMs - bare.startupMs,
  };
}

function markdown(meta, medians, ratios, runs, skipped) {
  const L = [];
  L.push(`## Overhead benchmark${meta.quick ? ' (quick smoke run — not representative)' : ''}`, '');
  L.push(
    `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM · ${meta.platform}`,
    '',
  );
  L.push(
    `${meta.rounds} round(s), variants interleaved; per run: fresh app, ${meta.warmupSec} s warm-up, ` +
      `${meta.durationSec} s on each endpoint, ${meta.connections} connections; medians over rounds. ` +
      `DB endpoint \`/users/{id}\` (ids uniform 1..${USERS}), trivial endpoint \`/hello\`. Database: ${meta.database}. ` +
      `CPU pinning: ${meta.pinning}. 1-min load average before the run: ${meta.loadavgBefore.toFixed(2)}.`,
    '',
  );
  if (meta.loadavgBefore > meta.cpus * 0.5) {
    L.push(`> ⚠ The machine was busy before the run (load average ${meta.loadavgBefore.toFixed(2)} on ${meta.cpus} CPUs): treat these figures as noisy.`, '');
  }

  L.push('| variant | start-up ms | /users rps | /users p50 ms | /users p99 ms | /hello rps | /hello p50 ms | /hello p99 ms | peak RSS MB | RSS after load MB |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const [name, m] of Object.entries(medians)) {
    L.push(
      `| ${name} | ${fmt(m.startupMs, 0)} | ${fmt(m.db.rps, 0)} | ${fmt(m.db.p50, 2)} | ${fmt(m.db.p99, 2)} | ` +
        `${fmt(m.hello.rps, 0)} | ${fmt(m.hello.p50, 2)} | ${fmt(m.hello.p99, 2)} | ${fmt(m.peakRssMB, 1)} | ${fmt(m.rssAfterMB, 1)} |`,
    );
  }
  for (const [name, why] of Object.entries(skipped)) L.push(`| ${name} | skipped: ${why} | | | | | | | | |`);
  L.push('');

  if (Object.keys(ratios).length) {
    L.push('Against bare (throughput ×: higher is better; p99 ×, Δ: lower is better). ✓/✗ = target for ours.', '');
    L.push('| variant | /users throughput × | /users p99 × | /hello throughput × | /hello p99 × | peak RSS Δ MB | RSS after load Δ MB | start-up Δ ms |');
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const [name, r] of Object.entries(ratios)) {
      const mark = name === 'ours' ? (ok) => (ok ? ' ✓' : ' ✗') : () => '';
      L.push(
        `| ${name} | ${fmt(r.dbThroughput, 2)}${mark(r.dbThroughput >= TARGETS.dbThroughput)} | ${fmt(r.dbP99, 2)} | ` +
          `${fmt(r.helloThroughput, 2)}${mark(r.helloThroughput >= TARGETS.helloThroughput)} | ${fmt(r.helloP99, 2)} | ` +
          `${signed(r.peakRssDeltaMB, 1)}${mark(r.peakRssDeltaMB <= TARGETS.rssDeltaMB)} | ` +
          `${signed(r.rssAfterDeltaMB, 1)}${mark(r.rssAfterDeltaMB <= TARGETS.rssDeltaMB)} | ` +
          `${signed(r.startupDeltaMs, 0)}${mark(r.startupDeltaMs <= TARGETS.startupDeltaMs)} |`,
      );
    }
    L.push('');
  }
  L.push(
    `Targets for ours: /users throughput ≥ ${TARGETS.dbThroughput.toFixed(2)}×, /hello throughput ≥ ${TARGETS.helloThroughput.toFixed(2)}×, ` +
      `RSS ≤ +${TARGETS.rssDeltaMB} MB (peak and after load), start-up ≤ +${TARGETS.startupDeltaMs} ms.`,
    '',
  );

  // Proof that the instrumented variants really instrumented the ESM app.
  const checks = runs.filter((r) => r.metrics);
  if (checks.length) {
    L.push('Metrics check after each run (http server / pg metric families present on /metrics):', '');
    for (const name of new Set(checks.map((r) => r.variant))) {
      const rs = checks.filter((r) => r.variant === name);
      const http = rs.filter((r) => r.metrics.http).length;
      const pg = rs.filter((r) => r.metrics.pg).length;
      L.push(`- ${name}: http ${http}/${rs.length} ${http === rs.length ? '✓' : '✗'}, pg ${pg}/${rs.length} ${pg === rs.length ? '✓' : '✗'}`);
    }
    L.push('');
  }
  L.push('Variants:', '');
  for (const [name, v] of Object.entries(meta.variants)) L.push(`- ${name}: \`${v.command}\``);
  L.push(
    '',
    'otel setup: OpenTelemetry\'s ESM loader hook (`@opentelemetry/instrumentation/hook.mjs`, registered via `module.register()` in ' +
      '`loadtests/bench/otel-esm-hook.mjs`, the non-deprecated form of `--experimental-loader`) plus `auto-instrumentations-node/register`; ' +
      'without the hook, `http.server.request.duration` is never recorded for an ESM app. ' +
      'Env: OTEL_TRACES_EXPORTER=none, OTEL_METRICS_EXPORTER=prometheus, OTEL_LOGS_EXPORTER=none, OTEL_NODE_RESOURCE_DETECTORS=env,host,os,process.',
    '',
  );
  if (problems.length) L.push(`**Run problems (${problems.length}):**`, '', ...problems.map((p) => `- ${p}`), '');
  return L.join('\n');
}

// ---------------------------------------------------------------------------
// Small helpers.



function signed(x, digits) {
  return x == null || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}



function progress(...args) {
  console.error(...args);
}


// Stop whatever is running, drop the database, exit with the given code.
async function abort(message, code) {
  progress(`\noverhead benchmark failed: ${message}`);
  try {
    await current?.stop();
  } catch {}
  try {
    await db?.stop();
  } catch {}
  process.exit(code);
}
