import { describe, expect, it } from 'vitest';
import { analyzeTables } from '../../plugins/pg/tables.js';

const reads = (sql: string) => [...analyzeTables(sql).reads].sort();
const writes = (sql: string) =>
  analyzeTables(sql)
    .steps.filter((s) => s.kind === 'write')
    .flatMap((s) => (s.all ? ['*'] : s.tables))
    .sort();
const kinds = (sql: string) => analyzeTables(sql).steps.map((s) => s.kind);

describe('tables a statement reads', () => {
  it('every table of joins, lateral subqueries and comma lists, not aliases or CTE names', () => {
    const plans = `SELECT p.id, COUNT(DISTINCT c.id)::int FROM plans p
      LEFT JOIN contexts c ON c.plan_id = p.id AND c.active = true
      LEFT JOIN plan_files pf ON pf.plan_id = p.id
      LEFT JOIN LATERAL (SELECT created_at FROM conversations WHERE plan_id = p.id LIMIT 1) latest ON true
      WHERE p.user_id = $1 GROUP BY p.id`;
    expect(reads(plans)).toEqual(['contexts', 'conversations', 'plan_files', 'plans']);
    expect(reads('SELECT * FROM a, b AS bb, c cc WHERE a.x = bb.x')).toEqual(['a', 'b', 'c']);
    expect(reads('SELECT * FROM a JOIN b USING (id), c')).toEqual(['a', 'b', 'c']);
    expect(reads('WITH recent AS (SELECT * FROM orders WHERE x IN (SELECT id FROM users)) SELECT * FROM recent')).toEqual(['orders', 'users']);
    expect(reads('WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT * FROM t')).toEqual([]);
    expect(reads('SELECT * FROM generate_series(1, 3) g, items')).toEqual(['items']);
    expect(reads('SELECT * FROM (SELECT * FROM inner_t) sub')).toEqual(['inner_t']);
    expect(reads('TABLE users')).toEqual(['users']);
    expect(reads('SELECT a IS DISTINCT FROM b FROM t')).toEqual(['t']);
    expect(reads("SELECT 'FROM fake' AS s, $tag$ FROM nope $tag$ FROM real_t -- FROM comment\n /* FROM x /* nested */ */")).toEqual(['real_t']);
  });

  it('normalises names: schema dropped, bare names folded, quoted names kept', () => {
    expect(reads('SELECT * FROM public.users')).toEqual(['users']);
    expect(reads('SELECT * FROM "public"."users"')).toEqual(['users']);
    expect(reads('SELECT * FROM USERS')).toEqual(['users']);
    expect(reads('SELECT * FROM "Users"')).toEqual(['Users']);
    expect(reads('SELECT * FROM "we""ird"')).toEqual(['we"ird']);
  });
});

describe('tables a statement writes', () => {
  it('DML, in CTEs too, and not the look-alikes', () => {
    expect(writes('INSERT INTO public.users (name) VALUES ($1)')).toEqual(['users']);
    expect(writes('UPDATE ONLY "Plans" SET name = $1 FROM users WHERE users.id = 1')).toEqual(['Plans']);
    expect(writes('DELETE FROM plans USING users WHERE users.id = plans.user_id')).toEqual(['plans']);
    expect(writes('WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone')).toEqual(['a', 'b']);
    expect(writes('WITH x AS (UPDATE c SET v = 1 RETURNING *) SELECT * FROM x')).toEqual(['c']);
    expect(writes('INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET v = excluded.v')).toEqual(['t']);
    expect(writes('MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET n = s.n + d.n WHEN NOT MATCHED THEN INSERT VALUES (d.id, d.n)')).toEqual(['stock']);
    expect(writes('SELECT * FROM t WHERE id = 1 FOR UPDATE')).toEqual([]);
    expect(writes('SELECT * FROM t FOR NO KEY UPDATE')).toEqual([]);
    expect(writes("SELECT 'DELETE FROM users'")).toEqual([]);
  });

  it('TRUNCATE, COPY … FROM (not TO), REFRESH, and unknown effects as every table', () => {
    const truncate = analyzeTables('TRUNCATE TABLE a, ONLY b RESTART IDENTITY CASCADE').steps[0]!;
    expect(truncate).toMatchObject({ kind: 'write', tables: ['a', 'b'], truncate: true });
    expect(writes('COPY items (id, name) FROM STDIN WITH (FORMAT csv)')).toEqual(['items']);
    expect(writes('COPY items TO STDOUT')).toEqual([]);
    expect(writes('COPY (SELECT * FROM items) TO STDOUT')).toEqual([]);
    expect(writes('REFRESH MATERIALIZED VIEW CONCURRENTLY stats')).toEqual(['stats']);
    expect(writes('CALL archive_old()')).toEqual(['*']);
    expect(writes('DO $$ BEGIN DELETE FROM x; END $$')).toEqual(['*']);
    expect(writes('ALTER TABLE users ADD COLUMN x int')).toEqual(['*']);
    expect(analyzeTables('DROP TABLE users').schemaChange).toBe(true);
    expect(writes('CREATE TABLE IF NOT EXISTS t (id int)')).toEqual([]);
    expect(writes('CREATE OR REPLACE VIEW v AS SELECT 1')).toEqual(['*']);
    expect(writes('SET search_path = app')).toEqual([]);
    expect(writes('FROBNICATE everything')).toEqual(['*']);
  });

  it('transaction verbs in order, in one text or many', () => {
    expect(kinds('BEGIN; UPDATE a SET x = 1; COMMIT;')).toEqual(['begin', 'write', 'commit']);
    expect(kinds('START TRANSACTION ISOLATION LEVEL SERIALIZABLE')).toEqual(['begin']);
    expect(kinds('ROLLBACK')).toEqual(['rollback']);
    expect(kinds('ROLLBACK TO SAVEPOINT s1')).toEqual([]);
    expect(kinds('SAVEPOINT s1')).toEqual([]);
    expect(kinds('END')).toEqual(['commit']);
    expect(kinds('SELECT 1; SELECT 2')).toEqual([]);
  });
});

