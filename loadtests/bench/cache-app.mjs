#!/usr/bin/env node
// The reference app's hot endpoint (GET /users/:id/plans) with and without the cache, under a
// Zipf-distributed load over 10 000 users (seed scale 10), in one run, variants interleaved, with a write
// mix: BENCH_WRITES (5 %) of the requests are POST /users/:id/plans/touch on the same Zipf users, which
// bumps the version of that user's plans. The load generator checks every read: its plans must carry at
// least the version of the last write to that user acknowledged before the read was sent; anything older
// is a stale read, counted.
// The cache is applied zero-code from a config file (cache.functions → loadtests/app/plans.mjs
// getUserPlans), with Redis as L2 when 127.0.0.1:6379 answers, on a database with its foreign-key
// indexes; invalidation follows the writes through the pg plugin (no code, no tags).
// Targets (issues 4 and 14): throughput ≥ 3×, hit ratio ≥ 90 %, 0 stale reads.
//
//   npm run bench:cache-app            BENCH_ROUNDS (3), BENCH_DURATION (15 s), BENCH_CONNECTIONS (32), BENCH_WRITES (0.05)
//   node loadtests/bench/cache-app.mjs --quick
//   BENCH_GRACE=5m npm run bench:cache-app     (with stale-while-revalidate)
//   BENCH_L2=none npm run bench:cache-app      (L1 only)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startApp } from '../lib/app-process.mjs';
import { benchPinning, canPin } from '../lib/cpu.mjs';
import { getDatabase } from '../lib/database.mjs';
import { parseMetrics, sum } from '../lib/prom.mjs';
import { freePort, reachable } from '../lib/bench-util.mjs';
import { createZipf, mulberry32 } from '../k6/lib/zipf.js';

const SELF = fileURLToPath(import.meta.url);
if (process.argv[2] === '--worker') await worker();
else await main();

