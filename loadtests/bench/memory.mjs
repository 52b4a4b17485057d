#!/usr/bin/env node
// Memory benchmark ("Heap budgets"): how much resident memory does the
// reference app take under a realistic load with Node's defaults, and with the
// heap flags + preload of the laptop-4g and container-512m profiles?
//
//   node loadtests/bench/memory.mjs            (npm run build first; 3 rounds × 15 s)
//   node loadtests/bench/memory.mjs --quick    (1 round × 5 s, smoke test)
//   BENCH_ROUNDS=5 BENCH_DURATION=30 BENCH_CONNECTIONS=32 BENCH_WARMUP=2
//   BENCH_VARIANTS=node-defaults,container-512m   BENCH_PIN=0 (no CPU pinning)
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
// loadtests/results/memory-<date>-node<major>[-quick].{json,md}. Exit code is
// non-zero only if the benchmark itself failed (an app did not start or
// crashed, transport errors, 5xx other than 503, a profile's heap limit not
// applied); missed targets are marked ✗ and 503s from load shedding are
// reported, neither fails the run.

import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp } from '../lib/app-process.mjs';
import { runLoad } from '../lib/load.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { machine, defaultHeapLimitMB, fmt, freePort, mb, median, positive, profileLaunch, rotate, sha256, sleep } from '../lib/bench-util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const APP = path.join(REPO, 'loadtests/app/server.mjs');
const REGISTER = path.join(REPO, 'dist/register.js');
const CLI = path.join(REPO, 'dist/src/cli.js');
const RESULTS = path.join(REPO, 'loadtests/results');

const quick = process.argv.includes('--quick');
const verbose = process.argv.includes('--verbose');
const ROUNDS = positive('BENCH_ROUNDS', quick ? 1 : 3);
const DURATION = positive('BENCH_DURATION', quick ? 5 : 15);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 32);
const WARMUP = positive('BENCH_WARMUP', quick ? 1 : 2, true);
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
const ALL_VARIANTS = ['node-defaults', ...PROFILE_VARIANTS];

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
  // Inherited settings would change what a variant measures (a stray
  // NODE_OPTIONS heap flag in node-defaults, say); each variant sets its own.
  for (const key of Object.keys(process.env)) {
    if (/^(OTEL_|PLANDEX_PERF_)/.test(key) || key === 'NODE_OPTIONS' || key === 'UV_THREADPOOL_SIZE') delete process.env[key];
  }

  const selected = (process.env.BENCH_VARIANTS ?? ALL_VARIANTS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of selected) if (!ALL_VARIANTS.includes(name)) throw new Error(`unknown variant in BENCH_VARIANTS: ${name}`);
  if (!selected.includes('node-defaults')) throw new Error('the node-defaults variant is required: every ratio is relative to it');
  if (selected.some((n) => n !== 'node-defaults') && !(existsSync(REGISTER) && existsSync(CLI))) {
    throw new Error('dist/register.js or dist/src/cli.js not found — run `npm run build` first');
  }
  const variants = Object.fromEntries(selected.map((name) => [name, makeVariant(name)]));

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
    register: existsSync(REGISTER) ? { sha256: sha256(REGISTER).slice(0, 16), mtime: statSync(REGISTER).mtime.toISOString() } : null,
    rounds: ROUNDS,
    durationSec: DURATION,
    warmupSec: WARMUP,
    connections: CONNECTIONS,
    mix: MIX.map((r) => `${r.method ?? 'GET'} ${r.path} ×${r.weight}`),
    ids: `Zipf s=1 over 1..${USERS}`,
    pinning: PIN.note,
    quick,
    database: db.kind,
    variants: Object.fromEntries(Object.entries(variants).map(([n, v]) => [n, { command: v.describe, run: v.runCommand, env: v.env }])),
  };

  const runs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = rotate(selected, round - 1);
    for (const name of order) {
      progress(`round ${round}/${ROUNDS}: ${name} …`);
      await seed(db.url, { scale: 1 }); // identical data for every run (see the header)
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
  const ratios = Object.fromEntries(selected.filter((n) => n !== 'node-defaults').map((n) => [n, compare(medians[n], medians['node-defaults'])]));
  const report = markdown(meta, medians, ratios);
  process.stdout.write(report);

  const base = `memory-${meta.date.slice(0, 10)}-node${process.versions.node.split('.')[0]}${quick ? '-quick' : ''}`;
  await mkdir(RESULTS, { recursive: true });
  await writeFile(path.join(RESULTS, `${base}.json`), `${JSON.stringify({ meta, targets: TARGETS, medians, ratios, runs, problems }, null, 2)}\n`);
  await writeFile(path.join(RESULTS, `${base}.md`), report);
  progress(`wrote loadtests/results/${base}.json and .md`);

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
      load = await runLoad({
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
      else if (Math.abs(limit - variant.expectedHeapLimitMB) > variant.expectedHeapLimitMB * 0.05) {
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
      p99: load.latency.p99,
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

function markdown(meta, medians, ratios) {
  const L = [];
  const la = (v) => v.map((x) => x.toFixed(2)).join(' / ');
  L.push(`## Memory benchmark: heap budgets${meta.quick ? ' (quick smoke run — not representative)' : ''}`, '');
  L.push(
    `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · ${(meta.totalMemBytes / 2 ** 30).toFixed(1)} GiB RAM · ${meta.platform}`,
    '',
    `Load average (1/5/15 min) before: ${la(meta.loadavgBefore)}, after: ${la(meta.loadavgAfter)}. CPU pinning: ${meta.pinning}. ` +
      `Node's default V8 heap limit here: ${fmt(meta.defaultHeapLimitMB, 0)} MB. dist/register.js ${meta.register ? `sha256 ${meta.register.sha256}…, built ${meta.register.mtime}` : 'absent'}.`,
    '',
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
