#!/usr/bin/env node
/**
 * Reference application: a small Plandex-like JSON API on node:http + pg.
 *
 * It is the target of the tests, the demo, the load scripts and the
 * benchmarks, and it knows nothing about the perf plugin: everything the
 * plugin measures must be observable from the outside. Keep it that way (no
 * imports from src/, no metrics code here).
 *
 * Env: DATABASE_URL (required), HOST (127.0.0.1), PORT (3000; 0 = any free
 * port), APP_GRACEFUL=1 to install a SIGTERM handler.
 *
 * stdout carries exactly one line, {"event":"listening","port":N}, which
 * tests and benches parse; all diagnostics go to stderr.
 */
import http from 'node:http';
import pg from 'pg';
import { gzipInWorker } from './compressor.mjs';
import { pool } from './db.mjs';
import { getUserPlans, touchUserPlans } from './plans.mjs';
import { buildReport, parseReportSize } from './report.mjs';

const MAX_BODY_BYTES = 64 * 1024;

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('server: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  process.exit(1);
}
const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server: invalid PORT ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}

// Ids and COUNT()s are bigint; node-postgres returns those as strings to be
// safe. Every value here stays far below 2^53, and numbers make the JSON
// nicer to assert on.
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

// The pool lives in db.mjs (see there why it is the bare default); plans.mjs holds the hot read.


/** Error with an HTTP status, thrown by handlers for expected failures. */
class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Parses a path id. Anything but a positive safe integer is a 400 rather
 * than being passed to PostgreSQL (where it would be a 500 or an overflow).
 * @param {string} raw
 */
function parseId(raw) {
  const id = /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw new HttpError(400, `invalid id: ${raw}`);
  return id;
}

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/**
 * Reads a JSON body, refusing more than MAX_BODY_BYTES so a client cannot
 * make the server buffer arbitrary amounts of memory.
 * @param {http.IncomingMessage} req
 */
async function readJson(req) {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid JSON body');
  }
}

/**
 * A 404 for an unknown user must be distinguishable from a user with no
 * plans. Only checked when the main query came back empty, so the common
 * path keeps the query count the endpoint is meant to have.
 * @param {number} userId
 */
async function assertUserExists(userId) {
  const { rowCount } = await pool.query('SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL', [userId]);
  if (!rowCount) throw new HttpError(404, 'user not found');
}

// The document's GetPlanWithStatsOptimized. Its SUM(CASE WHEN c.active ...)
// counts each context once per (file x conversation) row of the join, so it
// is a DISTINCT count here; AVG is unaffected because every context is
// repeated the same number of times.
const PLAN_STATS_SQL = `
  SELECT p.id, p.name, p.status, p.created_at, p.updated_at, p.user_id, p.org_id,
         COUNT(DISTINCT c.id)::int AS context_count,
         COUNT(DISTINCT pf.id)::int AS file_count,
         COUNT(DISTINCT conv.id)::int AS conversation_count,
         COUNT(DISTINCT c.id) FILTER (WHERE c.active)::int AS active_context_count,
         AVG(LENGTH(c.content))::float8 AS avg_context_size
  FROM plans p
  LEFT JOIN contexts c ON c.plan_id = p.id
  LEFT JOIN plan_files pf ON pf.plan_id = p.id AND pf.deleted_at IS NULL
  LEFT JOIN conversations conv ON conv.plan_id = p.id
  WHERE p.id = $1 AND p.deleted_at IS NULL
  GROUP BY p.id, p.name, p.status, p.created_at, p.updated_at, p.user_id, p.org_id`;

/**
 * @typedef {(req: http.IncomingMessage, res: http.ServerResponse,
 *   params: Record<string, string>) => Promise<void> | void} Handler
 * @type {{ method: string, pattern: RegExp, handler: Handler }[]}
 */
