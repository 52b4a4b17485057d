import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../plugins/pg-pool/fingerprint.js';
import { describeApplied, tunePoolConfig } from '../../plugins/pg-pool/tune.js';
import { schema } from '../../plugins/pg-pool/schema.js';

const defaults = (() => {
  const r = schema.safeParse({});
  if (!r.success) throw new Error('defaults');
  return r.data;
})();

describe('fingerprint', () => {
  it('replaces every literal value and folds lists, so values never reach a log', () => {
    const fp = fingerprint("SELECT * FROM users WHERE email = 'a@b.c' AND id IN (1, 2, 3) AND score > 4.5 -- secret\n");
    expect(fp).toBe('SELECT * FROM users WHERE email = ? AND id IN (?) AND score > ?');
    expect(fp).not.toMatch(/a@b|secret|4\.5/);
  });
  it('keeps placeholders apart from values and reads the same for any list length', () => {
    expect(fingerprint('SELECT 1 FROM t WHERE a = $1 AND b = ANY($2)')).toBe('SELECT ? FROM t WHERE a = $n AND b = ANY(?)');
    expect(fingerprint('INSERT INTO t (a, b) VALUES (1, 2), (3, 4)')).toBe(fingerprint('INSERT INTO t (a, b) VALUES (5, 6)'));
  });
  it.each([
    ['dollar-quoted with a tag', "SELECT $tag$secret 'x' $$ inner$tag$ AS v FROM t", 'SELECT ? AS v FROM t'],
    ['dollar-quoted without a tag', 'INSERT INTO notes (body) VALUES ($$it\'s "secret"$$)', 'INSERT INTO notes (body) VALUES (?)'],
    ['different tags in one statement', "SELECT $a$one$a$, $b$two $a$ still$b$ FROM t", 'SELECT ?, ? FROM t'],
    ['E strings with backslash escapes', "SELECT * FROM t WHERE a = E'it\\'s secret' AND b = 2", 'SELECT * FROM t WHERE a = ? AND b = ?'],
    ['doubled quotes inside a string', "SELECT * FROM t WHERE a = 'O''Brien secret'", 'SELECT * FROM t WHERE a = ?'],
    ['bit, hex and Unicode strings', "SELECT B'1010', X'ff', U&'d\\0061t' FROM t", 'SELECT ?, ?, ? FROM t'],
    ['a quoted name holding a quote', 'SELECT "it\'s" FROM t WHERE a = \'secret\'', 'SELECT "it\'s" FROM t WHERE a = ?'],
    ['nested block comments', 'SELECT /* a /* secret */ still comment */ 1 FROM t', 'SELECT ? FROM t'],
    ['names with digits and dollars', 'SELECT t1.col2, a$b FROM t1 WHERE x = 3', 'SELECT t1.col2, a$b FROM t1 WHERE x = ?'],
  ])('blanks %s', (_name, text, expected) => {
    const fp = fingerprint(text);
    expect(fp).toBe(expected);
    expect(fp).not.toMatch(/secret|one|two|Brien/);
  });
  it('reads one statement the same whatever its dollar-quoted or E-string value', () => {
    expect(fingerprint("SELECT f($q$a$q$)")).toBe(fingerprint('SELECT f($q$something else entirely$q$)'));
    expect(fingerprint("SELECT E'a\\'b'")).toBe(fingerprint("SELECT E'other'"));
    expect(fingerprint('SELECT $1, $$x$$')).toBe('SELECT $n, ?');
  });
  it('an unterminated literal hides the rest', () => {
    expect(fingerprint("SELECT $x$ secret")).toBe('SELECT ?');
    expect(fingerprint("SELECT 'secret")).toBe('SELECT ?');
  });
  it('is bounded in length', () => {
    expect(fingerprint(`SELECT ${'a, '.repeat(500)} b FROM t`).length).toBeLessThanOrEqual(301);
  });
});

