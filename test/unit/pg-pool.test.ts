import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../plugins/pg-pool/fingerprint.js';
import { tunePoolConfig } from '../../plugins/pg-pool/tune.js';
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
  it('is bounded in length', () => {
    expect(fingerprint(`SELECT ${'a, '.repeat(500)} b FROM t`).length).toBeLessThanOrEqual(301);
  });
});

describe('tunePoolConfig', () => {
  it('fills what the app left unset and says so', () => {
    const { config, filled } = tunePoolConfig({ connectionString: 'postgres://x' }, { ...defaults, max: 5 }, 'svc');
    expect(config).toMatchObject({ connectionString: 'postgres://x', max: 5, connectionTimeoutMillis: 5000, application_name: 'svc', statement_timeout: 30000, query_timeout: 31000, keepAlive: true });
    expect(filled).toContain('max');
  });
  it("keeps the app's explicit values unless enforced", () => {
    expect(tunePoolConfig({ max: 20, connectionTimeoutMillis: 0 }, defaults, 's').config).toMatchObject({ max: 20, connectionTimeoutMillis: 0 });
    expect(tunePoolConfig({ max: 20, connectionTimeoutMillis: 0 }, { ...defaults, enforce: ['connectionTimeoutMillis'] }, 's').config).toMatchObject({ max: 20, connectionTimeoutMillis: 5000 });
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
});
