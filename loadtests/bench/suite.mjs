// `plandex-perf bench`: the reference app bare, then with the plugin and a profile, under the same load
// scenario, in one run; variants interleaved, their order rotated per round. Returns the results object
// that report/markdown.mjs, report/html.mjs and report/kpis.mjs (compare) read. The command itself
// (src/commands/bench.ts) parses the arguments, draws the progress bar and writes the files.
//
// Per run: the database is re-seeded (the mix inserts rows; without a re-seed the later runs would read
// bigger tables), PostgreSQL's own counters are read before the app starts and after it stops (server-side
// DB time, the same for both variants: no instrumentation is needed to measure the bare app), the app
// starts fresh (RSS sampled from spawn, the kernel's VmHWM as the peak), the load generator runs in its own
// process (warm-up discarded), and with the plugin its /metrics is scraped for the cache's hit ratio and
// the client-side query latency, and about once a second from start-up to the end of the load for the
// pool size and the concurrency limit over time (../lib/metrics-sampler.mjs; the bare app has no /metrics).
// Neither variant inherits the caller's PLANDEX_PERF_*, OTEL_*, NODE_OPTIONS or UV_THREADPOOL_SIZE (startApp
// drops them): the plugin runs with its defaults and the variables listed in the report, nothing else.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { callerSettings, startApp } from '../lib/app-process.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { getDatabase } from '../lib/database.mjs';
import { runLoad } from '../lib/load.mjs';
import { parseMetrics, sum, histogramQuantile } from '../lib/prom.mjs';
import { metricsSampler } from '../lib/metrics-sampler.mjs';
import { machine, defaultHeapLimitMB, freePort, mb, profileLaunch, rotate, sha256, sleep } from '../lib/bench-util.mjs';
import { peakUsers, profiles, requestMix, runLoadOptions, USERS_PER_SCALE, userChoice } from '../scenarios/reference-app.mjs';
import { seed } from '../app/seed.mjs';
import { summarize } from './report/kpis.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
const REGISTER = path.join(REPO, 'dist/register.js');
const CLI = path.join(REPO, 'dist/src/cli.js');

export const FORMAT = 'plandex-perf-bench/1';
export const VARIANTS = /** @type {const} */ (['bare', 'plugin']);
export const SCENARIOS = Object.keys(profiles);

/**
 * @typedef {object} BenchOptions
 * @property {string} profile         the plugin variant's profile (heap flags, pool sizes, cache budget)
 * @property {string} scenario        one of loadtests/scenarios/reference-app.mjs `profiles`: its request mix
 *                                    and peak users (as connections); not its stage durations
 * @property {number} durationSec     measured seconds per run
 * @property {number} warmupSec       load applied and discarded before measuring
 * @property {number} rounds
 * @property {number} [connections]   default: the scenario's peak users
 * @property {number} scale           seed scale (1 = 1 000 users)
 * @property {boolean} cache          wrap the reference app's hot read (plans.mjs getUserPlans) in the plugin variant
 * @property {string} [redisUrl]      L2 for the cache; none by default
 * @property {boolean} [verbose]      forward the apps' output
 */

/**
 * @param {BenchOptions} o
 * @param {{ progress?: (p: { label: string, done: number, total: number }) => void, log?: (line: string) => void }} [hooks]
 */
