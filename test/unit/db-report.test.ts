import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  covers,
  createIndexStatement,
  defaultReportOptions,
  displayName,
  fixStatements,
  indexName,
  missingForeignKeyIndexes,
  quoteIdent,
  unusedIndexes,
  type DbReport,
  type ForeignKey,
  type IndexInfo,
} from '../../src/commands/db-report/report.js';
import { slowStatementsSql } from '../../src/commands/db-report/sql.js';
import { displayQuery, preloads, statementsAdvice } from '../../src/commands/db-report/statements.js';
import { exitCodeFor, formatBytes, renderJson, renderText } from '../../src/commands/db-report/format.js';
import { loadPg, redactUrl, runDbReport } from '../../src/commands/db-report/index.js';

const btree = (keyColumns: number[], extra: Partial<IndexInfo> = {}): IndexInfo => ({
  tableOid: 1, schema: 'public', table: 't', name: `i_${keyColumns.join('_')}`, keyColumns, method: 'btree', valid: true, partial: false,
  unique: false, backsConstraint: false, droppable: true, scans: 0, bytes: 8192, definition: '', ...extra,
});

const fk = (constraint: string, columns: number[], columnNames: string[], extra: Partial<ForeignKey> = {}): ForeignKey => ({
  tableOid: 1, schema: 'public', table: 't', constraint, columns, columnNames, references: 'public.parent', rows: 100, partitioned: false, ...extra,
});

