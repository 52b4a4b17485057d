#!/usr/bin/env node
// The reference app's hot endpoint (GET /users/:id/plans) with and without the cache, under a
// Zipf-distributed load over 10 000 users (seed scale 10), in one run, variants interleaved.
// The cache is applied zero-code from a config file (cache.functions → loadtests/app/plans.mjs
// getUserPlans), with Redis as L2 when 127.0.0.1:6379 answers, on a database with its foreign-key indexes. Targets (issue 4): throughput ≥ 3×,
// p99 ≤ 0.3×, hit ratio ≥ 90 %.
//
//   npm run bench:cache-app            BENCH_ROUNDS (3), BENCH_DURATION (15 s), BENCH_CONNECTIONS (32)
//   node loadtests/bench/cache-app.mjs --quick
//   BENCH_GRACE=5m npm run bench:cache-app     (with stale-while-revalidate)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startApp } from '../lib/app-process.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { getDatabase } from '../lib/database.mjs';
import { runLoad } from '../lib/load.mjs';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { freePort, reachable } from '../lib/bench-util.mjs';
import { seed } from '../app/seed.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const rounds = quick ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
const duration = quick ? 4 : Number(process.env.BENCH_DURATION ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PIN = benchPinning();
// BENCH_GRACE=5m adds stale-while-revalidate: an expired entry is served at once while one refresh runs.
const GRACE = process.env.BENCH_GRACE || undefined;
const say = (line) => process.stderr.write(`${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const redisUp = await reachable(6379);
const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cache-bench-')), 'plandex-perf.config.json');
fs.writeFileSync(
  configFile,
  JSON.stringify({
    cache: {
      ...(redisUp ? { l2: { store: 'redis', url: 'redis://127.0.0.1:6379' }, keyPrefix: `pperf-bench-${process.pid}` } : {}),
      functions: [{ module: './loadtests/app/plans.mjs', export: 'getUserPlans', ttl: '30s', ...(GRACE ? { grace: GRACE } : {}), tags: ['plans'] }],
    },
  }),
);

const db = await getDatabase({ log: say });
try {
  say(`database: ${db.kind}; seeding scale 10 (10 000 users) …`);
  await seed(db.url, { scale: 10 });
  // The production-like state: the foreign-key indexes `plandex-perf db-report` prints for this schema are
  // in place (without them every miss costs a sequential scan; see bench:fk-indexes for that effect).
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  for (const [table, column] of [['plans', 'user_id'], ['contexts', 'plan_id'], ['conversations', 'plan_id'], ['plan_files', 'plan_id']]) {
    await admin.query(`CREATE INDEX IF NOT EXISTS idx_${table}_${column} ON ${table} (${column})`);
  }
  await admin.query('ANALYZE');
  await admin.end();
  const results = { 'no-cache': [], cache: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const variant of ['no-cache', 'cache']) {
      const metricsPort = await freePort();
      const app = await startApp({
        script: path.join(REPO, 'loadtests/app/server.mjs'),
        cwd: REPO,
        cpu: PIN.app,
        nodeArgs: ['--import', pathToFileURL(path.join(REPO, 'dist/register.js')).href],
        env: {
          DATABASE_URL: db.url,
          OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
          PLANDEX_PERF_LOG_LEVEL: 'error',
          PLANDEX_PERF_CONFIG: variant === 'cache' ? configFile : path.join(REPO, 'nonexistent.json'),
          PLANDEX_PERF_DISABLE: variant === 'cache' ? '' : 'cache',
        },
      });
      const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      const load = { baseUrl: app.baseUrl, paths: ['/users/{id}/plans'], ids: { max: 10_000, distribution: 'zipf', s: 1.0, seed: round }, connections, cpu: PIN.load };
      await runLoad({ ...load, durationSec: quick ? 1 : Number(process.env.BENCH_WARMUP ?? 10) }); // warm-up, also for the cache to fill
      const before = await scrape();
      const r = await runLoad({ ...load, durationSec: duration });
      const after = await scrape();
      const count = (samples, level, result) => sum(samples, 'plandex_perf_cache_requests_total', { plandex_perf_cache_level: level, plandex_perf_cache_result: result });
      const hits = ['l1', 'l2'].reduce((a, level) => a + count(after, level, 'hit') - count(before, level, 'hit') + count(after, level, 'stale') - count(before, level, 'stale'), 0);
      const origin = count(after, 'origin', 'miss') - count(before, 'origin', 'miss');
      const hitRatio = variant === 'cache' && hits + origin > 0 ? hits / (hits + origin) : null;
      results[variant].push({ rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx, hitRatio });
      say(`round ${round}/${rounds} ${variant}: ${r.rps.toFixed(0)} req/s, p99 ${r.latency.p99.toFixed(1)} ms${hitRatio === null ? '' : `, hit ratio ${(hitRatio * 100).toFixed(1)} %`}`);
      await app.stop();
      if (r.errors > 0) throw new Error(`${variant}: ${r.errors} request errors`);
    }
  }
  const m = (variant, key) => median(results[variant].map((x) => x[key]));
  const throughput = m('cache', 'rps') / m('no-cache', 'rps');
  const p99 = m('cache', 'p99') / m('no-cache', 'p99');
  const hitRatio = m('cache', 'hitRatio');
  const mark = (ok) => (ok ? '✓' : '✗');
  const lines = [
    '## Cache on the reference app: GET /users/:id/plans, Zipf over 10 000 users',
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · L2: ${redisUp ? 'Redis' : 'none'} · TTL 30 s, grace ${GRACE ?? 'none'} · ${rounds} round(s) × ${duration} s, ${connections} connections, pinning ${PIN.app === undefined ? 'off' : `app CPU ${PIN.app}, load CPU ${PIN.load}`} · load average ${os.loadavg()[0].toFixed(2)}`,
    '',
    '| variant | req/s | p50 ms | p99 ms | hit ratio |',
    '|---|--:|--:|--:|--:|',
    `| no cache | ${m('no-cache', 'rps').toFixed(0)} | ${m('no-cache', 'p50').toFixed(1)} | ${m('no-cache', 'p99').toFixed(1)} | – |`,
    `| cache (zero-code) | ${m('cache', 'rps').toFixed(0)} | ${m('cache', 'p50').toFixed(1)} | ${m('cache', 'p99').toFixed(1)} | ${(hitRatio * 100).toFixed(1)} % |`,
    '',
    `Throughput ${throughput.toFixed(2)}× ${mark(throughput >= 3)} (target ≥ 3×) · p99 ${p99.toFixed(2)}× ${mark(p99 <= 0.3)} (target ≤ 0.3×) · hit ratio ${(hitRatio * 100).toFixed(1)} % ${mark(hitRatio >= 0.9)} (target ≥ 90 %)`,
    '',
  ].join('\n');
  process.stdout.write(lines);
  const out = path.join(REPO, 'loadtests/results', `cache-app-${new Date().toISOString().slice(0, 10)}-node${process.versions.node.split('.')[0]}${GRACE ? `-grace${GRACE}` : ''}${quick ? '-quick' : ''}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.json`, JSON.stringify({ date: new Date().toISOString(), node: process.version, redis: redisUp, grace: GRACE ?? null, rounds, duration, connections, results, throughput, p99, hitRatio }, null, 2));
  fs.writeFileSync(`${out}.md`, lines);
  say(`wrote ${path.relative(REPO, out)}.json and .md`);
} finally {
  await db.stop();
}
