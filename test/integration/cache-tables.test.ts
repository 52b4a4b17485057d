import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { root, startApp, type App } from '../e2e/helpers.js';
import { cleanPostgres, cleanRedis, runPrefix, sleep } from '../fixtures/cache-helpers.js';

/**
 * Zero-code caching that stays correct after writes, as a user runs it: an Express + knex app started
 * with the built preload (`node --import`), its lookup functions cached from the config only, real
 * PostgreSQL, and for the cross-instance cases two processes sharing Redis (pub/sub) or PostgreSQL
 * (LISTEN/NOTIFY) as L2.
 */
const script = path.join(root, 'test/fixtures/cache-tables/server.mjs');
const config = path.join(root, 'test/fixtures/cache-tables/config.mjs');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = inject('databaseUrl');

async function redisUp(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379 }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

const apps: App[] = [];
async function start(env: Record<string, string> = {}): Promise<App> {
  const app = await startApp({ script, env: { DATABASE_URL: databaseUrl, PLANDEX_PERF_CONFIG: config, OTEL_METRICS_EXPORTER: 'none', ...env } });
  apps.push(app);
  return app;
}
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

async function call(app: App, method: string, url: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${app.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}
/** A call, with when the app's route promise resolved (x-resolved-at, performance.timeOrigin + performance.now()). */
async function timedCall(app: App, method: string, url: string, body?: unknown): Promise<{ body: unknown; resolvedAt: number }> {
  const res = await fetch(`${app.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return { body: JSON.parse(text), resolvedAt: Number(res.headers.get('x-resolved-at')) };
}
/** The same clock as x-resolved-at, in this process. */
const now = () => performance.timeOrigin + performance.now();
const user = async (app: App, id: number) => (await call(app, 'GET', `/users/${id}`)) as { name: string; api_key: string | null } | null;

/** The queries knex sent for getUser (origin calls that reached the database), counted by the app. */
async function userQueries(app: App): Promise<number> {
  const counts = (await call(app, 'GET', '/queries')) as Record<string, number>;
  return counts['select * from "tc_users" where "id" = $1 limit $2'] ?? 0;
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query('DROP TABLE IF EXISTS tc_posts, tc_sessions, tc_users, tc_tags');
  await admin.query('CREATE TABLE tc_users (id int PRIMARY KEY, name text UNIQUE NOT NULL, api_key text)');
  await admin.query('CREATE TABLE tc_posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES tc_users (id) ON DELETE CASCADE, title text NOT NULL)');
  // A plain foreign key (no ON DELETE action): only TRUNCATE … CASCADE reaches it from tc_users.
  await admin.query('CREATE TABLE tc_sessions (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES tc_users (id), token text NOT NULL)');
  await admin.query('CREATE TABLE tc_tags (id int PRIMARY KEY, name text NOT NULL)');
});
beforeEach(async () => {
  await admin.query('TRUNCATE tc_posts, tc_sessions, tc_users, tc_tags');
  await admin.query("INSERT INTO tc_users (id, name, api_key) VALUES (1, 'ada', 'key-1'), (2, 'bob', 'key-2'), (3, 'cy', null)");
  await admin.query("INSERT INTO tc_posts (user_id, title) VALUES (1, 'a1'), (1, 'a2'), (2, 'b1')");
  await admin.query("INSERT INTO tc_tags (id, name) VALUES (1, 't1')");
  await admin.query("INSERT INTO tc_sessions (user_id, token) VALUES (2, 's1')"); // user 2: the tests delete users 1 and 3
});
afterAll(async () => {
  await admin.query('DROP TABLE IF EXISTS tc_posts, tc_sessions, tc_users, tc_tags');
  await admin.end();
});

// A write by the admin connection is invisible to the app (no triggers on these tables): after one, the
// app still serving the old value proves its entry was cached, and serving the new one after the app's
// own write proves that write dropped it. Without the cache, every one of these checks fails.
const sql = (app: App, text: string, values: unknown[] = []) => call(app, 'POST', '/sql', { text, values });
/** Caches user `id`, changes its name behind the app's back, checks the old name is still served, and returns it. */
async function cachedAndChangedBehind(app: App, id: number, hidden: string): Promise<string | undefined> {
  const cached = (await user(app, id))?.name;
  expect(cached).not.toBe(hidden);
  await admin.query('UPDATE tc_users SET name = $2 WHERE id = $1', [id, hidden]);
  expect((await user(app, id))?.name).toBe(cached); // served from the cache
  return cached;
}
/** Caches user 1's posts, adds one behind the app's back, checks the cached list is still served. */
async function postsCachedAndChangedBehind(app: App): Promise<void> {
  const titles = async () => ((await call(app, 'GET', '/users/1/posts')) as { title: string }[]).map((p) => p.title);
  expect(await titles()).toEqual(['a1', 'a2']);
  await admin.query("INSERT INTO tc_posts (user_id, title) VALUES (1, 'behind')");
  expect(await titles()).toEqual(['a1', 'a2']);
}
/** Caches tag 1 (a table no write here touches), renames it behind the app's back: while cached, 't1' is served. */
async function tagCachedAndChangedBehind(app: App): Promise<void> {
  expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  await admin.query("UPDATE tc_tags SET name = 'behind' WHERE id = 1");
  expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
}
/**
 * Until the cache has read the catalog (foreign keys, columns and their types, once something is cached),
 * every write counts for every table (catalog.ts): wait for that steady state, proven by a pinned write
 * keeping another row's entry.
 */
async function rowLevel(app: App): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (let n = 0; ; n++) {
    const cached = await cachedAndChangedBehind(app, 3, `probe-${n}`);
    await sql(app, 'UPDATE tc_users SET api_key = $2 WHERE id = $1', [1, `probe-${n}`]);
    if ((await user(app, 3))?.name === cached) return;
    expect(performance.now()).toBeLessThan(deadline);
    await sleep(50);
  }
}

describe('one process: a write is seen by the next read', () => {
  it('caches reads (one query for many calls), and an edit, its revert, a revoked key and a delete are served at once', async () => {
    const app = await start();
    expect(app.stderr()).toMatch(/plugin "cache" started/);
    expect(await user(app, 1)).toMatchObject({ name: 'ada', api_key: 'key-1' });
    expect(await userQueries(app)).toBe(1);
    for (let i = 0; i < 9; i++) expect(await user(app, 1)).toMatchObject({ name: 'ada' });
    expect(await userQueries(app)).toBe(1); // ten calls, one query
    await call(app, 'PUT', '/users/1', { name: 'ada2', apiKey: 'key-1' });
    expect(await user(app, 1)).toMatchObject({ name: 'ada2' });
    expect(await user(app, 1)).toMatchObject({ name: 'ada2' });
    expect(await userQueries(app)).toBe(2); // the write cost one miss, and the new value is cached again
    await call(app, 'PUT', '/users/1', { name: 'ada', apiKey: null }); // the edit reverted, the key revoked
    expect(await user(app, 1)).toMatchObject({ name: 'ada', api_key: null });
    expect(await cachedAndChangedBehind(app, 3, 'hidden-3')).toBe('cy');
    await call(app, 'DELETE', '/users/3');
    expect(await user(app, 3)).toBeNull();
  });

  it('a freed unique name is free at once', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/names/bob')).toEqual({ inUse: true });
    await admin.query("UPDATE tc_users SET name = 'bobby' WHERE id = 2"); // behind the app's back
    expect(await call(app, 'GET', '/names/bob')).toEqual({ inUse: true }); // cached
    await call(app, 'PUT', '/users/2', { name: 'robert' });
    expect(await call(app, 'GET', '/names/bob')).toEqual({ inUse: false });
    expect(await call(app, 'GET', '/names/robert')).toEqual({ inUse: true });
    expect(await user(app, 2)).toMatchObject({ name: 'robert' });
  });

  it('a write through a raw pg pool and through a stream (submittable) drops the cached entry', async () => {
    const app = await start();
    expect(await cachedAndChangedBehind(app, 1, 'hidden')).toBe('ada');
    await call(app, 'PUT', '/raw/users/1', { name: 'raw' });
    expect(await user(app, 1)).toMatchObject({ name: 'raw' });
    expect(await cachedAndChangedBehind(app, 1, 'hidden-again')).toBe('raw');
    await call(app, 'PUT', '/stream/users/1', { name: 'streamed' });
    expect(await user(app, 1)).toMatchObject({ name: 'streamed' });
  });

  it('cascades: deleting a user drops the cached posts of that user (ON DELETE CASCADE), not the entries of an unrelated table', async () => {
    const app = await start();
    await rowLevel(app); // the catalog is read: cascades are followed, not every table dropped
    await postsCachedAndChangedBehind(app);
    await tagCachedAndChangedBehind(app);
    await call(app, 'DELETE', '/users/1'); // tc_users only; the database deletes the posts
    expect(await call(app, 'GET', '/users/1/posts')).toEqual([]);
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' }); // still cached
  });

  it('a join over both tables follows writes to either', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/count')).toEqual({ n: 3 });
    await admin.query("INSERT INTO tc_posts (user_id, title) VALUES (2, 'behind')");
    expect(await call(app, 'GET', '/count')).toEqual({ n: 3 }); // cached
    await call(app, 'DELETE', '/users/1');
    expect(await call(app, 'GET', '/count')).toEqual({ n: 2 });
    await call(app, 'POST', '/posts', { userId: 2, title: 'b2' });
    expect(await call(app, 'GET', '/count')).toEqual({ n: 3 });
  });

  it('transactions: inside sees its own write, outside the cached value until commit, the new one after', async () => {
    const app = await start();
    // Row level: the commit must drop the rows written inside (before the catalog is read, it drops every table).
    await rowLevel(app);
    expect(await user(app, 2)).toMatchObject({ name: 'bob', api_key: 'key-2' });
    await admin.query("UPDATE tc_users SET api_key = 'behind' WHERE id = 2");
    expect(await user(app, 2)).toMatchObject({ name: 'bob', api_key: 'key-2' }); // cached
    expect(await call(app, 'POST', '/tx/open/2', { name: 'committed' })).toEqual({ inside: 'committed' });
    expect(await user(app, 2)).toMatchObject({ name: 'bob', api_key: 'key-2' }); // outside, before commit: still the cached entry
    await call(app, 'POST', '/tx/close', { commit: true });
    expect(await user(app, 2)).toMatchObject({ name: 'committed', api_key: 'behind' });
  });

  it('transactions: after a rollback the old value is served, never the rolled-back one read inside', async () => {
    const app = await start();
    expect(await user(app, 2)).toMatchObject({ name: 'bob', api_key: 'key-2' });
    await admin.query("UPDATE tc_users SET api_key = 'behind' WHERE id = 2");
    expect(await user(app, 2)).toMatchObject({ name: 'bob', api_key: 'key-2' }); // cached
    expect(await call(app, 'POST', '/tx/open/2', { name: 'rolled' })).toEqual({ inside: 'rolled' });
    await call(app, 'POST', '/tx/close', { commit: false });
    // The cached entry or a fresh read (a miss is all a rollback may cost), never the rolled-back name.
    expect(await user(app, 2)).toMatchObject({ name: 'bob' });
    expect(await user(app, 2)).toMatchObject({ name: 'bob' });
  });

  it('a function returning a stream is left untouched (and says so)', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/stream')).toHaveLength(3);
    expect(await call(app, 'GET', '/stream')).toHaveLength(3);
    expect(app.stderr()).toMatch(/PPERF_WRN_040[^\n]*streamUsers[^\n]*untouched/);
  });

  it('writes the process cannot see: with install-triggers and cache.listen, a psql write is seen within 100 ms', async () => {
    const { cacheTriggersCommand } = await import('../../src/commands/cache-triggers.js');
    expect(await cacheTriggersCommand(['install-triggers', '--url', databaseUrl, '--tables', 'tc_users'])).toBe(0);
    try {
      const app = await start({ PLANDEX_PERF_CACHE_LISTEN: 'true' });
      expect(await user(app, 1)).toMatchObject({ name: 'ada' });
      expect(await user(app, 1)).toMatchObject({ name: 'ada' });
      expect(await userQueries(app)).toBe(1); // cached
      await sleep(300); // the LISTEN connection opens after the app's first query
      await admin.query("UPDATE tc_users SET name = 'psql' WHERE id = 1");
      const t0 = performance.now();
      while ((await user(app, 1))?.name !== 'psql') {
        expect(performance.now() - t0).toBeLessThan(100);
        await sleep(5);
      }
    } finally {
      await cacheTriggersCommand(['uninstall-triggers', '--url', databaseUrl, '--tables', 'tc_users']);
    }
  });

  it('invalidatedBy from the config: a call of the named function makes the next read a miss', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/settings/theme')).toEqual({ value: 'light', originCalls: 1 });
    expect(await call(app, 'GET', '/settings/theme')).toEqual({ value: 'light', originCalls: 1 }); // cached
    await call(app, 'PUT', '/settings/theme', { value: 'dark' });
    expect(await call(app, 'GET', '/settings/theme')).toEqual({ value: 'dark', originCalls: 2 });
    expect(await call(app, 'GET', '/settings/theme')).toEqual({ value: 'dark', originCalls: 2 });
  });
});

describe('every kind of write drops the entries that read the written table, and only those', () => {
  it('TRUNCATE', async () => {
    const app = await start();
    await rowLevel(app);
    await postsCachedAndChangedBehind(app);
    await tagCachedAndChangedBehind(app);
    await sql(app, 'TRUNCATE tc_posts');
    expect(await call(app, 'GET', '/users/1/posts')).toEqual([]);
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  });

  it('TRUNCATE … CASCADE of the parent drops the cached rows of every referencing table, with or without ON DELETE', async () => {
    const app = await start();
    await rowLevel(app);
    await postsCachedAndChangedBehind(app);
    await tagCachedAndChangedBehind(app);
    const tokens = async () => ((await call(app, 'GET', '/users/2/sessions')) as { token: string }[]).map((t) => t.token);
    expect(await tokens()).toEqual(['s1']);
    await admin.query("INSERT INTO tc_sessions (user_id, token) VALUES (2, 'behind')");
    expect(await tokens()).toEqual(['s1']); // cached
    await sql(app, 'TRUNCATE tc_users CASCADE');
    expect(await call(app, 'GET', '/users/1/posts')).toEqual([]); // ON DELETE CASCADE
    expect(await tokens()).toEqual([]); // a plain foreign key
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  });

  it('MERGE', async () => {
    const app = await start();
    await rowLevel(app);
    expect(await cachedAndChangedBehind(app, 2, 'hidden-2')).toBe('bob');
    await tagCachedAndChangedBehind(app);
    const merge = `MERGE INTO tc_users u USING (VALUES (2, 'merged')) AS v (id, name) ON u.id = v.id
      WHEN MATCHED THEN UPDATE SET name = v.name WHEN NOT MATCHED THEN INSERT (id, name) VALUES (v.id, v.name)`;
    expect(await sql(app, merge)).toBe(1);
    expect(await user(app, 2)).toMatchObject({ name: 'merged' });
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  });

  it('a write inside a CTE (WITH x AS (UPDATE … RETURNING *) SELECT …)', async () => {
    const app = await start();
    await rowLevel(app);
    expect(await cachedAndChangedBehind(app, 2, 'hidden-2')).toBe('bob');
    await tagCachedAndChangedBehind(app);
    expect(await sql(app, 'WITH x AS (UPDATE tc_users SET name = $2 WHERE id = $1 RETURNING *) SELECT count(*) FROM x', [2, 'in-cte'])).toBe(1);
    expect(await user(app, 2)).toMatchObject({ name: 'in-cte' });
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  });

  it('COPY … FROM STDIN (pg-copy-streams)', async () => {
    const app = await start();
    await rowLevel(app);
    await postsCachedAndChangedBehind(app);
    await tagCachedAndChangedBehind(app);
    expect(await call(app, 'POST', '/copy', { table: 'tc_posts', columns: ['user_id', 'title'], rows: [[1, 'copied']] })).toBe(1);
    const titles = ((await call(app, 'GET', '/users/1/posts')) as { title: string }[]).map((p) => p.title);
    expect(titles).toEqual(['a1', 'a2', 'behind', 'copied']);
    expect(await call(app, 'GET', '/tags/1')).toEqual({ id: 1, name: 't1' });
  });
});

describe('row level: a write pinned to rows invalidates those rows only; what the parser cannot bound, the whole table', () => {
  it('a write by id drops that id’s entry and keeps another id’s entry cached', async () => {
    const app = await start();
    await rowLevel(app);
    const cached = await cachedAndChangedBehind(app, 2, 'hidden-2');
    expect(await user(app, 1)).toMatchObject({ name: 'ada' });
    await call(app, 'PUT', '/users/1', { name: 'ada-new' }); // knex: update … where "id" = $3
    expect(await user(app, 1)).toMatchObject({ name: 'ada-new' });
    await sql(app, 'DELETE FROM tc_users WHERE id = $1', [3]);
    expect(await user(app, 3)).toBeNull();
    await call(app, 'POST', '/users', { id: 4, name: 'dee' }); // knex: insert … values ($1, $2)
    expect(await user(app, 4)).toMatchObject({ name: 'dee' });
    expect((await user(app, 2))?.name).toBe(cached); // still the cached entry
  });

  for (const [what, text, values] of [
    ['an UPDATE that changes the key column', 'UPDATE tc_users SET id = $2 WHERE id = $1', [3, 30]],
    ['an OR predicate', 'UPDATE tc_users SET api_key = $3 WHERE id = $1 OR id = $2', [3, 30, 'k']],
    ['an INSERT … SELECT', "INSERT INTO tc_users (id, name) SELECT 40, 'from-select'", []],
  ] as [string, string, unknown[]][]) {
    it(`${what} invalidates the whole table`, async () => {
      const app = await start();
      await rowLevel(app);
      const cached = await cachedAndChangedBehind(app, 2, 'hidden-2');
      // The control: a pinned write on another row keeps user 2 cached.
      await sql(app, 'UPDATE tc_users SET api_key = $2 WHERE id = $1', [1, 'control']);
      expect((await user(app, 2))?.name).toBe(cached);
      expect(await sql(app, text, values)).toBe(1);
      expect(await user(app, 2)).toMatchObject({ name: 'hidden-2' });
    });
  }
});

describe('two processes: a write in one is seen by the other within 100 ms', () => {
  for (const kind of ['redis', 'postgres'] as const) {
    it(`${kind} L2 (${kind === 'redis' ? 'pub/sub' : 'LISTEN/NOTIFY'})`, async (ctx) => {
      if (kind === 'redis' && !(await redisUp())) return ctx.skip(`no Redis at ${REDIS_URL}`);
      const prefix = runPrefix(`tables-${kind}`);
      const env = { CACHE_L2: kind === 'redis' ? REDIS_URL : databaseUrl, CACHE_PREFIX: prefix };
      try {
        const [a, b] = await Promise.all([start(env), start(env)]);
        expect(await user(b, 1)).toMatchObject({ name: 'ada' });
        expect(await user(a, 1)).toMatchObject({ name: 'ada' });
        // Steady state first: both stores connected and subscribed (a loaded machine can take a while).
        await call(a, 'PUT', '/users/1', { name: 'warm' });
        const deadline = performance.now() + 10_000;
        while ((await user(b, 1))?.name !== 'warm' && performance.now() < deadline) await sleep(20);
        // Staleness of each write: from the moment the writer's write promise resolved (committed; the
        // writer stamps it, x-resolved-at, on the machine's clock) to the first response of the other
        // instance with the new value. The poll starts as soon as the writer answers, beside the writer's
        // own read-your-writes check.
        const staleness: number[] = [];
        for (const name of ['one', 'two', 'three', 'four', 'five']) {
          // The other instance holds the entry: a change behind both apps' backs is not seen by it.
          const held = await user(b, 1);
          await admin.query('UPDATE tc_users SET api_key = $1 WHERE id = 1', [`behind-${name}`]);
          expect(await user(b, 1)).toEqual(held);
          const { resolvedAt } = await timedCall(a, 'PUT', '/users/1', { name });
          const seenByOther = (async () => {
            // Correctness first: the other instance always converges, within 2 s even on a loaded machine.
            while ((await user(b, 1))?.name !== name) {
              expect(now() - resolvedAt).toBeLessThan(2_000);
              await sleep(1);
            }
            return now() - resolvedAt;
          })();
          // Read-your-writes in the writer. A stale value here was seen once under the whole suite's load
          // (docs/benchmarks.md, known flake): say what each instance logged, for whoever sees it next.
          const own = await user(a, 1);
          if (own?.name !== name) throw new Error(`writer read ${JSON.stringify(own)} right after writing ${name}\n--- writer's log:\n${a.stderr().slice(-3000)}\n--- other instance's log:\n${b.stderr().slice(-1500)}`);
          staleness.push(await seenByOther);
        }
        console.log(`[cache tables] ${kind}: the other instance served the new value ${staleness.map((t) => t.toFixed(1)).join(', ')} ms after each write committed`);
        // The target, for every write: the other instance stops serving the old value ≤ 100 ms after commit.
        expect(Math.max(...staleness)).toBeLessThanOrEqual(100);
      } finally {
        if (kind === 'redis') await cleanRedis(REDIS_URL, prefix);
        else await cleanPostgres(databaseUrl, 'pperf_cache', prefix).catch(() => {});
      }
    });
  }
});
