import { describe, expect, it } from 'vitest';
import { SummaryCache, summarize } from '../../plugins/pg/sql.js';

describe('summarize', () => {
  it.each([
    ['SELECT id, name FROM users WHERE id = $1', 'SELECT', 'users'],
    ['INSERT INTO plans (user_id, title) VALUES ($1, $2) RETURNING id', 'INSERT', 'plans'],
    ['UPDATE plans SET title = $1 WHERE id = $2', 'UPDATE', 'plans'],
    ['DELETE FROM sessions WHERE expires_at < now()', 'DELETE', 'sessions'],
    ['TRUNCATE TABLE audit_log', 'TRUNCATE', 'audit_log'],
    ['SELECT * FROM ONLY events', 'SELECT', 'events'],
  ])('reads %j as %s on %s', (text, operation, collection) => {
    expect(summarize(text)).toEqual({ operation, collection });
  });

  it('keeps the table of a schema-qualified name', () => {
    expect(summarize('SELECT * FROM public.users')).toEqual({ operation: 'SELECT', collection: 'users' });
    expect(summarize('UPDATE app . Accounts SET a = 1')).toEqual({ operation: 'UPDATE', collection: 'accounts' });
  });

  it('unquotes quoted names, keeping their case', () => {
    expect(summarize('SELECT * FROM "public"."User Accounts" WHERE 1 = 1')).toEqual({ operation: 'SELECT', collection: 'User Accounts' });
    expect(summarize('INSERT INTO "we""ird" VALUES (1)')).toEqual({ operation: 'INSERT', collection: 'we"ird' });
  });

  it('reads past literals that hide keywords or parentheses: dollar-quoted, E strings, quoted names', () => {
    expect(summarize('SELECT $$ FROM users ( $$ AS v FROM plans')).toEqual({ operation: 'SELECT', collection: 'plans' });
    expect(summarize("SELECT $fn$ ) FROM users $fn$, E'\\' FROM x' FROM plans")).toEqual({ operation: 'SELECT', collection: 'plans' });
    expect(summarize('SELECT count("it\'s (") FROM plans')).toEqual({ operation: 'SELECT', collection: 'plans' });
    expect(summarize('SELECT a$b FROM plans WHERE id = $1')).toEqual({ operation: 'SELECT', collection: 'plans' });
  });

  it('skips leading comments', () => {
    expect(summarize('/* app:api, route:/users */ -- traced\n  SELECT * FROM users')).toEqual({ operation: 'SELECT', collection: 'users' });
    expect(summarize('/* multi\nline */\nDELETE FROM carts')).toEqual({ operation: 'DELETE', collection: 'carts' });
  });

  it('reads the statement after a WITH clause', () => {
    expect(
      summarize('WITH recent AS (SELECT user_id FROM orders WHERE created_at > $1) SELECT u.name FROM users u JOIN recent r ON r.user_id = u.id'),
    ).toEqual({ operation: 'SELECT', collection: 'users' });
    expect(summarize('WITH gone AS (SELECT id FROM carts) DELETE FROM sessions WHERE cart_id IN (SELECT id FROM gone)')).toEqual({
      operation: 'DELETE',
      collection: 'sessions',
    });
  });

  it('reads lower-case SQL, lower-casing unquoted names', () => {
    expect(summarize('select * from Users where id = $1')).toEqual({ operation: 'SELECT', collection: 'users' });
    expect(summarize('  insert into plans values ($1)')).toEqual({ operation: 'INSERT', collection: 'plans' });
  });

  it('calls unknown verbs OTHER', () => {
    expect(summarize('FROBNICATE users')).toEqual({ operation: 'OTHER', collection: undefined });
    expect(summarize('')).toEqual({ operation: 'OTHER', collection: undefined });
    expect(summarize('42')).toEqual({ operation: 'OTHER', collection: undefined });
  });

  it('knows statements without a table', () => {
    expect(summarize('BEGIN')).toEqual({ operation: 'BEGIN', collection: undefined });
    expect(summarize('SELECT 1')).toEqual({ operation: 'SELECT', collection: undefined });
  });

  it('never carries literal values into the summary', () => {
    const secrets = ["'alice@example.com'", 'hunter2', '4111111111111111'];
    const texts = [
      "SELECT * FROM users WHERE email = 'alice@example.com' AND password = 'hunter2'",
      "INSERT INTO cards (number) VALUES ('4111111111111111')",
      "UPDATE users SET password = 'hunter2' WHERE email = 'alice@example.com'",
      "DELETE FROM users WHERE card = '4111111111111111'",
      "/* hunter2 */ SELECT 'hunter2'",
    ];
    for (const text of texts) {
      const out = JSON.stringify(summarize(text));
      for (const secret of secrets) expect(out).not.toContain(secret.replace(/'/g, ''));
    }
  });

  // Regression: the verb after a CTE list is the first top-level main verb, not the last `) VERB` in the text.
  it('reads WITH … INSERT INTO t (cols) SELECT … as an INSERT into t', () => {
    expect(summarize('WITH moved AS (DELETE FROM inbox WHERE id = $1 RETURNING *) INSERT INTO archive (id, body) SELECT id, body FROM moved')).toEqual({
      operation: 'INSERT',
      collection: 'archive',
    });
  });
});

describe('SummaryCache', () => {
  it('returns the same summary as summarize, every time', () => {
    const cache = new SummaryCache();
    const text = 'SELECT * FROM users WHERE id = $1';
    const first = cache.get(text);
    expect(first).toEqual(summarize(text));
    expect(cache.get(text)).toEqual(first);
    expect(cache.get('UPDATE plans SET a = $1')).toEqual({ operation: 'UPDATE', collection: 'plans' });
  });

  it('serves a short text from the cache and summarizes a very long one afresh', () => {
    const cache = new SummaryCache();
    const short = 'SELECT * FROM users';
    expect(cache.get(short)).toBe(cache.get(short));
    const long = `SELECT * FROM users WHERE id IN (${'1,'.repeat(3000)}1)`;
    const a = cache.get(long);
    const b = cache.get(long);
    expect(a).toEqual({ operation: 'SELECT', collection: 'users' });
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
  });

  it('the last statement, repeated or alternated with others, keeps its own summary (one object per text)', () => {
    const cache = new SummaryCache();
    const select = 'SELECT * FROM users WHERE id = $1';
    const update = 'UPDATE plans SET a = $1';
    const first = cache.get(select);
    expect(cache.get(select)).toBe(first);
    expect(cache.get(update)).toEqual({ operation: 'UPDATE', collection: 'plans' });
    // An equal text built at run time (another string object) is the same statement.
    expect(cache.get(['SELECT * FROM', 'users WHERE id = $1'].join(' '))).toBe(first);
    expect(cache.get(update)).toEqual({ operation: 'UPDATE', collection: 'plans' });
    expect(cache.get(select)).toBe(first);
  });
});
