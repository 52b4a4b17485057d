import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDbReport } from '../../src/commands/db-report/index.js';
import type { DbReport } from '../../src/commands/db-report/report.js';
// @ts-expect-error plain ESM helper shared with the demo and the benches
import { seed } from '../../loadtests/app/seed.mjs';

/**
 * `plandex-perf db-report` against a real PostgreSQL: the run's seeded reference-app database (read only
 * here: other test files share it), and a fresh database of our own for everything that changes schema.
 * The command is called in-process through `runDbReport`, the function the CLI dispatches to.
 */
const url = inject('databaseUrl');

const referenceAppFix = [
  'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_conversations_plan_id" ON "public"."conversations" ("plan_id");',
  'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_plan_files_plan_id" ON "public"."plan_files" ("plan_id");',
  'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_contexts_plan_id" ON "public"."contexts" ("plan_id");',
  'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_plans_user_id" ON "public"."plans" ("user_id");',
];

type JsonReport = DbReport & { url: string; fix: string[] };

async function report(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runDbReport(argv, { env, stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) } });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as JsonReport };
}

async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('db-report on the seeded reference app', () => {
  it('finds exactly the four missing foreign-key indexes, with their statements', async () => {
    const run = await report(['--json', '--url', url]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const json = run.json();
    expect(json.foreignKeys.map((f) => `${f.table}.${f.columns.join(',')}`).sort()).toEqual(['contexts.plan_id', 'conversations.plan_id', 'plan_files.plan_id', 'plans.user_id']);
    expect(json.foreignKeys.map((f) => f.references).sort()).toEqual(['public.plans', 'public.plans', 'public.plans', 'public.users']);
    expect(json.fix).toEqual(referenceAppFix);
    expect(json.problems).toBeGreaterThanOrEqual(4);
  });

  it('prints the same content as a table, DATABASE_URL when no --url', async () => {
    const [text, json] = await Promise.all([report([], { DATABASE_URL: url }), report(['--json'], { DATABASE_URL: url })]);
    expect(text.code).toBe(json.code);
    const parsed = json.json();
    for (const statement of parsed.fix) expect(text.stdout).toContain(`    ${statement}\n`);
    for (const f of parsed.foreignKeys) expect(text.stdout).toMatch(new RegExp(`public\\.${f.table} +${f.constraint} +${f.columns[0]} +${f.references.replace('.', '\\.')} +${f.rows}\\n`));
    expect(text.stdout).toContain(`Foreign keys without an index: ${parsed.foreignKeys.length}`);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe(`${parsed.problems} problem${parsed.problems === 1 ? '' : 's'}`);
  });

  it('reports pg_stat_statements as this server has it', async () => {
    const installed = await withClient(url, async (c) => (await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`)).rowCount === 1);
    const { statements } = (await report(['--json', '--url', url])).json();
    if (!installed) {
      expect(statements.status).toMatch(/^(not-installed|unavailable)$/);
      expect(statements.advice.join('\n')).toContain('shared_preload_libraries');
      expect(statements.advice.join('\n')).toContain('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      expect(statements.statements).toEqual([]);
    } else {
      console.warn('pg_stat_statements is installed in the test database: checking the enabled (or not-loaded) branch instead');
      expect(statements.status).toMatch(/^(enabled|not-loaded)$/);
    }
  });
});

describe('db-report after applying its suggestions (a fresh copy of the app)', () => {
  const name = `pperf_dbr_${randomBytes(5).toString('hex')}`;
  let copyUrl = '';
  let unavailable = '';

  beforeAll(async () => {
    try {
      await withClient(url, (c) => c.query(`CREATE DATABASE ${name}`));
    } catch (error) {
      unavailable = `cannot create a database next to the test database (${(error as Error).message}): schema-changing db-report tests skipped`;
      console.warn(unavailable);
      return;
    }
    const target = new URL(url);
    target.pathname = `/${name}`;
    copyUrl = target.toString();
    await seed(copyUrl, { scale: 0.1 });
  });

  afterAll(async () => {
    if (copyUrl) await withClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  // The tests below run in order on the same database: clean first, then problems are added on purpose.
  it('is clean once the suggested indexes exist, and does not call them unused', async ({ skip }) => {
    if (unavailable) skip(unavailable);
    const before = (await report(['--json', '--url', copyUrl])).json();
    expect(before.fix).toEqual(referenceAppFix);
    // Outside any transaction (CONCURRENTLY refuses to run in one): a plain client, one statement per query.
    await withClient(copyUrl, async (c) => {
      for (const statement of before.fix) await c.query(statement);
    });
    const after = await report(['--json', '--url', copyUrl]);
    const json = after.json();
    expect(json.foreignKeys).toEqual([]);
    expect(json.fix).toEqual([]);
    expect(json.unusedIndexes).toEqual([]);
    expect(json.seqScans).toEqual([]);
    expect(json.problems).toBe(0);
    expect(after.code).toBe(0);
    const text = await report(['--url', copyUrl]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Foreign keys without an index: none');
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('0 problems');
  });

  it('reports heavy sequential scans and never-used indexes', async ({ skip }) => {
    if (unavailable) skip(unavailable);
    await withClient(copyUrl, async (c) => {
      // A filter no index serves, 60 times: over the 50-scan threshold on a ~2 500-row table.
      for (let i = 0; i < 60; i++) await c.query(`SELECT count(*) FROM conversations WHERE message LIKE $1`, [`message ${i}%`]);
      await c.query('CREATE INDEX users_name_unused ON users (name)');
      // Statistics reach shared memory at transaction end at most once a second unless forced (PostgreSQL 15+).
      await c.query(`SELECT pg_stat_force_next_flush()`).catch(() => undefined);
      await c.query('SELECT 1');
    });
    await expect.poll(async () => withClient(copyUrl, async (c) => Number((await c.query(`SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'conversations'`)).rows[0]?.seq_scan)), { timeout: 5000 }).toBeGreaterThanOrEqual(60);
    const run = await report(['--json', '--url', copyUrl]);
    const json = run.json();
    expect(run.code).toBe(1);
    expect(json.seqScans.map((t) => t.table)).toEqual(['conversations']);
    expect(json.seqScans[0]).toMatchObject({ schema: 'public', indexScans: 0 });
    expect(json.seqScans[0]!.seqScans).toBeGreaterThanOrEqual(60);
    expect(json.seqScans[0]!.seqRowsRead).toBeGreaterThan(60 * 1000);
    expect(json.unusedIndexes).toEqual([expect.objectContaining({ table: 'users', index: 'users_name_unused', definition: expect.stringContaining('(name)') })]);
    expect(json.unusedIndexes[0]!.bytes).toBeGreaterThan(0);
    expect(json.problems).toBe(2);
  });

  it('says how to finish enabling pg_stat_statements when it is created but not preloaded', async ({ skip }) => {
    if (unavailable) skip(unavailable);
    const setup = await withClient(copyUrl, async (c) => {
      const { rows } = await c.query(`SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available, current_setting('shared_preload_libraries') AS preload`);
      return rows[0] as { available: boolean; preload: string };
    });
    if (!setup.available) skip('pg_stat_statements is not shipped with this server (no contrib package): the not-loaded branch cannot be reached');
    await withClient(copyUrl, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    const { statements } = (await report(['--json', '--url', copyUrl])).json();
    if (setup.preload.includes('pg_stat_statements')) {
      expect(statements.status).toBe('enabled');
      expect(statements.advice).toEqual([]);
    } else {
      expect(statements.status).toBe('not-loaded');
      expect(statements.advice).toHaveLength(1);
      expect(statements.advice[0]).toContain('shared_preload_libraries');
    }
  });
});

describe('db-report failures', () => {
  it('exits 2 with a coded message and no password when it cannot connect', async () => {
    const run = await report(['--url', 'postgres://report_user:Sup3r-S3cret@127.0.0.1:1/nowhere']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^PPERF_ERR_DB_REPORT_CONNECT: cannot connect to postgres:\/\/report_user:\*\*\*@127\.0\.0\.1:1\/nowhere: /);
    expect(run.stderr).not.toContain('Sup3r-S3cret');
  });

  it('gives up after 5 s on a server that never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const started = performance.now();
    try {
      const run = await report(['--url', `postgres://u:pw-not-shown@127.0.0.1:${port}/db`]);
      const elapsed = performance.now() - started;
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^PPERF_ERR_DB_REPORT_CONNECT: .*timeout/);
      expect(run.stderr).not.toContain('pw-not-shown');
      expect(elapsed).toBeGreaterThan(4500);
      expect(elapsed).toBeLessThan(9000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
