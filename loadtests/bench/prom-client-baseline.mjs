// The peer baseline of the overhead bench: what a team gets by wiring prom-client by hand instead of using
// a preload — the default process metrics, one histogram for HTTP server requests and one for pg queries,
// served on their own port. Loaded as `node --import ./prom-client-baseline.mjs app.mjs`, so the reference
// app stays untouched, but it does nothing a few lines in the app could not do.
//
// Env: PROM_BASELINE_PORT (port of /metrics, default 9499).
//
// HTTP: Node's own diagnostics channels (start → finish), so ESM and CommonJS apps alike. pg: the app's copy
// of `pg` is resolved from the app's entry file (pg is CommonJS, so `import pg from 'pg'` and this require
// share one module instance) and `Client.prototype.query` is timed. pg-pool calls it with a callback and a
// bare client with none, so both the callback and the promise forms are timed.

import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import client from 'prom-client';

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const httpSeconds = new client.Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Duration of HTTP server requests.',
  labelNames: ['method', 'status_code'],
  buckets: BUCKETS,
  registers: [registry],
});
const pgSeconds = new client.Histogram({
  name: 'pg_query_duration_seconds',
  help: 'Duration of pg queries.',
  labelNames: ['operation'],
  buckets: BUCKETS,
  registers: [registry],
});

// Labels stay bounded: a fixed method list and the first SQL keyword of a known few.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const OPERATIONS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'WITH', 'BEGIN', 'COMMIT', 'ROLLBACK']);
const operationOf = (text) => {
  if (typeof text !== 'string') return 'OTHER';
  const word = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase();
  return word !== undefined && OPERATIONS.has(word) ? word : 'OTHER';
};

let metricsServer;
const startedAt = new WeakMap();
diagnostics.subscribe('http.server.request.start', ({ request, server }) => {
  if (server !== metricsServer) startedAt.set(request, performance.now());
});
diagnostics.subscribe('http.server.response.finish', ({ request, response }) => {
  const t0 = startedAt.get(request);
  if (t0 === undefined) return;
  const method = METHODS.has(request.method) ? request.method : 'OTHER';
  httpSeconds.observe({ method, status_code: response.statusCode }, (performance.now() - t0) / 1000);
});

try {
  const appRequire = createRequire(path.resolve(process.argv[1] ?? path.join(process.cwd(), 'index.js')));
  const pg = appRequire('pg');
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function timedQuery(config, _values, _callback) {
    const t0 = performance.now();
    const operation = operationOf(typeof config === 'string' ? config : config?.text);
    const observe = () => pgSeconds.observe({ operation }, (performance.now() - t0) / 1000);
    const last = arguments.length - 1;
    if (last >= 0 && typeof arguments[last] === 'function') {
      const args = Array.prototype.slice.call(arguments);
      const cb = args[last];
      args[last] = function (error, result) {
        observe();
        return cb.call(this, error, result);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, arguments);
    if (result && typeof result.then === 'function') result.then(observe, observe);
    return result;
  };
} catch (error) {
  console.error(`prom-client baseline: pg not instrumented (${error?.message ?? error})`);
}

metricsServer = http.createServer(async (_request, response) => {
  response.setHeader('content-type', registry.contentType);
  response.end(await registry.metrics());
});
metricsServer.listen(Number(process.env.PROM_BASELINE_PORT ?? 9499), '127.0.0.1').unref();