export async function runBench(o, { progress = () => {}, log = () => {} } = {}) {
  if (!fs.existsSync(REGISTER) || !fs.existsSync(CLI)) throw new Error('dist/register.js or dist/src/cli.js not found: run `npm run build` first');
  if (!profiles[o.scenario]) throw new Error(`unknown scenario "${o.scenario}" (known: ${SCENARIOS.join(', ')})`);
  const pin = benchPinning();
  const launch = profileLaunch({ cli: CLI, register: REGISTER, cwd: REPO, profile: o.profile });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-bench-'));
  const configFile = path.join(tmp, 'plandex-perf.config.json');
  fs.writeFileSync(configFile, JSON.stringify(pluginConfig(o), null, 2));
  const loadavgBefore = os.loadavg();
  if (loadavgBefore[0] > os.availableParallelism() * 0.5) log(`warning: the machine is busy (1-min load average ${loadavgBefore[0].toFixed(2)}); figures will be noisy`);
  const ignoredEnv = callerSettings();
  if (ignoredEnv.length) log(`ignoring ${ignoredEnv.join(', ')} from the environment: the apps run without them (the report lists what the bench sets)`);

  const db = await getDatabase({ log });
  const runs = [];
  const problems = [];
  // Progress in measured-load seconds, the part that dominates; set-up steps move it by a little.
  const perRun = o.warmupSec + o.durationSec + 3;
  const total = o.rounds * VARIANTS.length * perRun;
  let done = 0;
  try {
    log(`database: ${db.kind}`);
    for (let round = 1; round <= o.rounds; round++) {
      for (const variant of rotate([...VARIANTS], round - 1)) {
        const label = `round ${round}/${o.rounds} · ${variant}`;
        progress({ label: `${label}: seeding`, done, total });
        await seed(db.url, { scale: o.scale });
        const run = await measure({ o, variant, round, db, launch, configFile, pin, problems, tick: (s, what) => progress({ label: `${label}: ${what}`, done: done + s, total }) });
        runs.push(run);
        done += perRun;
        progress({ label: `${label}: done`, done, total });
        log(`${label}: ${run.rps.toFixed(0)} 2xx/s · p95 ${run.latency.p95?.toFixed(1)} ms · peak RSS ${run.hwmMB.toFixed(0)} MB${run.cache ? ` · hit ratio ${(run.cache.ratio * 100).toFixed(1)} %` : ''}`);
      }
    }
  } finally {
    await db.stop().catch((error) => log(`database cleanup failed: ${error.message}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const meta = {
    ...machine(),
    loadavgBefore,
    loadavgAfter: os.loadavg(),
    database: db.kind,
    defaultHeapLimitMB: defaultHeapLimitMB(),
    register: { sha256: sha256(path.join(REPO, 'dist/preload.cjs')).slice(0, 16) }, // the bundle the loader runs
    pinning: pin.note,
    // Set in the shell that ran the bench and not passed to either app (names only).
    ignoredEnv,
    options: { ...o, connections: o.connections ?? peakUsers(profiles[o.scenario]) },
    mix: requestMix.map((r) => `${r.name} ×${r.weight}`),
    ids: `${userChoice.distribution} s=${userChoice.s} over 1..${Math.round(USERS_PER_SCALE * o.scale)}`,
    variants: {
      bare: { command: 'node loadtests/app/server.mjs' },
      plugin: {
        command: `${launch.describe} loadtests/app/server.mjs`,
        env: pluginEnv(launch, '<its config file>', '<a free port>'),
        config: pluginConfig(o),
      },
    },
  };
  return { format: FORMAT, meta, runs, summary: summarize(runs), problems };
}

/** Every variable the bench sets for the plugin variant: the profile's, then its config file, /metrics port and log level. */
function pluginEnv(launch, configFile, metricsPort) {
  return { ...launch.env, PLANDEX_PERF_CONFIG: configFile, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_LOG_LEVEL: 'error' };
}

/** The plugin variant's config file: the cache on the reference app's hot read, zero-code. */
function pluginConfig(o) {
  if (!o.cache) return {};
  return {
    cache: {
      ...(o.redisUrl ? { l2: { store: 'redis', url: o.redisUrl }, keyPrefix: `pperf-bench-${process.pid}` } : {}),
      functions: [{ module: path.join(REPO, 'loadtests/app/plans.mjs'), export: 'getUserPlans', ttl: '30s', tags: ['plans'] }],
    },
  };
}

async function measure({ o, variant, round, db, launch, configFile, pin, problems, tick }) {
  const where = `${variant} round ${round}`;
  const dbBefore = await dbCounters(db.url);
  const metricsPort = variant === 'plugin' ? await freePort() : null;
  const app = await startApp({
    script: APP,
    cwd: REPO,
    nodeArgs: variant === 'plugin' ? launch.nodeArgs : [],
    env: {
      DATABASE_URL: db.url,
      APP_GRACEFUL: '1', // SIGTERM → clean exit 0, so any other exit is a crash
      ...(variant === 'plugin' ? pluginEnv(launch, configFile, metricsPort) : {}),
    },
    timeoutMs: 30_000,
    verbose: o.verbose,
    cpu: pin.app,
  });
  let load;
  let warmupRequests = 0;
  let metrics = null;
  let loadWindowMs = null;
  const sampler = metricsPort ? metricsSampler({ url: `http://127.0.0.1:${metricsPort}/metrics`, origin: app.startedAt }).start() : null;
  let metricsSeries = null;
  try {
    const options = { ...runLoadOptions(o.scenario, { baseUrl: app.baseUrl, scale: o.scale, seed: round, connections: o.connections }), cpu: pin.load };
    if (o.warmupSec > 0) {
      tick(0, 'warm-up');
      warmupRequests = (await runLoad({ ...options, durationSec: o.warmupSec })).requests;
    }
    const before = metricsPort ? await scrape(metricsPort) : null;
    const started = performance.now();
    const ticker = setInterval(() => tick(o.warmupSec + Math.min(o.durationSec, (performance.now() - started) / 1000), 'load'), 250);
    try {
      load = await runLoad({ ...options, durationSec: o.durationSec });
    } finally {
      clearInterval(ticker);
    }
    loadWindowMs = [Math.round(started - app.startedAt), Math.round(performance.now() - app.startedAt)];
    metricsSeries = (await sampler?.stop()) ?? null;
    if (metricsPort) metrics = pluginFigures(before, await scrape(metricsPort));
  } finally {
    await sampler?.stop();
    tick(o.warmupSec + o.durationSec, 'stopping');
    const exit = await app.stop();
    if (exit.code !== 0) problems.push(`${where}: the app exited with ${exit.code ?? exit.signal} (crash or forced stop)\n${app.stderrTail().slice(-1500)}`);
  }
  // The backends flush their counters as the app's connections close.
  await sleep(300);
  const dbAfter = await dbCounters(db.url);

  const codes = Object.fromEntries(Object.entries(load.statusCodes ?? {}).map(([code, s]) => [code, s.count]));
  const count = (test) => Object.entries(codes).filter(([c]) => test(Number(c))).reduce((a, [, n]) => a + n, 0);
  const ok = count((c) => c >= 200 && c < 300);
  const shed = codes['503'] ?? 0;
  const expected = new Set(requestMix.flatMap((r) => r.expectedStatuses));
  const unexpected = count((c) => !expected.has(c) && c !== 503);
  if (load.errors || load.timeouts) problems.push(`${where}: ${load.errors} transport errors, ${load.timeouts} timeouts`);
  if (unexpected) problems.push(`${where}: unexpected statuses ${JSON.stringify(codes)}`);
  if (ok === 0) problems.push(`${where}: no successful response at all`);
  if (variant === 'plugin' && metrics === null) problems.push(`${where}: the plugin's /metrics did not answer`);

  const dbTimeMs = dbAfter.activeMs - dbBefore.activeMs;
  return {
    variant,
    round,
    appCpu: app.cpu,
    loadCpu: load.cpu,
    startupMs: app.startupMs,
    hwmMB: mb(app.rss.hwm),
    rssSeries: app.rss.series.map(([t, bytes]) => [t, Math.round(mb(bytes) * 10) / 10]),
    // The measured load, in ms since spawn (the time base of rssSeries and metricsSeries).
    loadWindowMs,
    // Pool size and concurrency limit about once a second from start-up (warm-up included); null: bare, no /metrics.
    metricsSeries,
    durationSec: load.durationSec,
    requests: load.requests,
    ok,
    rps: ok / load.durationSec, // 2xx only: a fast 503 is not throughput
    latency: load.latency,
    percentiles: load.percentiles,
    perSecond: load.perSecond,
    statusCodes: codes,
    errors: load.errors,
    timeouts: load.timeouts,
    shed,
    // Server-side: time PostgreSQL spent executing statements for this database (pg_stat_database.active_time),
    // over the app's whole life, so divided by every response it gave, warm-up included. Backends flush these
    // counters about once a second under load and at disconnect, hence read before start and after stop.
    db: { activeMs: dbTimeMs, perRequestMs: dbTimeMs / Math.max(1, warmupRequests + load.requests) },
    ...(metrics ?? {}),
  };
}

/** pg_stat_database for the bench's database: active_time is PostgreSQL 14+; null when the server has no such column. */
async function dbCounters(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT active_time FROM pg_stat_database WHERE datname = current_database()');
    return { activeMs: Number(rows[0]?.active_time ?? NaN) };
  } catch {
    return { activeMs: NaN };
  } finally {
    await client.end();
  }
}

async function scrape(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return parseMetrics(await res.text());
  } catch {
    return null;
  }
}

/** Cache hit ratio and client-side query latency over the measured window (differences of two scrapes). */
function pluginFigures(before, after) {
  if (!before || !after) return null;
  const delta = (name, labels) => sum(after, name, labels) - sum(before, name, labels);
  const requests = (level, result) => delta('plandex_perf_cache_requests_total', { plandex_perf_cache_level: level, plandex_perf_cache_result: result });
  const hits = ['l1', 'l2'].reduce((a, level) => a + requests(level, 'hit') + requests(level, 'stale'), 0);
  const misses = requests('origin', 'miss');
  // Quantile of the window: bucket counts after minus before, as Prometheus's increase() would.
  const windowed = after
    .filter((s) => s.name === 'db_client_operation_duration_bucket') // the SDK's exporter adds no unit suffix
    .map((s) => ({ ...s, value: s.value - (before.find((b) => b.name === s.name && sameLabels(b.labels, s.labels))?.value ?? 0) }));
  const queryP95 = histogramQuantile(windowed, 'db_client_operation_duration', 0.95);
  const queries = delta('db_client_operation_duration_count');
  return {
    cache: hits + misses > 0 ? { hits, misses, ratio: hits / (hits + misses) } : null,
    client: { queries, queryP95Ms: queryP95 == null ? null : queryP95 * 1000 },
    // Who answered the window's 503s: a shedder's 503 carries no header naming it (both send a JSON body and
    // Retry-After), but each counts its own. What neither counted came from the app.
    shedBy: { heapBudget: delta('plandex_perf_heap_budget_shed_requests_total'), concurrencyLimit: delta('plandex_perf_concurrency_limit_rejected_total') },
    // The profile sizes the pool (bare: pg's default, 10); it moves throughput and the tail on a DB-bound mix.
    poolMax: after.some((x) => x.name === 'db_client_connection_max') ? sum(after, 'db_client_connection_max') : null,
  };
}

const sameLabels = (a, b) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

