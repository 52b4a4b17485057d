import { describe, expect, it } from 'vitest';
import { analyzeTables } from '../../plugins/pg/tables.js';
import { columnKind, normalizeValue, readTags, writeTags, type ColumnKind, type Columns } from '../../plugins/cache/row-tags.js';
import { closure, type CatalogMaps } from '../../plugins/cache/catalog.js';

/**
 * Row-level dependencies end to end, without a database: a read's tags (what its entry depends on) against
 * a write's tags (what it drops), as the table tracker computes them, on a catalog given here. A write
 * "drops" a read when the two share a tag. "Whole table" is checked by an unrelated read of another row,
 * which only a whole-table invalidation can reach.
 */
const catalog: Record<string, Record<string, string>> = {
  users: { id: 'int8', name: 'text', email: 'varchar', active: 'bool', created_at: 'timestamptz', org: 'uuid', score: 'numeric', ratio: 'float8' },
  posts: { id: 'int4', user_id: 'int8', title: 'text' },
  tags: { post_id: 'int4', label: 'text' },
};
const columns = new Map<string, Columns>(Object.entries(catalog).map(([table, cols]) => [table, new Map(Object.entries(cols).map(([c, t]) => [c, columnKind(t)] as [string, ColumnKind]))]));
const columnsOf = (table: string) => columns.get(table);
const unknownCatalog = () => undefined;

const read = (sql: string, values: unknown[] = [], of = columnsOf) => readTags(analyzeTables(sql), values, of);
function write(sql: string, values: unknown[] = [], of = columnsOf): string[] {
  const tags: string[] = [];
  for (const step of analyzeTables(sql).steps) if (step.kind === 'write') tags.push(...(step.all ? ['@pg:*'] : writeTags(step, step.tables, values, of)));
  return tags;
}
const drops = (w: string[], r: string[]) => w.some((tag) => r.includes(tag) || tag === '@pg:*');

const byId = (id: unknown) => read('SELECT * FROM users WHERE id = $1', [id]);
const allUsers = read('SELECT count(*) FROM users');