const routes = [
  {
    method: 'GET',
    pattern: /^\/health$/,
    handler: (_req, res) => sendJson(res, 200, { ok: true }),
  },
  {
    // The no-DB baseline for overhead benchmarks: as cheap as a route gets.
    method: 'GET',
    pattern: /^\/hello$/,
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 14 });
      res.end('Hello, world!\n');
    },
  },
  {
    // The one-query baseline for overhead benchmarks: a primary-key lookup.
    method: 'GET',
    pattern: /^\/users\/(?<id>[^/]+)$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      const { rows } = await pool.query(
        'SELECT id, email, name, org_id, created_at FROM users WHERE id = $1 AND deleted_at IS NULL',
        [id],
      );
      if (!rows.length) throw new HttpError(404, 'user not found');
      sendJson(res, 200, rows[0]);
    },
  },
  {
    method: 'GET',
    pattern: /^\/users\/(?<id>[^/]+)\/plans$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      const rows = await getUserPlans(id);
      if (!rows.length) await assertUserExists(id);
      sendJson(res, 200, { plans: rows });
    },
  },
  {
    // The cache bench's write: bumps the user's plans' version (loadtests/bench/cache-app.mjs).
    method: 'POST',
    pattern: /^\/users\/(?<id>[^/]+)\/plans\/touch$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      sendJson(res, 200, { version: await touchUserPlans(id) });
    },
  },
  {
    // N+1 on purpose: one query for the plans, then one per plan, awaited
    // one after another, exactly the pattern the document's BatchGetPlanContexts
    // replaces. A detector should see 1 + N queries per request.
    method: 'GET',
    pattern: /^\/users\/(?<id>[^/]+)\/plans-n1$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      const { rows: plans } = await pool.query(
        `SELECT id, name, status, created_at, updated_at FROM plans
         WHERE user_id = $1 AND archived_at IS NULL AND deleted_at IS NULL
         ORDER BY updated_at DESC LIMIT 20`,
        [id],
      );
      if (!plans.length) await assertUserExists(id);
      for (const plan of plans) {
        const { rows } = await pool.query(
          `SELECT id, name, content, created_at FROM contexts
           WHERE plan_id = $1 AND active = true ORDER BY created_at`,
          [plan.id],
        );
        plan.contexts = rows;
      }
      sendJson(res, 200, { plans });
    },
  },
  {
    method: 'GET',
    pattern: /^\/plans\/(?<id>[^/]+)\/stats$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      const { rows } = await pool.query(PLAN_STATS_SQL, [id]);
      if (!rows.length) throw new HttpError(404, 'plan not found');
      sendJson(res, 200, rows[0]);
    },
  },
  {
    // The heavy endpoint: a plan with all its contexts and files, gzipped in a pooled worker thread.
    method: 'GET',
    pattern: /^\/plans\/(?<id>[^/]+)\/export$/,
    handler: async (_req, res, params) => {
      const id = parseId(params.id);
      const [plan, contexts, files] = await Promise.all([
        pool.query('SELECT id, user_id, name, status, created_at, updated_at FROM plans WHERE id = $1 AND deleted_at IS NULL', [id]),
        pool.query('SELECT id, name, content, active, created_at FROM contexts WHERE plan_id = $1', [id]),
        pool.query('SELECT id, path, content, created_at FROM plan_files WHERE plan_id = $1 AND deleted_at IS NULL', [id]),
      ]);
      if (!plan.rows.length) throw new HttpError(404, 'plan not found');
      const body = await gzipInWorker(JSON.stringify({ plan: plan.rows[0], contexts: contexts.rows, files: files.rows }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length });
      res.end(body);
    },
  },
  {
    // The memory bench's heavy response (loadtests/bench/memory.mjs --scenario reports): a JSON document of
    // exactly :size bytes, built whole and sent with one write, as most apps send JSON. One database
    // round-trip first, so concurrent requests overlap as they would in a real handler.
    method: 'GET',
    pattern: /^\/report\/(?<size>[^/]+)$/,
    handler: async (_req, res, params) => {
      const size = parseReportSize(params.size);
      if (size === null) throw new HttpError(400, `invalid report size: ${params.size} (bytes, 1024 to 4194304)`);
      const { rows } = await pool.query('SELECT now() AS generated_at');
      sendJson(res, 200, buildReport(size, rows[0].generated_at));
    },
  },
  {
    method: 'POST',
    pattern: /^\/plans\/(?<id>[^/]+)\/conversations$/,
    handler: async (req, res, params) => {
      const id = parseId(params.id);
      const body = await readJson(req);
      const message = body?.message;
      if (typeof message !== 'string' || message.trim() === '') {
        throw new HttpError(400, 'body must be {"message": "<non-empty string>"}');
      }
      try {
        const { rows } = await pool.query(
          'INSERT INTO conversations (plan_id, message) VALUES ($1, $2) RETURNING id',
          [id, message],
        );
        sendJson(res, 201, { id: rows[0].id });
      } catch (err) {
        // The FK tells us the plan does not exist, without a separate lookup.
        if (/** @type {{ code?: string }} */ (err).code === '23503') throw new HttpError(404, 'plan not found');
        throw err;
      }
    },
  },
];

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
async function handle(req, res) {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== req.method) continue;
    return route.handler(req, res, match.groups ?? {});
  }
  if (pathMatched) throw new HttpError(405, 'method not allowed');
  throw new HttpError(404, 'not found');
}

const server = http.createServer((req, res) => {
  // Every failure ends as a JSON response: a request must never take the
  // process down, whatever the database does.
  Promise.resolve()
    .then(() => handle(req, res))
    .catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      // One line per failure: under load a full pg error dump per request
      // would drown everything else on stderr.
      if (status === 500) console.error(`server: ${req.method} ${req.url} failed: ${err?.message ?? err}`);
      if (res.headersSent) return void res.destroy();
      // After a 413 the rest of the body is unread; closing the connection
      // is cheaper than draining it.
      if (status === 413) res.setHeader('connection', 'close');
      sendJson(res, status, { error: status === 500 ? 'internal server error' : err.message });
    });
});

server.on('error', (err) => {
  console.error('server: cannot listen:', err.message);
  process.exit(1);
});

server.listen(port, host, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: actualPort })}\n`);
});

// No signal handlers by default: tests check how the preload itself reacts
// to SIGTERM/SIGINT, so the app must not mask the default behaviour.
if (process.env.APP_GRACEFUL === '1') {
  process.once('SIGTERM', async () => {
    // Stragglers must not keep a shutting-down process alive forever.
    setTimeout(() => process.exit(1), 5000).unref();
    // close() stops accepting, drops idle keep-alive sockets and calls back
    // once in-flight responses are done; only then is the pool safe to end.
    await new Promise((resolve) => server.close(resolve));
    await pool.end().catch((err) => console.error('server: pool.end failed:', err));
    process.exit(0);
  });
}
