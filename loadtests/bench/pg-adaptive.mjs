#!/usr/bin/env node
// The adaptive pool size (issue 13) against fixed sizes, on the reference app under the `load` (20
// connections) and `stress` (150) scenarios' request mix, with PostgreSQL local and "remote": behind a TCP
// proxy written here that delays each chunk 1–2 ms each way. Throughput (2xx/s), p99, failures, the
// connections the server saw and, for the adaptive pool, the size it ended at; with the preload, the
// JSON also keeps the pool's size and use about once a second from start-up (`metricsSeries`, see
// ../lib/metrics-sampler.mjs).
//
//   npm run bench:pg-adaptive      BENCH_ROUNDS (2), BENCH_DURATION (8 s), BENCH_WARMUP (2 s),
//                                  BENCH_SCENARIOS (load,stress; also one-query: 64 connections on
//                                  GET /users/:id, the issue's measurement), BENCH_DB (local,remote), BENCH_OUT (dir)
//   node loadtests/bench/pg-adaptive.mjs --quick
//
// Variants (every one runs the same app; variants interleave, order rotated per round):
//   bare           no preload: pg's default pool of 10
//   fixed N        the preload (profile auto, cache off) with PLANDEX_PERF_PG_POOL_MAX=N: a fixed size
//   adaptive       the preload's defaults (cache off): the adaptive size, floor 10
// `fixed 10` is pg's default under the same preload, so adaptive / fixed 10 isolates the sizing from the
// preload's own cost; adaptive / bare includes both.
// Results go to BENCH_OUT (default: <tmp>/plandex-perf-bench), not to tracked files.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startApp } from '../lib/app-process.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { getDatabase, registerSignalCleanup, sampleBackends } from '../lib/database.mjs';
import { runLoad } from '../lib/load.mjs';
import { fmt, freePort, machine, median, positive, profileLaunch, rotate, sleep, outcomes } from '../lib/bench-util.mjs';
import { metricsSampler } from '../lib/metrics-sampler.mjs';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { runLoadOptions } from '../scenarios/reference-app.mjs';
import { seed } from '../app/seed.mjs';

const SELF = fileURLToPath(import.meta.url);

// `node pg-adaptive.mjs --proxy LISTEN_PORT TARGET_PORT`: the delay proxy, run as its own process.
if (process.argv[2] === '--proxy') {
  const [listenPort, targetPort] = process.argv.slice(3).map(Number);
  delayProxy(listenPort, targetPort);
} else {
  await main();
}

/**
 * Forwards 127.0.0.1:listenPort to 127.0.0.1:targetPort, holding each chunk 1–2 ms (uniform) in each
 * direction, in order: a chunk never overtakes the one before it on its connection.
 */
function delayProxy(listenPort, targetPort) {
  const pipe = (from, to) => {
    let last = 0;
    from.on('data', (chunk) => {
      const at = Math.max(performance.now() + 1 + Math.random(), last);
      last = at;
      setTimeout(() => to.writable && to.write(chunk), at - performance.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - performance.now()) + 1));
    from.on('error', () => to.destroy());
  };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
}