describe('tunePoolConfig', () => {
  const profile = (option: string) => (['max', 'connectionTimeoutMillis', 'statementTimeoutMs'].includes(option) ? 'profile laptop-4g' : 'config');
  it('with no configuration changes nothing but the wait bound, and names pg as the origin of the rest', () => {
    const { config, applied } = tunePoolConfig({ connectionString: 'postgres://x' }, defaults, 'svc', undefined, {});
    expect(config).toEqual({ connectionString: 'postgres://x', connectionTimeoutMillis: 30_000, fallback_application_name: 'svc' });
    expect(applied.max).toEqual({ value: 10, from: 'pg default' });
    expect(applied.idleTimeoutMillis).toEqual({ value: 10_000, from: 'pg default' });
    expect(applied.statement_timeout).toEqual({ value: 'unset', from: 'pg default' });
    expect(applied.query_timeout).toEqual({ value: 'unset', from: 'pg default' });
  });
  it("fills what an opt-in layer sets and the app left unset, and says where each value comes from", () => {
    const { config, applied } = tunePoolConfig({ connectionString: 'postgres://x', max: 20 }, { ...defaults, max: 5, connectionTimeoutMillis: 5000, statementTimeoutMs: 30_000 }, 'svc', profile, {});
    expect(config).toMatchObject({ max: 20, connectionTimeoutMillis: 5000, statement_timeout: 30_000, query_timeout: 31_000 });
    expect(applied.max).toEqual({ value: 20, from: 'app' });
    expect(applied.connectionTimeoutMillis).toEqual({ value: 5000, from: 'profile laptop-4g' });
    expect(applied.query_timeout).toEqual({ value: 31_000, from: 'profile laptop-4g, statement_timeout + 1 s' });
    expect(describeApplied(applied)).toContain('max=20 (app), min=0 (pg default)');
  });
  it("keeps the app's explicit values unless enforced, pg's `poolSize` included", () => {
    expect(tunePoolConfig({ max: 20, connectionTimeoutMillis: 0 }, defaults, 's').config).toMatchObject({ max: 20, connectionTimeoutMillis: 0 });
    expect(tunePoolConfig({ poolSize: 20 }, { ...defaults, max: 3 }, 's').config.max).toBeUndefined();
    expect(tunePoolConfig({ max: 20, connectionTimeoutMillis: 0 }, { ...defaults, enforce: ['connectionTimeoutMillis'] }, 's').config).toMatchObject({ max: 20, connectionTimeoutMillis: 30_000 });
  });
  it('sets the client timeout a little above the server statement timeout, and neither when off', () => {
    expect(tunePoolConfig({}, { ...defaults, statementTimeoutMs: 2000 }, 's').config.query_timeout).toBe(3000);
    const off = tunePoolConfig({}, { ...defaults, statementTimeoutMs: 0 }, 's').config;
    expect(off.statement_timeout).toBeUndefined();
    expect(off.query_timeout).toBeUndefined();
  });
  it('never leaves min above max', () => {
    expect(tunePoolConfig({ max: 2 }, { ...defaults, min: 4 }, 's').config).toMatchObject({ max: 2, min: 2 });
  });
  it('names connections only where the app names none (fallback_application_name)', () => {
    expect(tunePoolConfig({ application_name: 'mine' }, defaults, 's', undefined, {}).config).toEqual({ application_name: 'mine', connectionTimeoutMillis: 30_000 });
    expect(tunePoolConfig({}, defaults, 's', undefined, { PGAPPNAME: 'env-name' }).applied.application_name).toEqual({ value: 'env-name', from: 'app' });
    expect(tunePoolConfig({ connectionString: 'postgres://h/db?application_name=u' }, defaults, 's', undefined, {}).applied.application_name?.from).toBe('app');
    expect(tunePoolConfig({}, { ...defaults, applicationName: 'n', enforce: ['application_name'] }, 's', undefined, {}).config.application_name).toBe('n');
  });
});
