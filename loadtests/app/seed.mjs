#!/usr/bin/env node
/**
 * Seeds the reference app's database with deterministic, Plandex-shaped data.
 *
 *   node loadtests/app/seed.mjs [--scale 2]      (uses DATABASE_URL)
 *
 * Everything is generated server-side with set-based INSERT ... SELECT over
 * generate_series: one round trip per table instead of one per row, which is
 * what keeps scale 10 (~660k rows) in the seconds range.
 *
 * Shape per unit of scale: 1 000 users (ids 1..N, none soft-deleted, so load
 * generators can pick any id in range), 3-7 plans per user (~5), 1-5 contexts
 * (~3, ~75% active, a few hundred bytes each), 1-9 conversations (~5) and
 * 1-7 files (~4) per plan. ~10% of plans are archived and ~2% deleted so the
 * queries' soft-delete filters have something to filter.
 */
import { readFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const SCHEMA_URL = new URL('./schema.sql', import.meta.url);

/**
 * Child tables are generated from their parents (plans from users, contexts
 * etc. from plans), so ids never need to be known on the client. The per-row
 * counts come from `id % k` rather than random() so they are identical on
 * every run; the random() values are made repeatable by setseed().
 */
const STATEMENTS = {
  users: `
    INSERT INTO users (email, name, org_id, created_at)
    SELECT 'user' || g || '@example.com', 'User ' || g, 1 + g % 50,
           now() - random() * interval '730 days'
    FROM generate_series(1, $1::int) AS g
    ORDER BY g`,
  // created_at is computed in a subquery so updated_at can be derived from
  // it; PostgreSQL does not flatten subqueries with volatile target lists,
  // so random() is evaluated once per row.
  plans: `
    INSERT INTO plans (user_id, org_id, name, status, created_at, updated_at, archived_at, deleted_at)
    SELECT user_id, org_id, name, status, created_at,
           created_at + random() * (now() - created_at),
           CASE WHEN r < 0.10 THEN now() END,
           CASE WHEN r >= 0.10 AND r < 0.12 THEN now() END
    FROM (
      SELECT u.id AS user_id, u.org_id, 'plan ' || u.id || '-' || n AS name,
             (ARRAY['draft', 'building', 'finished', 'error'])[1 + n % 4] AS status,
             now() - random() * interval '365 days' AS created_at,
             random() AS r
      FROM users u, generate_series(1, 3 + (u.id % 5)::int) AS n
    ) s`,
  contexts: `
    INSERT INTO contexts (plan_id, name, content, active, created_at)
    SELECT p.id, 'context ' || n || '.md',
           repeat(md5(random()::text), 6 + n % 8),
           n % 4 <> 0,
           p.created_at + random() * (now() - p.created_at)
    FROM plans p, generate_series(1, 1 + (p.id % 5)::int) AS n`,
  conversations: `
    INSERT INTO conversations (plan_id, message, created_at)
    SELECT p.id, 'message ' || n || ': ' || md5(random()::text),
           p.created_at + random() * (now() - p.created_at)
    FROM plans p, generate_series(1, 1 + (p.id % 9)::int) AS n`,
  planFiles: `
    INSERT INTO plan_files (plan_id, path, content, created_at, deleted_at)
    SELECT p.id, 'src/' || left(md5(p.id || '/' || n), 8) || '.ts',
           repeat(md5(random()::text), 2 + n % 6),
           p.created_at,
           CASE WHEN random() < 0.05 THEN now() END
    FROM plans p, generate_series(1, 1 + (p.id % 7)::int) AS n`,
};

/**
 * Drops and recreates the app's tables, fills them, and ANALYZEs them.
 *
 * @param {string} databaseUrl  libpq-style connection string
 * @param {{ scale?: number }} [options]  1 = 1 000 users; fractions allowed
 * @returns {Promise<{ users: number, plans: number, contexts: number,
 *   conversations: number, planFiles: number, ms: number }>}
 */
export async function seed(databaseUrl, { scale = 1 } = {}) {
  if (!databaseUrl) throw new Error('seed: a database URL is required');
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`seed: invalid scale ${scale}`);
  const userCount = Math.max(1, Math.round(1000 * scale));
  const schema = await readFile(SCHEMA_URL, 'utf8');

  const started = performance.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  // A server that goes away mid-seed (a Ctrl-C reaches the demo's embedded postgres too) fails the
  // pending query, which the caller sees; without a listener the client's 'error' event would also
  // crash the process before the caller's own Ctrl-C handling ran.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('BEGIN');
    // Dropping (rather than TRUNCATE) also resets the identity sequences, so
    // user ids are 1..N again on every run.
    await client.query('DROP TABLE IF EXISTS plan_files, conversations, contexts, plans, users CASCADE');
    await client.query(schema);
    await client.query('SELECT setseed(0.42)');
    /** @type {Record<string, number>} */
    const counts = {};
    for (const [table, sql] of Object.entries(STATEMENTS)) {
      const result = await client.query(sql, table === 'users' ? [userCount] : []);
      counts[table] = result.rowCount ?? 0;
    }
    await client.query('COMMIT');
    // Fresh statistics, so plans are the ones a long-running database would
    // pick (seq scans because the FK indexes are missing, not because the
    // planner thinks the tables are empty).
    await client.query('ANALYZE users, plans, contexts, conversations, plan_files');
    return { ...counts, ms: Math.round(performance.now() - started) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } });
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('seed: DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
    process.exit(1);
  }
  try {
    const counts = await seed(databaseUrl, { scale: Number(values.scale) });
    console.log(JSON.stringify({ event: 'seeded', scale: Number(values.scale), ...counts }));
  } catch (err) {
    console.error('seed failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