describe('row-level: a write pinned to rows drops only the entries of those rows', () => {
  it('UPDATE and DELETE … WHERE id = $1: that id’s entry and unfiltered reads go, another id’s stays', () => {
    const update = write('UPDATE users SET name = $2 WHERE id = $1', [1, 'x']);
    expect(drops(update, byId(1))).toBe(true);
    expect(drops(update, byId('1'))).toBe(true);
    expect(drops(update, allUsers)).toBe(true);
    expect(drops(update, byId(2))).toBe(false);
    const del = write('DELETE FROM users u WHERE u.id = $1', [7]);
    expect(drops(del, byId(7))).toBe(true);
    expect(drops(del, byId(8))).toBe(false);
    // An entry filtered on another column may hold the written row: it goes.
    expect(drops(update, read('SELECT * FROM users WHERE name = $1', ['zed']))).toBe(true);
  });

  it('INSERT … VALUES pins the listed columns: entries for other values stay, unlisted columns are unknown', () => {
    const insert = write('INSERT INTO users (id, name) VALUES ($1, $2) RETURNING id', [3, 'Cy']);
    expect(drops(insert, byId(3))).toBe(true);
    expect(drops(insert, byId(1))).toBe(false);
    expect(drops(insert, read('SELECT * FROM users WHERE name = $1', ['cy']))).toBe(true); // text merges case
    expect(drops(insert, read('SELECT * FROM users WHERE name = $1', ['dan']))).toBe(false);
    expect(drops(insert, read('SELECT * FROM users WHERE org = $1', ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']))).toBe(true); // a default, unknown
    expect(drops(insert, allUsers)).toBe(true);
    const rows = write("INSERT INTO posts (user_id, title) VALUES ($1, 'a'), (5, $2)", [4, 'b']);
    expect(drops(rows, read('SELECT * FROM posts WHERE user_id = $1', [4]))).toBe(true);
    expect(drops(rows, read('SELECT * FROM posts WHERE user_id = $1', ['5']))).toBe(true);
    expect(drops(rows, read('SELECT * FROM posts WHERE user_id = $1', [6]))).toBe(false);
    // An expression is an unknown value for its column only.
    const expr = write('INSERT INTO posts (user_id, title) VALUES ($1, upper($2))', [4, 'b']);
    expect(drops(expr, read('SELECT * FROM posts WHERE user_id = 6'))).toBe(false);
    expect(drops(expr, read('SELECT * FROM posts WHERE title = $1', ['zzz']))).toBe(true);
  });

  it('ON CONFLICT (id) DO UPDATE keeps only the conflict column pinned; DO NOTHING is a plain insert', () => {
    const upsert = write('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name', [3, 'cy']);
    expect(drops(upsert, byId(3))).toBe(true);
    expect(drops(upsert, byId(1))).toBe(false);
    expect(drops(upsert, read('SELECT * FROM users WHERE name = $1', ['other']))).toBe(true); // the old name is unknown
    const nothing = write('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [3, 'cy']);
    expect(drops(nothing, read('SELECT * FROM users WHERE name = $1', ['other']))).toBe(false);
    const sets = write('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id + 1', [3, 'cy']);
    expect(drops(sets, byId(1))).toBe(true);
    expect(drops(write('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT ON CONSTRAINT users_pkey DO UPDATE SET name = $2', [3, 'cy']), byId(1))).toBe(true);
  });

  it('IN lists and = ANY($n) on both sides', () => {
    const some = read('SELECT * FROM users WHERE id = ANY($1::bigint[])', [[1, 2]]);
    expect(drops(write('UPDATE users SET name = $2 WHERE id = $1', [2, 'x']), some)).toBe(true);
    expect(drops(write('UPDATE users SET name = $2 WHERE id = $1', [5, 'x']), some)).toBe(false);
    const del = write('DELETE FROM users WHERE id = ANY($1)', [[5, 6]]);
    expect(drops(del, byId(6))).toBe(true);
    expect(drops(del, byId(1))).toBe(false);
    expect(drops(del, read('SELECT * FROM users WHERE id IN ($1, 9)', [6]))).toBe(true);
    expect(drops(del, read('SELECT * FROM users WHERE id IN ($1, 9)', [1]))).toBe(false);
    // Not an array: the read is the whole table's.
    expect(drops(write('UPDATE users SET name = $2 WHERE id = $1', [5, 'x']), read('SELECT * FROM users WHERE id = ANY($1)', ['{1,2}']))).toBe(true);
  });

  it('values are compared as the column’s type compares them, never split', () => {
    expect(normalizeValue('007', 'int')).toBe(normalizeValue(7, 'int'));
    expect(normalizeValue(' 12 ', 'int')).toBe(normalizeValue(12n, 'int'));
    expect(normalizeValue('1.50', 'numeric')).toBe(normalizeValue(1.5, 'numeric'));
    expect(normalizeValue('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', 'uuid')).toBe(normalizeValue('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'uuid'));
    expect(normalizeValue('Bob ', 'text')).toBe(normalizeValue('bob', 'text'));
    expect(normalizeValue('0x1F', 'int')).toBeUndefined(); // PostgreSQL 16 reads it as 31: unknown here
    expect(normalizeValue(new Date(0), 'text')).toBeUndefined();
    expect(normalizeValue(true, 'other')).toBeUndefined();
  });
});

describe('fallbacks: whatever the parser cannot prove invalidates the whole table', () => {
  const other = byId(999);
  const whole: [string, string, unknown[]][] = [
    ['an UPDATE that changes the key column', 'UPDATE users SET id = $2 WHERE id = $1', [1, 999]],
    ['an OR predicate', 'UPDATE users SET name = $3 WHERE id = $1 OR id = $2', [1, 2, 'x']],
    ['a function of the column', 'UPDATE users SET name = $2 WHERE lower(name) = $1', ['a', 'x']],
    ['a subquery value', 'DELETE FROM users WHERE id = (SELECT max(id) FROM users)', []],
    ['IN (subquery)', 'DELETE FROM users WHERE id IN (SELECT user_id FROM posts)', []],
    ['a range', 'DELETE FROM users WHERE id > $1', [5]],
    ['a join on the key', 'UPDATE users u SET name = p.title FROM posts p WHERE u.id = p.user_id', []],
    ['INSERT … SELECT', 'INSERT INTO users (id, name) SELECT id + 1000, title FROM posts', []],
    ['INSERT without a column list', 'INSERT INTO users VALUES ($1, $2)', [5, 'e']],
    ['COPY … FROM', 'COPY users (id, name) FROM STDIN', []],
    ['TRUNCATE', 'TRUNCATE users', []],
    ['MERGE', 'MERGE INTO users u USING posts p ON u.id = p.user_id WHEN MATCHED THEN UPDATE SET name = p.title', []],
    ['a write inside a CTE', 'WITH d AS (DELETE FROM users WHERE id = $1 RETURNING id) SELECT * FROM d', [1]],
    ['two writes in one statement', 'WITH d AS (DELETE FROM posts WHERE user_id = $1) DELETE FROM users WHERE id = $1', [1]],
    ['a boolean column (t, true, yes are one value)', "UPDATE users SET name = 'x' WHERE active = 't'", []],
    ['a timestamp column', 'DELETE FROM users WHERE created_at = $1', ['2026-01-01']],
    ['a float column', 'DELETE FROM users WHERE ratio = $1', [0.1]],
    ['a Date parameter', 'DELETE FROM users WHERE name = $1', [new Date(0)]],
    ['a missing parameter', 'DELETE FROM users WHERE id = $2', [1]],
    ['CALL', 'CALL purge_users()', []],
  ];
  for (const [what, sql, values] of whole) {
    it(what, () => {
      const tags = write(sql, values);
      expect(tags.length).toBeGreaterThan(0);
      expect(drops(tags, other)).toBe(true);
    });
  }

  it('a read the parser cannot bound depends on its whole table', () => {
    const pinned = write('UPDATE users SET name = $2 WHERE id = $1', [1, 'x']);
    for (const [sql, values] of [
      ['SELECT * FROM users WHERE id = $1 OR name = $2', [5, 'x']],
      ['SELECT * FROM users WHERE active = $1', [true]],
      ['SELECT * FROM users WHERE created_at = $1', [new Date(0)]],
      ['SELECT * FROM users WHERE lower(name) = $1', ['x']],
      ['SELECT u.* FROM users u JOIN posts p ON p.user_id = u.id WHERE p.id = $1', [5]],
    ] as [string, unknown[]][]) {
      expect(drops(pinned, read(sql, values)), sql).toBe(true);
    }
  });

  it('an unqualified column the table lacks is an outer query’s: that read is not pinned', () => {
    // tags has no id: PostgreSQL resolves `id` to users.id, so the subquery reads every tag of the post.
    const r = read('SELECT * FROM users WHERE EXISTS (SELECT 1 FROM tags WHERE label = users.name AND id = $1)', [5]);
    expect(drops(write('UPDATE tags SET label = $2 WHERE post_id = $1', [3, 'x']), r)).toBe(true);
  });

  it('without the catalog every read and write is table-level', () => {
    const w = write('UPDATE users SET name = $2 WHERE id = $1', [1, 'x'], unknownCatalog);
    expect(w).toEqual(['@pg:users']);
    expect(read('SELECT * FROM users WHERE id = $1', [1], unknownCatalog)).toEqual(['@pg:users', '@pg:users|*']);
  });

  it('join-key dependencies stay table-level: a write to the joined table by its own key drops the join', () => {
    const r = read('SELECT p.* FROM posts p LEFT JOIN tags t ON t.post_id = p.id WHERE p.user_id = $1', [1]);
    expect(drops(write('DELETE FROM tags WHERE post_id = $1', [12345]), r)).toBe(true);
    expect(drops(write('DELETE FROM posts WHERE user_id = $1', [2]), r)).toBe(false);
  });
});

describe('cascades follow the foreign-key actions the write can fire', () => {
  const maps: CatalogMaps = {
    changes: new Map([['users', new Set(['users_view'])]]),
    viewBases: new Map([['users_view', new Set(['users'])]]),
    onDelete: new Map([['users', new Set(['posts'])], ['posts', new Set(['tags'])]]),
    onUpdate: new Map(),
    referencedBy: new Map([['users', new Set(['posts'])]]),
    columns: new Map(),
  };
  it('INSERT cascades nowhere, UPDATE only ON UPDATE, DELETE (and MERGE) ON DELETE, transitively', () => {
    expect(closure(maps, ['users'], false, 'insert').sort()).toEqual(['users', 'users_view']);
    expect(closure(maps, ['users'], false, 'update').sort()).toEqual(['users', 'users_view']);
    expect(closure(maps, ['users'], false, 'delete').sort()).toEqual(['posts', 'tags', 'users', 'users_view']);
    expect(closure(maps, ['users'], false).sort()).toEqual(['posts', 'tags', 'users', 'users_view']);
    expect(closure(maps, ['users'], true, 'update').sort()).toEqual(['posts', 'tags', 'users', 'users_view']);
  });
  it('a write through an updatable view writes its base tables (and what cascades from them)', () => {
    expect(closure(maps, ['users_view'], false, 'update').sort()).toEqual(['posts', 'tags', 'users', 'users_view']);
  });
  it('the verb is read off the statement', () => {
    const op = (sql: string) => analyzeTables(sql).steps.find((s) => s.kind === 'write')?.op;
    expect(op('INSERT INTO users (id) VALUES (1)')).toBe('insert');
    expect(op('INSERT INTO users (id) SELECT 1')).toBe('insert');
    expect(op('INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2')).toBe('update');
    expect(op('INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING')).toBe('insert');
    expect(op('UPDATE users SET name = 1')).toBe('update');
    expect(op('DELETE FROM users')).toBe('delete');
    expect(op('MERGE INTO users u USING posts p ON true WHEN MATCHED THEN DELETE')).toBeUndefined();
    expect(op('WITH d AS (DELETE FROM users) SELECT 1')).toBeUndefined();
  });
});