describe('CREATE INDEX statements', () => {
  it('quotes every identifier, doubling embedded quotes', () => {
    expect(quoteIdent('plans')).toBe('"plans"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteIdent('User Accounts')).toBe('"User Accounts"');
  });

  it('builds the statement of the reference app', () => {
    const statement = createIndexStatement({ schema: 'public', table: 'plans', columns: ['user_id'], name: indexName('plans', ['user_id']) });
    expect(statement).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_plans_user_id" ON "public"."plans" ("user_id");');
  });

  it('keeps multi-column foreign keys in constraint order, odd names quoted', () => {
    const columns = ['Tenant Id', 'order"no'];
    const statement = createIndexStatement({ schema: 'Sales Data', table: 'Order "Lines"', columns, name: indexName('Order "Lines"', columns) });
    expect(statement).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_Order ""Lines""_Tenant Id_order""no" ON "Sales Data"."Order ""Lines""" ("Tenant Id", "order""no");');
  });

  it('leaves CONCURRENTLY out on partitioned tables, where PostgreSQL refuses it', () => {
    expect(createIndexStatement({ schema: 'public', table: 'events', columns: ['user_id'], name: 'idx_events_user_id', partitioned: true }))
      .toBe('CREATE INDEX IF NOT EXISTS "idx_events_user_id" ON "public"."events" ("user_id");');
  });

  it('keeps index names within 63 bytes, without splitting a character, and stable', () => {
    const long = indexName('a_table_with_a_rather_long_name', ['organisation_identifier', 'workspace_identifier']);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^idx_a_table_with_a_rather_long_name_organisation_ide\w*_[0-9a-f]{8}$/);
    expect(indexName('a_table_with_a_rather_long_name', ['organisation_identifier', 'workspace_identifier'])).toBe(long);
    // Same 54-byte prefix, different columns: still two names.
    expect(indexName('a_table_with_a_rather_long_name', ['organisation_identifier', 'other_column'])).not.toBe(long);
    const accented = indexName('é'.repeat(40), ['ü']);
    expect(Buffer.byteLength(accented)).toBeLessThanOrEqual(63);
    expect(accented).not.toContain('\uFFFD');
    expect(Buffer.from(accented).toString()).toBe(accented);
  });

  it('picks another name when the plain one is taken', () => {
    const name = indexName('plans', ['user_id'], new Set(['idx_plans_user_id']));
    expect(name).toMatch(/^idx_plans_user_id_[0-9a-f]{8}$/);
  });
});

describe('covers', () => {
  it('accepts the foreign-key columns as leading key columns, in any order', () => {
    expect(covers(btree([2]), [2])).toBe(true);
    expect(covers(btree([2, 5]), [2])).toBe(true);
    expect(covers(btree([3, 2]), [2, 3])).toBe(true);
    expect(covers(btree([3, 2, 7]), [2, 3])).toBe(true);
  });

  it('rejects an index that holds the columns but not in front (what `indkey @> conkey` accepts)', () => {
    expect(covers(btree([7, 2]), [2])).toBe(false);
    expect(covers(btree([7, 2, 3]), [2, 3])).toBe(false);
    expect(covers(btree([2, 7, 3]), [2, 3])).toBe(false);
  });

  it('rejects indexes narrower than the key, partial, invalid, on expressions or of the wrong kind', () => {
    expect(covers(btree([2]), [2, 3])).toBe(false);
    expect(covers(btree([2], { partial: true }), [2])).toBe(false);
    expect(covers(btree([2], { valid: false }), [2])).toBe(false);
    expect(covers(btree([0, 2]), [2])).toBe(false);
    expect(covers(btree([2], { method: 'gin' }), [2])).toBe(false);
    expect(covers(btree([2], { method: 'brin' }), [2])).toBe(false);
    expect(covers(btree([2], { method: 'hash' }), [2])).toBe(true);
    expect(covers(btree([], {}), [])).toBe(false);
  });
});

describe('missing foreign-key indexes', () => {
  it('lists uncovered keys biggest table first, each with its statement', () => {
    const keys = [
      fk('small_fkey', [2], ['parent_id'], { tableOid: 2, table: 'small', rows: 10 }),
      fk('big_fkey', [2], ['plan_id'], { tableOid: 3, table: 'big', rows: 10_000 }),
      fk('covered_fkey', [2], ['user_id'], { tableOid: 4, table: 'covered' }),
    ];
    const found = missingForeignKeyIndexes(keys, [btree([2, 3], { tableOid: 4, table: 'covered' })]);
    expect(found.map((f) => f.constraint)).toEqual(['big_fkey', 'small_fkey']);
    expect(found[0]?.statement).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_big_plan_id" ON "public"."big" ("plan_id");');
  });

  it('lets a narrower key share the index planned for a wider one it leads', () => {
    const found = missingForeignKeyIndexes([fk('a_fkey', [2], ['a']), fk('ab_fkey', [2, 3], ['a', 'b'])], []);
    expect(new Set(found.map((f) => f.statement)).size).toBe(1);
    expect(fixStatements(found)).toEqual(['CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_t_a_b" ON "public"."t" ("a", "b");']);
  });

  it('does not share when the narrower key is not leading the wider index', () => {
    const found = missingForeignKeyIndexes([fk('b_fkey', [3], ['b']), fk('ab_fkey', [2, 3], ['a', 'b'])], []);
    expect(fixStatements(found)).toHaveLength(2);
  });

  it('drops an invalid leftover of a failed CREATE INDEX CONCURRENTLY before rebuilding it', () => {
    const leftover = btree([2], { name: 'idx_t_a', valid: false });
    const found = missingForeignKeyIndexes([fk('a_fkey', [2], ['a'])], [leftover]);
    expect(found[0]?.invalidIndex).toBe('idx_t_a');
    expect(fixStatements(found)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_t_a";',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_t_a" ON "public"."t" ("a");',
    ]);
  });

  it('avoids the name of an existing index that does not cover the key', () => {
    const other = btree([5], { name: 'idx_t_a' });
    const [finding] = missingForeignKeyIndexes([fk('a_fkey', [2], ['a'])], [other]);
    expect(finding?.statement).toMatch(/^CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_t_a_[0-9a-f]{8}" ON/);
  });
});

describe('unused indexes', () => {
  it('keeps only never-scanned plain indexes that enforce nothing and cover no foreign key', () => {
    const indexes = [
      btree([4], { name: 'unused_big', bytes: 90_000 }),
      btree([5], { name: 'unused_small', bytes: 8192 }),
      btree([2], { name: 'covers_fk' }),
      btree([6], { name: 'scanned', scans: 3 }),
      btree([1], { name: 'pkey', unique: true }),
      btree([7], { name: 'exclusion', backsConstraint: true }),
      btree([8], { name: 'partition_child', droppable: false }),
    ];
    expect(unusedIndexes(indexes, [fk('a_fkey', [2], ['a'])]).map((u) => u.index)).toEqual(['unused_big', 'unused_small']);
  });
});

describe('pg_stat_statements', () => {
  it('advises only the missing steps', () => {
    expect(statementsAdvice('enabled', 'app')).toEqual([]);
    const both = statementsAdvice('not-installed', 'app', false);
    expect(both).toHaveLength(2);
    expect(both[0]).toContain('shared_preload_libraries');
    expect(both[1]).toContain('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    expect(statementsAdvice('not-installed', 'app', true)).toEqual([both[1]]);
    expect(statementsAdvice('not-installed', 'app', undefined)).toEqual(both);
    expect(statementsAdvice('not-loaded', 'app')).toEqual([both[0]]);
    expect(statementsAdvice('unavailable', 'app')[0]).toContain('contrib');
  });

  it('reads shared_preload_libraries lists', () => {
    expect(preloads("'pg_stat_statements'")).toBe(true);
    expect(preloads('auto_explain, "pg_stat_statements"')).toBe(true);
    expect(preloads('')).toBe(false);
    expect(preloads('pg_stat_statements_extra')).toBe(false);
    expect(preloads(null)).toBeUndefined();
  });

  it('uses the column names of the installed version', () => {
    expect(slowStatementsSql('"public"', true)).toContain('mean_exec_time');
    const legacy = slowStatementsSql('"public"', false);
    expect(legacy).toContain('mean_time');
    expect(legacy).not.toContain('exec_time');
  });

  it('masks literals a utility statement keeps', () => {
    expect(displayQuery("ALTER ROLE app PASSWORD 'hunter2'")).toBe("ALTER ROLE app PASSWORD '?'");
    expect(displayQuery('SELECT *\n  FROM  plans\tWHERE id = $1')).toBe('SELECT * FROM plans WHERE id = $1');
  });
});

function sampleReport(overrides: Partial<DbReport> = {}): DbReport {
  const foreignKeys = missingForeignKeyIndexes([fk('plans_user_id_fkey', [2], ['user_id'], { table: 'plans', rows: 5000 })], []);
  return {
    server: { version: '16.4', database: 'app', statsReset: null },
    options: defaultReportOptions,
    foreignKeys,
    statements: { status: 'enabled', advice: [], statements: [{ query: 'SELECT 1', calls: 12, totalMs: 2400, meanMs: 200, rows: 12, slow: true }] },
    unusedIndexes: [{ schema: 'public', table: 'users', index: 'users_name_idx', bytes: 3 * 1024 * 1024, definition: 'CREATE INDEX …' }],
    seqScans: [],
    problems: 3,
    ...overrides,
  };
}

describe('report rendering', () => {
  it('prints aligned sections and the problem count', () => {
    const text = renderText(sampleReport(), 'postgres://app:***@db/app');
    expect(text).toContain('Foreign keys without an index: 1');
    expect(text).toContain('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_plans_user_id" ON "public"."plans" ("user_id");');
    expect(text).toContain('users_name_idx  3.0 MB');
    expect(text).toContain('Tables with heavy sequential scans: none');
    expect(text.trimEnd().split('\n').at(-1)).toBe('3 problems');
    // Every row of a table has its columns at the same offsets.
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.startsWith('  table ') && l.includes('constraint'));
    expect(lines[header]!.indexOf('constraint')).toBe(lines[header + 1]!.indexOf('plans_user_id_fkey'));
  });

  it('says "1 problem" and "0 problems"', () => {
    const clean = sampleReport({ foreignKeys: [], unusedIndexes: [], statements: { status: 'not-installed', advice: ['a', 'b'], statements: [] }, problems: 0 });
    expect(renderText(clean, 'u').trimEnd().split('\n').at(-1)).toBe('0 problems');
    expect(renderText({ ...clean, problems: 1 }, 'u').trimEnd().split('\n').at(-1)).toBe('1 problem');
    expect(renderText(clean, 'u')).toContain('    1. a\n    2. b');
    expect(exitCodeFor(clean)).toBe(0);
    expect(exitCodeFor(sampleReport())).toBe(1);
  });

  it('gives machines the same content as JSON, with the fix statements in order', () => {
    const report = sampleReport();
    const json = JSON.parse(renderJson(report, 'postgres://app:***@db/app')) as DbReport & { url: string; fix: string[] };
    expect(json).toMatchObject({ ...report, url: 'postgres://app:***@db/app' });
    expect(json.fix).toEqual(fixStatements(report.foreignKeys));
  });

  it('formats sizes and names for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(displayName('public', 'plans')).toBe('public.plans');
    expect(displayName('Odd Schema', 'Plans')).toBe('"Odd Schema"."Plans"');
  });
});

describe('db-report command', () => {
  it('never shows the password', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/app')).toBe('postgres://app:***@db:5432/app');
    expect(redactUrl('postgres://app@db/app?password=s3cret&sslmode=require')).toBe('postgres://app@db/app?password=***&sslmode=require');
    expect(redactUrl('postgres://app@db/app')).toBe('postgres://app@db/app');
    expect(redactUrl("host=db password='s3 cret' dbname=app")).toBe('host=db password=*** dbname=app');
  });

  it('loads pg from the project, else says how to install it', () => {
    expect(typeof loadPg([path.join(process.cwd(), 'package.json')]).Client).toBe('function');
    const nowhere = path.join(os.tmpdir(), 'pperf-no-such-project', 'package.json');
    expect(() => loadPg([nowhere])).toThrow(expect.objectContaining({ code: 'PPERF_ERR_DB_REPORT_PG_MISSING', message: expect.stringContaining('npm install pg') }));
  });

  const capture = () => {
    let text = '';
    return { stream: { write: (chunk: string) => (text += chunk) }, text: () => text };
  };

  it('exits 2 with a coded message when there is no URL or an unknown argument', async () => {
    const err = capture();
    expect(await runDbReport([], { env: {}, stderr: err.stream, stdout: capture().stream })).toBe(2);
    expect(err.text()).toMatch(/^PPERF_ERR_DB_REPORT_USAGE: .*DATABASE_URL/);
    const err2 = capture();
    expect(await runDbReport(['--jsn'], { env: {}, stderr: err2.stream })).toBe(2);
    expect(err2.text()).toContain('PPERF_ERR_DB_REPORT_USAGE: unknown option "--jsn" (did you mean --json?)');
    const err3 = capture();
    expect(await runDbReport(['--url'], { env: {}, stderr: err3.stream })).toBe(2);
    expect(err3.text()).toContain('--url needs a value');
    const err4 = capture();
    expect(await runDbReport(['postgres://app:hunter2@db/app'], { env: {}, stderr: err4.stream })).toBe(2);
    expect(err4.text()).toContain('PPERF_ERR_DB_REPORT_USAGE: unexpected argument "postgres://app:***@db/app"');
    expect(err4.text()).not.toContain('hunter2');
  });

  it('prints its usage on --help', async () => {
    const out = capture();
    expect(await runDbReport(['--help'], { stdout: out.stream })).toBe(0);
    expect(out.text()).toContain('Usage: plandex-perf db-report [--json] [--url URL]');
  });
});