async function main() {
  const REPO = path.resolve(path.dirname(SELF), '../..');
  const quick = process.argv.includes('--quick');
  const ROUNDS = quick ? 1 : positive('BENCH_ROUNDS', 2);
  const DURATION = quick ? 3 : positive('BENCH_DURATION', 8);
  const WARMUP = quick ? 1 : positive('BENCH_WARMUP', 2, true);
  const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'load,stress').split(',');
  const DBS = (process.env.BENCH_DB ?? 'local,remote').split(',');
  const OUT = process.env.BENCH_OUT ?? path.join(os.tmpdir(), 'plandex-perf-bench');
  const PIN = benchPinning();
  const say = (line) => process.stderr.write(`[pg-adaptive] ${line}\n`);

  const launch = profileLaunch({ cli: path.join(REPO, 'dist/src/cli.js'), register: path.join(REPO, 'dist/register.js'), cwd: REPO, profile: 'auto' });
  const preloaded = (env) => ({ nodeArgs: launch.nodeArgs, env: { ...launch.env, PLANDEX_PERF_DISABLE: 'cache', ...env } });
  const VARIANTS = {
    bare: { nodeArgs: [], env: {} },
    'fixed 3': preloaded({ PLANDEX_PERF_PG_POOL_MAX: '3' }),
    'fixed 5': preloaded({ PLANDEX_PERF_PG_POOL_MAX: '5' }),
    'fixed 10': preloaded({ PLANDEX_PERF_PG_POOL_MAX: '10' }),
    'fixed 20': preloaded({ PLANDEX_PERF_PG_POOL_MAX: '20' }),
    adaptive: preloaded({}),
  };

  const db = await getDatabase({ log: say });
  registerSignalCleanup(db, { log: say });
  const proxyPort = await freePort();
  const dbPort = Number(new URL(db.url).port || 5432);
  const proxy = spawn(process.execPath, [SELF, '--proxy', String(proxyPort), String(dbPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    proxy.stdout.once('data', resolve);
    proxy.once('exit', (code) => reject(new Error(`the delay proxy exited (${code})`)));
  });
  const urlFor = (where) => {
    if (where === 'local') return db.url;
    const u = new URL(db.url);
    u.port = String(proxyPort);
    return u.toString();
  };

  const runs = [];
  try {
    say(`database ${db.kind}; ${ROUNDS} round(s) × (${WARMUP} s warm-up + ${DURATION} s); scenarios ${SCENARIOS.join(', ')}; databases ${DBS.join(', ')}; pinning: ${PIN.note}`);
    for (let round = 1; round <= ROUNDS; round++) {
      await seed(db.url, { scale: 1 });
      for (const where of DBS) {
        for (const scenario of SCENARIOS) {
          for (const variant of rotate(Object.keys(VARIANTS), round - 1)) {
            const run = await measure({ variant, where, scenario, round });
            runs.push(run);
            say(`round ${round} · ${where} · ${scenario} · ${variant}: ${fmt(run.rps, 0)} 2xx/s, p99 ${fmt(run.p99, 1)} ms, failed ${run.failed}, server connections peak ${run.peakConnections}${run.poolMax == null ? '' : `, pool size at the end ${run.poolMax}`}`);
          }
        }
      }
    }
  } finally {
    proxy.kill();
    await db.stop();
  }

  const report = markdown();
  process.stdout.write(report);
  fs.mkdirSync(OUT, { recursive: true });
  const base = path.join(OUT, `pg-adaptive-${new Date().toISOString().slice(0, 16).replace(/:/g, '')}-node${process.versions.node.split('.')[0]}${quick ? '-quick' : ''}`);
  fs.writeFileSync(`${base}.json`, `${JSON.stringify({ ...machine(), rounds: ROUNDS, durationSec: DURATION, warmupSec: WARMUP, pinning: PIN.note, launch: launch.describe, runs }, null, 2)}\n`);
  fs.writeFileSync(`${base}.md`, report);
  say(`wrote ${base}.json and .md`);
  if (runs.some((r) => r.crashed)) process.exitCode = 1;

  async function measure({ variant, where, scenario, round }) {
    const { nodeArgs, env } = VARIANTS[variant];
    const metricsPort = await freePort();
    const app = await startApp({
      script: path.join(REPO, 'loadtests/app/server.mjs'),
      cwd: REPO,
      cpu: PIN.app,
      nodeArgs,
      env: { DATABASE_URL: urlFor(where), APP_GRACEFUL: '1', ...env, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_LOG_LEVEL: 'error' },
    });
    const watcher = new pg.Client({ connectionString: db.url });
    await watcher.connect();
    // The bare app has no /metrics; the preloaded ones are sampled from start-up to the end of the load.
    const sampler = nodeArgs.length > 0 ? metricsSampler({ url: `http://127.0.0.1:${metricsPort}/metrics`, origin: app.startedAt }).start() : null;
    let metricsSeries = null;
    let peak = 0;
    let load;
    let poolMax = null;
    let exit;
    try {
      const options = { ...loadOptions(scenario, app.baseUrl, round), cpu: PIN.load };
      if (WARMUP > 0) await runLoad({ ...options, durationSec: WARMUP });
      let samples;
      ({ result: load, samples } = await sampleBackends(watcher, () => runLoad({ ...options, durationSec: DURATION })));
      peak = Math.max(0, ...samples.map((sample) => sample.total));
      metricsSeries = (await sampler?.stop()) ?? null;
      if (nodeArgs.length > 0) {
        try {
          const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
          poolMax = sum(parseMetrics(text), 'db_client_connection_max');
        } catch {
          // the size is a detail of the report
        }
      }
    } finally {
      await sampler?.stop();
      await watcher.end();
      exit = await app.stop();
      await sleep(300);
    }
    const { codes, ok, failed } = outcomes(load);
    return { variant, where, scenario, round, rps: ok / load.durationSec, p50: load.latency.p50, p99: load.latency.p99, failed, statusCodes: codes, peakConnections: peak, poolMax, metricsSeries, crashed: exit.code !== 0 && exit.signal !== 'SIGTERM' };
  }

  /** A reference scenario's mix, or `one-query`: the issue's case, 64 connections on GET /users/:id alone (one indexed query). */
  function loadOptions(scenario, baseUrl, round) {
    if (scenario !== 'one-query') return runLoadOptions(scenario, { baseUrl, seed: round });
    const mix = runLoadOptions('load', { baseUrl, seed: round });
    return { ...mix, requests: [{ method: 'GET', path: '/users/{id}', weight: 1 }], connections: 64 };
  }

  function markdown() {
    const m = machine();
    const L = [
      "## Adaptive pool size vs fixed sizes (issue 13)",
      '',
      `${m.date} · Node ${m.node} · ${m.cpu} × ${m.cpus} CPUs (2-core shared VM: noisy, ±25 %) · database ${db.kind} · ${ROUNDS} round(s) × ${WARMUP} s warm-up + ${DURATION} s · ` +
        `request mix of the reference scenario, Zipf ids over 1..1000, autocannon closed loop (load: 20, stress: 150, one-query: 64 connections on GET /users/:id) · "remote": a Node TCP proxy delaying each chunk 1–2 ms each way · pinning: ${PIN.note} · load average ${os.loadavg().map((x) => x.toFixed(2)).join('/')}`,
      '',
      '| database | scenario | pool | 2xx/s | p50 ms | p99 ms | failed | server conns, peak | size at end |',
      '|---|---|---|--:|--:|--:|--:|--:|--:|',
    ];
    const med = (rows, k) => median(rows.map((r) => r[k]));
    for (const where of DBS) {
      for (const scenario of SCENARIOS) {
        const of = (variant) => runs.filter((r) => r.variant === variant && r.where === where && r.scenario === scenario);
        for (const variant of Object.keys(VARIANTS)) {
          const mine = of(variant);
          L.push(`| ${where} | ${scenario} | ${variant} | ${fmt(med(mine, 'rps'), 0)} | ${fmt(med(mine, 'p50'), 1)} | ${fmt(med(mine, 'p99'), 1)} | ${mine.reduce((a, r) => a + r.failed, 0)} | ${fmt(med(mine, 'peakConnections'), 0)} | ${fmt(med(mine, 'poolMax'), 0)} |`);
        }
        const fixed = ['fixed 3', 'fixed 5', 'fixed 10', 'fixed 20'];
        const bestRps = Math.max(...fixed.map((v) => med(of(v), 'rps') ?? 0));
        const bestP99 = Math.min(...fixed.map((v) => med(of(v), 'p99') ?? Infinity));
        const a = of('adaptive');
        const r = (x, y) => (x == null || y == null ? null : x / y);
        L.push(
          `| ${where} | ${scenario} | **adaptive vs** | bare ${fmt(r(med(a, 'rps'), med(of('bare'), 'rps')), 2)}×, fixed 10 ${fmt(r(med(a, 'rps'), med(of('fixed 10'), 'rps')), 2)}×, best fixed ${fmt(r(med(a, 'rps'), bestRps), 2)}× | | ` +
            `p99: bare ${fmt(r(med(a, 'p99'), med(of('bare'), 'p99')), 2)}×, fixed 10 ${fmt(r(med(a, 'p99'), med(of('fixed 10'), 'p99')), 2)}×, best fixed ${fmt(r(med(a, 'p99'), bestP99), 2)}× | | | |`,
        );
      }
    }
    L.push('', 'Throughput ratios above 1 and p99 ratios below 1 favour the adaptive pool. Targets: ≥ 1.0× pg\'s default 10 and within 10 % of the best fixed size, on both.', `Preload variants: \`${launch.describe}\` with ${Object.entries(launch.env).map(([k, v]) => `${k}=${v}`).join(' ')} PLANDEX_PERF_DISABLE=cache.`, '');
    return L.join('\n');
  }
}
