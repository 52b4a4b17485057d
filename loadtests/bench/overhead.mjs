#!/usr/bin/env node
// Overhead benchmark: what does the preload cost a host, as a user gets it (no configuration), compared
// with the same app bare, with metrics only, with OpenTelemetry's zero-code preload and with prom-client
// wired by hand?
//
//   npm run bench:overhead                               (builds first; 4 rounds × 6 s per endpoint and load generator)
//   node loadtests/bench/overhead.mjs --quick            (1 round × 2 s, smoke test for CI)
//   node loadtests/bench/overhead.mjs --rounds 6 --duration 10 --variants bare,defaults --load wrk
//   node loadtests/bench/overhead.mjs --compare loadtests/results/overhead-….json [--threshold 15]
//   node loadtests/bench/overhead.mjs --results now.json --compare before.json     (compare two files, run nothing)
//   --help for every option. BENCH_ROUNDS, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_VARIANTS,
//   BENCH_LOAD and BENCH_PIN=0 (no CPU pinning, see ../lib/cpu.mjs) still work; a flag wins over them.
//
// Method. Every measurement starts a fresh app process (the reference app, ESM node:http + pg with a default
// pg.Pool), so start-up time and memory are per run too. Variants are interleaved and their order rotates per
// round, so drift on the machine spreads over all of them and no variant always runs first or last; medians
// over rounds, then ratios against bare from the same run. The app runs on CPU 0 and the load generator on
// CPU 1 (taskset, when available). Two load generators, wrk (C, one thread) and autocannon (Node, its own
// process), each drive both endpoints in every run, so a figure does not depend on one generator's own cost.
// Per run: RSS 0.5 s after listening (idle), a warm-up, the trivial endpoint /hello and the one-query endpoint
// /users/{id} (ids uniform 1..1000, the same sequence for every variant of a round) with each generator, RSS
// after the load. Progress goes to stderr; a Markdown report to stdout and loadtests/results/overhead-*.{json,md}.
//
// Exit status: 0; 1 when a run failed (an app did not start, requests errored, a variant did not really
// instrument the app) or, with --compare, when the defaults' ratios regressed beyond --threshold
// (PPERF_ERR_BENCH_REGRESSION); 2 on bad usage or an unreadable results file.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { clearCallerSettings, startApp } from '../lib/app-process.mjs';
import { runLoad } from '../lib/load.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { machine, fmt, freePort, mb, rotate, sleep } from '../lib/bench-util.mjs';
import { runWrk, wrkAvailable } from './wrk.mjs';
import { compareResults, FORMAT, markdown, summarise } from './overhead-report.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these. */
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in clock ticks, from /proc (null where there is none). */
async function cpuTicks(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat(5), counted after the command name
  } catch {
    return null;
  }
}
const REPO = path.resolve(HERE, '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
const REGISTER = path.join(REPO, 'dist/register.js');
const WRK_USERS = path.join(HERE, 'wrk-users.lua');
const USERS = 1000; // seed scale 1 → users 1..1000
const ENDPOINTS = { hello: '/hello', db: '/users/{id}' };

const USAGE = `usage: node loadtests/bench/overhead.mjs [options]
  --quick              1 round, 2 s per measurement, 1 s warm-up (CI smoke; not representative)
  --rounds N           rounds (4; env BENCH_ROUNDS)
  --duration S         seconds per endpoint and load generator (6; env BENCH_DURATION)
  --warmup S           warm-up seconds per run, discarded (3; env BENCH_WARMUP)
  --connections N      connections (16; env BENCH_CONNECTIONS)
  --variants LIST      of bare,defaults,metrics-only,otel,prom-client (all; env BENCH_VARIANTS); bare is required
  --load LIST          of wrk,autocannon (both; env BENCH_LOAD); wrk is skipped with a note when not installed
  --compare FILE       a previous results file: exit 1 (PPERF_ERR_BENCH_REGRESSION) when a ratio of the
                       defaults against bare moved the wrong way by more than --threshold
  --threshold PCT      relative change allowed by --compare (15)
  --results FILE       compare this results file instead of running (with --compare)
  --out DIR            where results go (loadtests/results)
  --tag NAME           suffix of the results file names
  --verbose            forward the apps' output
  --help`;

// The issue's targets (issue 12). Printed with ✓/✗, never enforced: --compare is the CI gate.
const TARGETS = {
  defaults: { throughput: 0.95, idleRssDeltaMB: 15, loadedRssDeltaMB: 25, startupDeltaMs: 60 },
  'metrics-only': { throughput: 0.97, idleRssDeltaMB: 15, loadedRssDeltaMB: 25, startupDeltaMs: 60 },
};

// Variants; nodeArgs and env are functions of the metrics port picked per run.
const ours = { missing: () => (existsSync(REGISTER) ? null : 'dist/register.js not found — run `npm run build` first'), nodeArgs: () => ['--import', pathToFileURL(REGISTER).href] };
// The Prometheus exporter appends no unit suffix; other exporters may (_seconds, _milliseconds).
const OURS_METRICS = { http: /^http_server_request_duration(?:_seconds)?_count\{/m, pg: /^db_client_operation_duration(?:_seconds)?_count\{/m };
const OFF = 'pg-pool,object-pool,heap-budget,cache,diagnostics';
const VARIANTS = {
  bare: { describe: 'node loadtests/app/server.mjs', nodeArgs: () => [], env: () => ({}) },
  // What a user gets from the one --import: every plugin, profile auto, no configuration. The port is the only
  // setting, because other benches may run on this machine at the same time.
  defaults: {
    ...ours,
    describe: 'node --import dist/register.js loadtests/app/server.mjs (every plugin, no configuration)',
    env: (port) => ({ OTEL_EXPORTER_PROMETHEUS_PORT: String(port) }),
    metrics: OURS_METRICS,
  },
  'metrics-only': {
    ...ours,
    describe: `PLANDEX_PERF_DISABLE=${OFF} node --import dist/register.js loadtests/app/server.mjs`,
    env: (port) => ({ OTEL_EXPORTER_PROMETHEUS_PORT: String(port), PLANDEX_PERF_DISABLE: OFF }),
    metrics: OURS_METRICS,
  },
  // OpenTelemetry's ESM hook first (see otel-esm-hook.mjs): without it an ESM app's http is never patched.
  otel: {
    describe: 'node --import loadtests/bench/otel-esm-hook.mjs --import @opentelemetry/auto-instrumentations-node/register loadtests/app/server.mjs',
    nodeArgs: () => ['--import', pathToFileURL(path.join(HERE, 'otel-esm-hook.mjs')).href, '--import', import.meta.resolve('@opentelemetry/auto-instrumentations-node/register')],
    env: (port) => ({
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      // No cloud detectors: their metadata probes would charge network timeouts to start-up.
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
      OTEL_SERVICE_NAME: 'overhead-bench',
    }),
    metrics: { http: /^http_server_(?:request_)?duration(?:_seconds|_milliseconds)?_count\{/m, pg: /^db_client_operation_duration(?:_seconds|_milliseconds)?_count\{/m },
  },
  'prom-client': {
    describe: 'node --import loadtests/bench/prom-client-baseline.mjs loadtests/app/server.mjs (http + pg histograms by hand)',
    nodeArgs: () => ['--import', pathToFileURL(path.join(HERE, 'prom-client-baseline.mjs')).href],
    env: (port) => ({ PROM_BASELINE_PORT: String(port) }),
    metrics: { http: /^http_server_request_duration_seconds_count\{/m, pg: /^pg_query_duration_seconds_count\{/m },
  },
};
const ORDER = ['bare', 'defaults', 'metrics-only', 'otel', 'prom-client'];

const problems = []; // real failures: exit 1
let current = null; // the app being measured, for Ctrl-C
let db = null;

const options = parseOptions(process.argv.slice(2));
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
try {
  process.exitCode = await main(options);
} catch (err) {
  await abort(err?.stack ?? String(err), 1);
}

function usage(message) {
  process.stderr.write(`PPERF_ERR_BENCH_USAGE: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

/** Flags, with the BENCH_* variables as fallbacks. A misspelled flag is an error, not ignored. */
function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        [['quick', 'boolean'], ['verbose', 'boolean'], ['help', 'boolean'], ['rounds'], ['duration'], ['warmup'], ['connections'], ['variants'], ['load'], ['compare'], ['threshold'], ['results'], ['out'], ['tag']].map(
          ([name, type = 'string']) => [name, { type }],
        ),
      ),
    }));
  } catch (err) {
    usage(err.message);
  }
  const env = process.env;
  const number = (flag, envName, fallback, { min = 1, max = 3600, integer = true } = {}) => {
    const raw = values[flag] ?? env[envName];
    if (raw == null || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) usage(`--${flag} (${envName}) must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${raw}`);
    return n;
  };
  const list = (flag, envName, known, fallback) => {
    const raw = values[flag] ?? env[envName];
    const items = raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : fallback;
    for (const item of items) if (!known.includes(item)) usage(`--${flag}: unknown "${item}" (known: ${known.join(', ')})`);
    return [...new Set(items)];
  };
  const quick = values.quick ?? false;
  const o = {
    help: values.help ?? false,
    quick,
    verbose: values.verbose ?? false,
    rounds: number('rounds', 'BENCH_ROUNDS', quick ? 1 : 4, { max: 50 }),
    durationSec: number('duration', 'BENCH_DURATION', quick ? 2 : 6),
    warmupSec: number('warmup', 'BENCH_WARMUP', quick ? 1 : 3, { min: 0 }),
    connections: number('connections', 'BENCH_CONNECTIONS', 16, { max: 1000 }),
    variants: list('variants', 'BENCH_VARIANTS', ORDER, ORDER),
    loads: list('load', 'BENCH_LOAD', ['wrk', 'autocannon'], ['wrk', 'autocannon']),
    compare: values.compare,
    threshold: number('threshold', '', 15, { min: 0, max: 1000, integer: false }),
    results: values.results,
    out: path.resolve(values.out ?? path.join(REPO, 'loadtests/results')),
    tag: values.tag,
  };
  if (o.results && !o.compare) usage('--results needs --compare');
  if (o.tag !== undefined && !/^[\w.-]{1,40}$/.test(o.tag)) usage('--tag: letters, digits, dot, dash, underscore (at most 40)');
  if (!o.variants.includes('bare')) usage('--variants must include bare: every figure is relative to it');
  return o;
}

function readResults(file) {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    if (data?.format !== FORMAT) throw new Error(`not an overhead results file of format ${FORMAT} (format: ${data?.format ?? 'none'})`);
    return data;
  } catch (err) {
    process.stderr.write(`PPERF_ERR_BENCH_RESULTS: ${file}: ${err.message}\n`);
    process.exit(2);
  }
}

async function main(o) {
  const previous = o.compare ? readResults(o.compare) : undefined;
  if (o.results) return report(readResults(o.results), previous, o, false);
  if (!existsSync(APP)) throw new Error(`reference app not found: ${APP}`);

  // The caller's settings would change what a variant measures; each variant sets its own. Cleared from
  // process.env, not only by startApp, so that every child this bench starts sees the defaults.
  clearCallerSettings();

  const skipped = {};
  const active = o.variants.filter((name) => {
    const why = VARIANTS[name].missing?.();
    if (why) (skipped[name] = why), progress(`skipping ${name}: ${why}`);
    return !why;
  });
  if (!active.includes('bare')) throw new Error('the bare variant is required: every figure is relative to it');
  const loads = o.loads.filter((load) => load !== 'wrk' || wrkAvailable() || (progress('skipping wrk: not installed (apt-get install wrk)'), false));
  if (!loads.length) throw new Error('no load generator left to run');

  const pin = benchPinning();
  const loadavgBefore = os.loadavg()[0];
  if (loadavgBefore > os.availableParallelism() * 0.5) progress(`warning: machine is busy (1-min load average ${loadavgBefore.toFixed(2)}); results will be noisy`);
  const { getDatabase } = await import('../lib/database.mjs');
  const { seed } = await import('../app/seed.mjs');
  db = await getDatabase({ log: progress });
  progress(`database: ${db.kind}; seeding scale 1 …`);
  await seed(db.url, { scale: 1 });

  const meta = {
    ...machine(),
    loadavgBefore,
    rounds: o.rounds,
    durationSec: o.durationSec,
    warmupSec: o.warmupSec,
    connections: o.connections,
    loads,
    pinning: pin.note,
    quick: o.quick,
    database: db.kind,
    endpoints: { hello: '/hello (trivial)', db: `/users/{id} (one query; ids uniform 1..${USERS})` },
    variants: Object.fromEntries(o.variants.map((n) => [n, { command: VARIANTS[n].describe, skipped: skipped[n] }])),
  };

  const runs = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Rotated per round: position in the round favours no variant, and the generators swap order too.
    const order = rotate(active, round - 1);
    const loadOrder = rotate(loads, round - 1);
    for (const name of order) {
      progress(`round ${round}/${o.rounds}: ${name} …`);
      const run = await measure(name, round, loadOrder, pin, o);
      runs.push(run);
      const fig = loads.map((l) => `${l} /hello ${fmt(run.load[l]?.hello?.rps, 0)} /users ${fmt(run.load[l]?.db?.rps, 0)}`).join(' · ');
      progress(`  start-up ${fmt(run.startupMs, 0)} ms · idle ${fmt(run.idleRssMB, 1)} MB · ${fig} rps · after load ${fmt(run.loadedRssMB, 1)} MB`);
    }
  }
  await db.stop();
  db = null;
  const summary = summarise(runs, active, loads);
  const data = { format: FORMAT, meta, targets: TARGETS, ...summary, runs, problems: [...problems] };
  return report(data, previous, o, true);
}

async function report(data, previous, o, write) {
  const comparison = previous ? compareResults(previous, data, o.threshold / 100) : undefined;
  const text = markdown(data, TARGETS, comparison);
  process.stdout.write(text);
  if (write) {
    const m = data.meta;
    const base = `overhead-${m.date.slice(0, 10)}-node${m.node.slice(1).split('.')[0]}${m.quick ? '-quick' : ''}${o.tag ? `-${o.tag}` : ''}`;
    await mkdir(o.out, { recursive: true });
    await writeFile(path.join(o.out, `${base}.json`), `${JSON.stringify(data, null, 2)}\n`);
    await writeFile(path.join(o.out, `${base}.md`), text);
    progress(`wrote ${path.relative(process.cwd(), path.join(o.out, base))}.json and .md`);
  }
  let status = 0;
  if (data.problems.length) {
    progress(`PPERF_ERR_BENCH_FAILED: ${data.problems.length} problem(s):\n- ${data.problems.join('\n- ')}`);
    status = 1;
  }
  if (comparison?.regressions.length) {
    progress(`PPERF_ERR_BENCH_REGRESSION: ${comparison.regressions.map((r) => `${r.label} ${r.before.toFixed(2)} → ${r.after.toFixed(2)}`).join(', ')}`);
    status = 1;
  }
  return status;
}

// One variant, one round: fresh app, idle RSS, warm-up, both endpoints under each generator, RSS, stop.
async function measure(name, round, loads, pin, o) {
  const variant = VARIANTS[name];
  const metricsPort = variant.metrics ? await freePort() : null;
  const app = await startApp({
    script: APP,
    cwd: REPO,
    nodeArgs: variant.nodeArgs(metricsPort),
    // APP_GRACEFUL: SIGTERM closes the server and exits, for every variant alike.
    env: { DATABASE_URL: db.url, APP_GRACEFUL: '1', ...variant.env(metricsPort) },
    timeoutMs: 60_000, // OTel's ESM hook parses every imported module: seconds, not milliseconds
    verbose: o.verbose,
    cpu: pin.app,
  });
  current = app;
  try {
    await sleep(500);
    const idleRss = await app.readRss();
    const common = { baseUrl: app.baseUrl, connections: o.connections, cpu: pin.load };
    // Warm-up on both routes so JIT and the pg pool are hot; discarded.
    if (o.warmupSec > 0) await runLoad({ ...common, paths: ['/users/{id}', '/hello'], ids: { max: USERS }, durationSec: o.warmupSec });
    const load = {};
    for (const generator of loads) {
      load[generator] = {};
      for (const [key, endpoint] of Object.entries(ENDPOINTS)) {
        const cpuBefore = await cpuTicks(app.pid);
        const r =
          generator === 'wrk'
            ? await runWrk({ ...common, path: key === 'db' ? '' : endpoint, script: key === 'db' ? WRK_USERS : undefined, scriptArgs: key === 'db' ? [round, USERS] : [], durationSec: o.durationSec })
            : await runLoad({ ...common, paths: endpoint, ids: { max: USERS, seed: round }, durationSec: o.durationSec });
        // The app's own CPU time per answered request: what the preload costs the host, far steadier on a
        // shared machine than req/s (which also moves with the load generator's and PostgreSQL's share).
        const cpuAfter = await cpuTicks(app.pid);
        const cpuUs = cpuBefore !== null && cpuAfter !== null && r.requests > 0 ? ((cpuAfter - cpuBefore) * 1e6) / TICKS_PER_SECOND / r.requests : null;
        load[generator][key] = { rps: r.rps, requests: r.requests, cpuUs, latency: { p50: r.latency.p50, p99: r.latency.p99 }, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx };
        if (r.errors || r.timeouts || r.non2xx) problems.push(`${name} round ${round} ${generator} ${endpoint}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx of ${r.requests}`);
        if (!r.requests) problems.push(`${name} round ${round} ${generator} ${endpoint}: no responses at all`);
      }
    }
    const loadedRss = await app.readRss();
    let metrics = null;
    if (variant.metrics) {
      metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`, variant.metrics);
      if (!metrics.http || !metrics.pg) {
        problems.push(`${name} round ${round}: /metrics on port ${metricsPort} lacks ${[!metrics.http && 'http server', !metrics.pg && 'pg'].filter(Boolean).join(' and ')} metrics${metrics.error ? ` (${metrics.error})` : ''}`);
      }
    }
    return { variant: name, round, startupMs: app.startupMs, idleRssMB: mb(idleRss), loadedRssMB: mb(loadedRss), peakRssMB: mb(Math.max(app.rss.peak, app.rss.hwm)), load, metrics };
  } finally {
    const exit = await app.stop();
    current = null;
    if (exit.code !== 0 && exit.code !== null) progress(`  note: ${name} exited with code ${exit.code}\n${app.stderrTail().slice(-2000)}`);
    await sleep(500); // TIME_WAIT sockets and pg backends of this run must not overlap the next start-up
  }
}

async function scrape(url, expected) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return { http: expected.http.test(text), pg: expected.pg.test(text), families: new Set(text.match(/^# TYPE \S+/gm) ?? []).size, status: res.status };
  } catch (err) {
    return { http: false, pg: false, families: 0, error: err?.cause?.code ?? err?.message ?? String(err) };
  }
}

function progress(...args) {
  console.error(...args);
}

async function abort(message, code) {
  progress(`\nPPERF_ERR_BENCH_FAILED: overhead benchmark failed: ${message}`);
  try {
    await current?.stop();
  } catch {}
  try {
    await db?.stop();
  } catch {}
  process.exit(code);
}