describe('filters: the rows a statement reads or writes', () => {
  const filters = (sql: string) => analyzeTables(sql).filters;
  const writeFilter = (sql: string) => analyzeTables(sql).steps.find((s) => s.kind === 'write')?.filter;

  it('an equality on a parameter or a constant at the table’s own level, through its alias', () => {
    const plans = `SELECT p.id FROM plans p LEFT JOIN contexts c ON c.plan_id = p.id
      LEFT JOIN LATERAL (SELECT created_at FROM conversations WHERE plan_id = p.id LIMIT 1) l ON true
      WHERE p.user_id = $1 AND p.archived_at IS NULL GROUP BY p.id LIMIT 20`;
    expect(filters(plans)).toEqual({ plans: [{ column: 'user_id', values: [{ param: 1 }] }] });
    expect(filters('SELECT * FROM users WHERE id = $1::bigint')).toEqual({ users: [{ column: 'id', values: [{ param: 1 }] }] });
    expect(filters("SELECT * FROM users WHERE 'a@b' = email")).toEqual({ users: [{ column: 'email', values: [{ literal: 'a@b' }] }] });
    expect(filters('SELECT * FROM users WHERE id IN ($1, $2, 7)')).toEqual({ users: [{ column: 'id', values: [{ param: 1 }, { param: 2 }, { literal: '7' }] }] });
  });

  it('no filter when it does not bound the rows: OR, ranges, functions, a bare column of two tables, a second unfiltered read', () => {
    expect(filters('SELECT * FROM users WHERE id = $1 OR email = $2')).toEqual({});
    expect(filters('SELECT * FROM users WHERE id >= $1')).toEqual({});
    expect(filters('SELECT * FROM users WHERE id <> $1')).toEqual({});
    expect(filters('SELECT * FROM users WHERE lower(email) = $1')).toEqual({});
    expect(filters('SELECT * FROM a, b WHERE id = $1')).toEqual({});
    expect(filters('SELECT * FROM users WHERE id = $1 UNION SELECT * FROM users')).toEqual({});
    expect(filters('SELECT * FROM users u WHERE u.id = (SELECT max(id) FROM users)')).toEqual({});
  });

  it('writes: a one-table UPDATE or DELETE keeps its filter unless it sets the filtered column', () => {
    expect(writeFilter('UPDATE plans SET version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING version')).toEqual({ column: 'user_id', values: [{ param: 1 }] });
    expect(writeFilter('DELETE FROM plans p WHERE p.id = $1')).toEqual({ column: 'id', values: [{ param: 1 }] });
    expect(writeFilter('UPDATE plans SET user_id = $2 WHERE user_id = $1')).toBeUndefined();
    expect(writeFilter('UPDATE plans SET (a, b) = ($2, $3) WHERE id = $1')).toBeUndefined();
    expect(writeFilter('UPDATE plans SET name = $2 WHERE id = $1 OR id = $3')).toBeUndefined();
    expect(writeFilter('INSERT INTO plans (user_id) VALUES ($1)')).toBeUndefined();
    expect(writeFilter('WITH x AS (DELETE FROM a WHERE id = $1) UPDATE b SET v = 1 WHERE id = $1')).toBeUndefined();
  });
});
