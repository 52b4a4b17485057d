#!/usr/bin/env node
// node-postgres's default pool against the pool the pg-pool plugin tunes, on the reference app under the
// shared scenario's request mix, at two load levels: throughput, p50/p99, failures, and the connections
// PostgreSQL saw (pg_stat_activity, sampled every 250 ms).
//
//   npm run bench:pg-pool          BENCH_ROUNDS (2), BENCH_DURATION (15 s), BENCH_LEVELS (20,100 connections),
//                                  BENCH_PROFILE (auto)
//   node loadtests/bench/pg-pool.mjs --quick
//
// Both variants run with the preload and the same profile (heap flags included); only the pg-pool plugin
// is switched off in the first (PLANDEX_PERF_DISABLE=pg-pool), so pg.Pool keeps its defaults: max 10,
// no connection timeout, no statement timeout. The cache is off in both, so every request reaches the
// database. The database is re-seeded before each run; variants interleave, order rotated per round.
// Note that `auto` sizes the pool from the CPUs the app may use: pinned to one CPU here (see ../lib/cpu.mjs),
// it gets 2 × 1 + 1 = 3 connections; name a profile (BENCH_PROFILE=laptop-4g: 5) to bench a fixed size.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startApp } from '../lib/app-process.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { getDatabase, registerSignalCleanup, sampleBackends } from '../lib/database.mjs';
import { runLoad } from '../lib/load.mjs';
import { fmt, median, positive, profileLaunch, rotate, sleep, outcomes } from '../lib/bench-util.mjs';
import { runLoadOptions } from '../scenarios/reference-app.mjs';
import { seed } from '../app/seed.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : positive('BENCH_ROUNDS', 2);
const DURATION = quick ? 3 : positive('BENCH_DURATION', 15);
const WARMUP = quick ? 1 : positive('BENCH_WARMUP', 3, true);
const LEVELS = (process.env.BENCH_LEVELS ?? '20,100').split(',').map(Number);
const PROFILE = process.env.BENCH_PROFILE ?? 'auto';
const PIN = benchPinning();
const say = (line) => process.stderr.write(`[pg-pool] ${line}\n`);

const VARIANTS = {
  'pg default pool': { PLANDEX_PERF_DISABLE: 'pg-pool,cache' },
  'tuned pool': { PLANDEX_PERF_DISABLE: 'cache' },
};

const launch = profileLaunch({ cli: path.join(REPO, 'dist/src/cli.js'), register: path.join(REPO, 'dist/register.js'), cwd: REPO, profile: PROFILE });
const db = await getDatabase({ log: say });
registerSignalCleanup(db, { log: say });
const runs = [];
try {
  say(`database: ${db.kind}; profile ${PROFILE}; ${ROUNDS} round(s) × ${DURATION} s at ${LEVELS.join(' and ')} connections`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of LEVELS) {
      for (const variant of rotate(Object.keys(VARIANTS), round - 1)) {
        await seed(db.url, { scale: 1 });
        const run = await measure(variant, connections, round);
        runs.push(run);
        say(`round ${round} · ${connections} conn · ${variant}: ${fmt(run.rps, 0)} 2xx/s, p99 ${fmt(run.p99, 1)} ms, failed ${run.failed}, server connections peak ${run.peakConnections} (mean active ${fmt(run.meanActive, 1)})`);
      }
    }
  }
} finally {
  await db.stop();
}

const report = markdown();
process.stdout.write(report);
const base = path.join(REPO, 'loadtests/results', `pg-pool-${new Date().toISOString().slice(0, 10)}-node${process.versions.node.split('.')[0]}-${PROFILE}${quick ? '-quick' : ''}`);
fs.mkdirSync(path.dirname(base), { recursive: true });
fs.writeFileSync(`${base}.json`, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, profile: PROFILE, rounds: ROUNDS, durationSec: DURATION, levels: LEVELS, launch: launch.describe, runs }, null, 2)}\n`);
fs.writeFileSync(`${base}.md`, report);
say(`wrote ${path.relative(REPO, base)}.json and .md`);
if (runs.some((r) => r.crashed)) process.exitCode = 1;

async function measure(variant, connections, round) {
  const app = await startApp({
    script: path.join(REPO, 'loadtests/app/server.mjs'),
    cwd: REPO,
    cpu: PIN.app,
    nodeArgs: launch.nodeArgs,
    env: { DATABASE_URL: db.url, APP_GRACEFUL: '1', ...launch.env, ...VARIANTS[variant], OTEL_EXPORTER_PROMETHEUS_PORT: '0', PLANDEX_PERF_LOG_LEVEL: 'error' },
  });
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  let samples = [];
  let load;
  let exit;
  try {
    const options = { ...runLoadOptions('load', { baseUrl: app.baseUrl, seed: round, connections }), cpu: PIN.load };
    if (WARMUP > 0) await runLoad({ ...options, durationSec: WARMUP });
    ({ result: load, samples } = await sampleBackends(watcher, () => runLoad({ ...options, durationSec: DURATION })));
  } finally {
    await watcher.end();
    exit = await app.stop();
    await sleep(300);
  }
  const { codes, ok, failed } = outcomes(load);
  return {
    variant,
    connections,
    round,
    rps: ok / load.durationSec,
    p50: load.latency.p50,
    p99: load.latency.p99,
    failed,
    statusCodes: codes,
    peakConnections: Math.max(0, ...samples.map((s) => s.total)),
    meanActive: samples.length ? samples.reduce((a, s) => a + s.active, 0) / samples.length : null,
    crashed: exit.code !== 0,
  };
}

function markdown() {
  const L = [
    `## pg's default pool vs the tuned pool (profile \`${PROFILE}\`)`,
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model?.trim()} × ${os.availableParallelism()} CPUs · database ${db.kind} · ${ROUNDS} round(s) × ${WARMUP} s warm-up + ${DURATION} s · ` +
      `request mix of the \`load\` scenario, Zipf ids over 1..1000 · pinning: ${PIN.note} · load average ${os.loadavg().map((x) => x.toFixed(2)).join('/')}`,
    '',
    '| connections | pool | 2xx/s | p50 ms | p99 ms | failed (5xx, errors) | server connections, peak | active, mean |',
    '|--:|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const connections of LEVELS) {
    for (const variant of Object.keys(VARIANTS)) {
      const mine = runs.filter((r) => r.variant === variant && r.connections === connections);
      const m = (k) => median(mine.map((r) => r[k]));
      L.push(`| ${connections} | ${variant} | ${fmt(m('rps'), 0)} | ${fmt(m('p50'), 1)} | ${fmt(m('p99'), 1)} | ${mine.reduce((a, r) => a + r.failed, 0)} | ${fmt(m('peakConnections'), 0)} | ${fmt(m('meanActive'), 1)} |`);
    }
    const ratio = (k) => median(runs.filter((r) => r.variant === 'tuned pool' && r.connections === connections).map((r) => r[k])) / median(runs.filter((r) => r.variant === 'pg default pool' && r.connections === connections).map((r) => r[k]));
    L.push(`| ${connections} | **tuned / default** | **${fmt(ratio('rps'), 2)}×** | ${fmt(ratio('p50'), 2)}× | **${fmt(ratio('p99'), 2)}×** | | ${fmt(ratio('peakConnections'), 2)}× | |`);
  }
  L.push('', `Plugin variant: \`${launch.describe}\` with ${Object.entries(launch.env).map(([k, v]) => `${k}=${v}`).join(' ')}; the default variant adds PLANDEX_PERF_DISABLE=pg-pool.`, '');
  return L.join('\n');
}
