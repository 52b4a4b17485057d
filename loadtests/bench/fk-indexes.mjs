#!/usr/bin/env node
// Foreign-key index benchmark: the reference app's "user plans with counts" query (GET /users/:id/plans)
// before and after applying the indexes `plandex-perf db-report` suggests.
//
//   npm run build && node loadtests/bench/fk-indexes.mjs [--scale 10] [--users 40] [--rounds 3]
//
// Method. A fresh database is created on the server loadtests/lib/database.mjs finds (DATABASE_URL's,
// else 127.0.0.1:5432, else an embedded PostgreSQL) and dropped at the end, so no existing data is
// touched. It is seeded at --scale; then, for --users user ids spread evenly over the id range, the
// endpoint's own SQL (read from server.mjs, so the two cannot drift) runs under EXPLAIN (ANALYZE):
// one warm-up pass, then --rounds passes. Medians of PostgreSQL's "Execution Time" are compared, so
// network and driver time stay out. Between the two phases the report runs, its fix statements are
// applied one by one outside any transaction (as CONCURRENTLY requires), and nothing else changes.
// Finally the report runs again and its foreign-key section must be empty (exit 1 otherwise).
//
// Output: Markdown on stdout (progress on stderr), and loadtests/results/fk-indexes-<date>-node<major>.{json,md}.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { getDatabase, registerSignalCleanup } from '../lib/database.mjs';
import { seed } from '../app/seed.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const RESULTS = path.join(REPO, 'loadtests/results');
const { collectReport, fixStatements } = await import(path.join(REPO, 'dist/src/commands/db-report/report.js'));

const { values } = parseArgs({ options: { scale: { type: 'string', default: '10' }, users: { type: 'string', default: '40' }, rounds: { type: 'string', default: '3' } } });
const SCALE = Number(values.scale);
const USERS = Number(values.users);
const ROUNDS = Number(values.rounds);
const progress = (message) => process.stderr.write(`[fk-indexes] ${message}\n`);

async function endpointSql() {
  const source = await readFile(path.join(REPO, 'loadtests/app/server.mjs'), 'utf8');
  const match = /const USER_PLANS_SQL = `([^`]+)`/.exec(source);
  if (!match) throw new Error('USER_PLANS_SQL not found in loadtests/app/server.mjs');
  return match[1];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** "Seq Scan on contexts", "Index Scan using idx_contexts_plan_id on contexts", … of one plan. */
function scans(node, out = new Set()) {
  if (/Scan/.test(node['Node Type']) && node['Relation Name']) {
    out.add(`${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''} on ${node['Relation Name']}`);
  }
  for (const child of node.Plans ?? []) scans(child, out);
  return out;
}

async function measure(client, sql, ids) {
  const explain = `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`;
  for (const id of ids) await client.query(explain, [id]); // warm-up: caches, plan
  const times = [];
  let plan;
  for (let round = 0; round < ROUNDS; round++) {
    for (const id of ids) {
      const [result] = (await client.query(explain, [id])).rows[0]['QUERY PLAN'];
      times.push(result['Execution Time']);
      plan ??= [...scans(result.Plan)].sort();
    }
  }
  return { medianMs: median(times), p90Ms: quantile(times, 0.9), samples: times.length, scans: plan };
}

const server = await getDatabase({ log: progress });
registerSignalCleanup(server, { log: progress });
const name = `pperf_fkbench_${randomBytes(5).toString('hex')}`;
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const target = new URL(server.url);
target.pathname = `/${name}`;
const url = target.toString();
let failed = false;
try {
  progress(`seeding ${name} at scale ${SCALE}`);
  const counts = await seed(url, { scale: SCALE });
  const sql = await endpointSql();
  const ids = Array.from({ length: USERS }, (_, i) => 1 + Math.floor(((i + 0.5) * counts.users) / USERS));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    progress('measuring without the foreign-key indexes');
    const before = await measure(client, sql, ids);
    const report = await collectReport(client);
    const fix = fixStatements(report.foreignKeys);
    progress(`applying ${fix.length} statement(s) from the report`);
    for (const statement of fix) await client.query(statement);
    progress('measuring with them');
    const after = await measure(client, sql, ids);
    const recheck = await collectReport(client);
    failed = recheck.foreignKeys.length > 0;
    const meta = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cpus: os.availableParallelism(), database: server.kind, serverVersion: report.server.version };
    const data = { meta, scale: SCALE, counts, users: ids.length, rounds: ROUNDS, fix, before, after, speedup: before.medianMs / after.medianMs, foreignKeysAfter: recheck.foreignKeys.length };
    const md = [
      '## Foreign-key indexes: GET /users/:id/plans query',
      '',
      `${meta.date} · Node ${meta.node} · ${meta.cpu} × ${meta.cpus} CPUs · PostgreSQL ${meta.serverVersion} (${meta.database})`,
      '',
      `Seed scale ${SCALE} (${Object.entries(counts).filter(([k]) => k !== 'ms').map(([k, v]) => `${v} ${k}`).join(', ')}). EXPLAIN ANALYZE execution time over ${ids.length} user ids × ${ROUNDS} rounds after a warm-up pass.`,
      '',
      '| | median ms | p90 ms | scans in the plan |',
      '|---|--:|--:|---|',
      `| before | ${before.medianMs.toFixed(2)} | ${before.p90Ms.toFixed(2)} | ${before.scans.join('; ')} |`,
      `| after | ${after.medianMs.toFixed(2)} | ${after.p90Ms.toFixed(2)} | ${after.scans.join('; ')} |`,
      '',
      `Median ${(before.medianMs / after.medianMs).toFixed(1)}× faster. Applied:`,
      '',
      ...fix.map((s) => `    ${s}`),
      '',
      `Foreign keys without an index afterwards: ${recheck.foreignKeys.length}.`,
      '',
    ].join('\n');
    process.stdout.write(md);
    await mkdir(RESULTS, { recursive: true });
    const base = `fk-indexes-${meta.date.slice(0, 10)}-node${process.versions.node.split('.')[0]}`;
    await writeFile(path.join(RESULTS, `${base}.json`), `${JSON.stringify(data, null, 2)}\n`);
    await writeFile(path.join(RESULTS, `${base}.md`), md);
    progress(`wrote loadtests/results/${base}.json and .md`);
  } finally {
    await client.end();
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error) => progress(`could not drop ${name}: ${error.message}`));
  await admin.end();
  await server.stop();
}
process.exitCode = failed ? 1 : 0;