/** The load generator, in its own process: `connections` loops, each sending one request at a time. */
async function worker() {
  const o = await new Promise((resolve) => process.once('message', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const random = mulberry32(o.seed);
  const zipf = createZipf(o.users, o.s, random);
  const acked = new Map(); // user → highest version a finished write reported
  // The ceiling any cache could reach on this very request sequence: a read hits when its user was read
  // before (in this app process) with no write to that user since. Compulsory misses of the Zipf tail and
  // the read after each write are all it counts, so it is the yardstick for the measured hit ratio.
  const held = new Set(o.held ?? []);
  let ideal = 0;
  const latencies = [];
  let reads = 0;
  let writes = 0;
  let stale = 0;
  let checked = 0;
  let errors = 0;
  const request = (method, path) =>
    new Promise((resolve, reject) => {
      const req = http.request({ agent, host: o.host, port: o.port, method, path, headers: method === 'POST' ? { 'content-length': 0 } : {} }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const deadline = performance.now() + o.durationSec * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const user = zipf();
      const t0 = performance.now();
      try {
        if (random() < o.writeShare) {
          const { version } = JSON.parse(await request('POST', `/users/${user}/plans/touch`));
          if (version !== null) acked.set(user, Math.max(acked.get(user) ?? 0, version));
          held.delete(user);
          writes++;
        } else {
          const floor = acked.get(user);
          const body = await request('GET', `/users/${user}/plans`);
          reads++;
          if (held.has(user)) ideal++;
          else held.add(user);
          // Every plan of a user carries the same version (each write bumps them all): the regex reads
          // them without parsing the whole body, so the checker stays cheaper than the app it measures.
          const versions = [...body.matchAll(/"version":(\d+)/g)].map((m) => Number(m[1]));
          if (floor !== undefined && versions.length > 0) {
            checked++;
            if (Math.max(...versions) < floor) stale++;
          }
        }
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: o.connections }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  process.send({ rps: (reads + writes) / seconds, reads, writes, stale, checked, errors, idealHitRatio: reads > 0 ? ideal / reads : null, held: [...held], latency: { p50: q(0.5), p99: q(0.99) } });
  agent.destroy();
}

function load(options, cpu) {
  // Pinned with taskset when the app is pinned too (the IPC channel survives taskset's exec).
  const pinned = cpu !== undefined && canPin(cpu);
  const child = pinned ? spawn('taskset', ['-c', String(cpu), process.execPath, SELF, '--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } }) : fork(SELF, ['--worker'], { execArgv: [], env: { ...process.env, NODE_OPTIONS: '' } });
  child.send(options);
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
  });
}

async function main() {
  const REPO = path.resolve(path.dirname(SELF), '../..');
  const quick = process.argv.includes('--quick');
  const rounds = quick ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
  const duration = quick ? 4 : Number(process.env.BENCH_DURATION ?? 15);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  const writeShare = Number(process.env.BENCH_WRITES ?? 0.05);
  const PIN = benchPinning();
  // BENCH_GRACE=5m adds stale-while-revalidate: an expired entry is served at once while one refresh runs.
  const GRACE = process.env.BENCH_GRACE || undefined;
  const say = (line) => process.stderr.write(`${line}\n`);
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

  // BENCH_L2=none: L1 only, even when Redis answers.
  const redisUp = process.env.BENCH_L2 !== 'none' && (await reachable(6379));
  const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-cache-bench-')), 'plandex-perf.config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      cache: {
        ...(redisUp ? { l2: { store: 'redis', url: 'redis://127.0.0.1:6379' }, keyPrefix: `pperf-bench-${process.pid}` } : {}),
        functions: [{ module: './loadtests/app/plans.mjs', export: 'getUserPlans', ttl: '30s', ...(GRACE ? { grace: GRACE } : {}) }],
      },
    }),
  );

  const db = await getDatabase({ log: say });
  try {
    say(`database: ${db.kind}; seeding scale 10 (10 000 users) …`);
    const { seed } = await import('../app/seed.mjs');
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
        const { hostname, port } = new URL(app.baseUrl);
        const options = { host: hostname, port: Number(port), users: 10_000, s: 1.0, connections, writeShare };
        const warm = await load({ ...options, seed: 1000 + round, durationSec: quick ? 1 : Number(process.env.BENCH_WARMUP ?? 10) }, PIN.load); // warm-up, also for the cache to fill
        const before = await scrape();
        const r = await load({ ...options, seed: round, durationSec: duration, held: warm.held }, PIN.load);
        const after = await scrape();
        const count = (samples, level, result) => sum(samples, 'plandex_perf_cache_requests_total', { plandex_perf_cache_level: level, plandex_perf_cache_result: result });
        const hits = ['l1', 'l2'].reduce((a, level) => a + count(after, level, 'hit') - count(before, level, 'hit') + count(after, level, 'stale') - count(before, level, 'stale'), 0);
        const origin = count(after, 'origin', 'miss') - count(before, 'origin', 'miss');
        const hitRatio = variant === 'cache' && hits + origin > 0 ? hits / (hits + origin) : null;
        results[variant].push({ rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, reads: r.reads, writes: r.writes, checked: r.checked, stale: r.stale, errors: r.errors, hitRatio, idealHitRatio: variant === 'cache' ? r.idealHitRatio : null });
        say(`round ${round}/${rounds} ${variant}: ${r.rps.toFixed(0)} req/s (${r.writes} writes), p99 ${r.latency.p99.toFixed(1)} ms, ${r.stale} stale of ${r.checked} checked reads${hitRatio === null ? '' : `, hit ratio ${(hitRatio * 100).toFixed(1)} % (ceiling on this sequence ${(r.idealHitRatio * 100).toFixed(1)} %)`}`);
        await app.stop();
        if (r.errors > 0) throw new Error(`${variant}: ${r.errors} request errors`);
      }
    }
    const m = (variant, key) => median(results[variant].map((x) => x[key]));
    const total = (variant, key) => results[variant].reduce((a, x) => a + x[key], 0);
    const throughput = m('cache', 'rps') / m('no-cache', 'rps');
    const p99 = m('cache', 'p99') / m('no-cache', 'p99');
    const hitRatio = m('cache', 'hitRatio');
    const idealHitRatio = m('cache', 'idealHitRatio');
    const stale = total('cache', 'stale');
    const mark = (ok) => (ok ? '✓' : '✗');
    const lines = [
      `## Cache on the reference app: GET /users/:id/plans with ${(writeShare * 100).toFixed(0)} % writes, Zipf over 10 000 users`,
      '',
      `${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length} · L2: ${redisUp ? 'Redis' : 'none'} · TTL 30 s, grace ${GRACE ?? 'none'} · ${rounds} round(s) × ${duration} s, ${connections} connections, pinning ${PIN.app === undefined ? 'off' : `app CPU ${PIN.app}, load CPU ${PIN.load}`} · load average ${os.loadavg()[0].toFixed(2)}`,
      '',
      '| variant | req/s | p50 ms | p99 ms | hit ratio | writes | reads checked | stale reads |',
      '|---|--:|--:|--:|--:|--:|--:|--:|',
      `| no cache | ${m('no-cache', 'rps').toFixed(0)} | ${m('no-cache', 'p50').toFixed(1)} | ${m('no-cache', 'p99').toFixed(1)} | – | ${total('no-cache', 'writes')} | ${total('no-cache', 'checked')} | ${total('no-cache', 'stale')} |`,
      `| cache (zero-code) | ${m('cache', 'rps').toFixed(0)} | ${m('cache', 'p50').toFixed(1)} | ${m('cache', 'p99').toFixed(1)} | ${(hitRatio * 100).toFixed(1)} % | ${total('cache', 'writes')} | ${total('cache', 'checked')} | ${stale} |`,
      '',
      `Throughput ${throughput.toFixed(2)}× ${mark(throughput >= 3)} (target ≥ 3×) · hit ratio ${(hitRatio * 100).toFixed(1)} % ${mark(hitRatio >= 0.9)} (target ≥ 90 %; ceiling ${(idealHitRatio * 100).toFixed(1)} %: a perfect cache on the same requests) · stale reads ${stale} ${mark(stale === 0)} (target 0) · p99 ${p99.toFixed(2)}×`,
      '',
    ].join('\n');
    process.stdout.write(lines);
    const out = path.join(REPO, 'loadtests/results', `cache-app-${new Date().toISOString().slice(0, 10)}-node${process.versions.node.split('.')[0]}-writes${Math.round(writeShare * 100)}${process.env.BENCH_L2 === 'none' ? '-l1only' : ''}${GRACE ? `-grace${GRACE}` : ''}${quick ? '-quick' : ''}`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(`${out}.json`, JSON.stringify({ date: new Date().toISOString(), node: process.version, redis: redisUp, grace: GRACE ?? null, writeShare, rounds, duration, connections, results, throughput, p99, hitRatio, idealHitRatio, stale }, null, 2));
    fs.writeFileSync(`${out}.md`, lines);
    say(`wrote ${path.relative(REPO, out)}.json and .md`);
  } finally {
    await db.stop();
  }
}
