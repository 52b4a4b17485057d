/**
 * The hot read of the reference app, in a module of its own: the one function a team would cache
 * (`cache.functions: [{ module: './loadtests/app/plans.mjs', export: 'getUserPlans', ttl: '30s' }]`),
 * wrapped by the preload at load time without a change here.
 */
import { pool } from './db.mjs';

// The document's GetUserPlansOptimized. Its COUNT(c.id)/COUNT(pf.id) over
// two LEFT JOINs multiply each other (contexts x files per plan), so they are
// COUNT(DISTINCT ...) here; the join shape, and therefore the cost without
// FK indexes, is unchanged.
const USER_PLANS_SQL = `
  SELECT p.id, p.name, p.status, p.created_at, p.updated_at, p.version,
         COUNT(DISTINCT c.id)::int AS context_count,
         COUNT(DISTINCT pf.id)::int AS file_count,
         COALESCE(latest_msg.created_at, p.created_at) AS last_activity
  FROM plans p
  LEFT JOIN contexts c ON c.plan_id = p.id AND c.active = true
  LEFT JOIN plan_files pf ON pf.plan_id = p.id AND pf.deleted_at IS NULL
  LEFT JOIN LATERAL (
    SELECT created_at FROM conversations
    WHERE plan_id = p.id
    ORDER BY created_at DESC
    LIMIT 1
  ) latest_msg ON true
  WHERE p.user_id = $1 AND p.archived_at IS NULL AND p.deleted_at IS NULL
  GROUP BY p.id, p.name, p.status, p.created_at, p.updated_at, p.version, latest_msg.created_at
  ORDER BY last_activity DESC
  LIMIT 20`;

/** A user's live plans with their counts, most recently active first (at most 20). */
export async function getUserPlans(userId) {
  const { rows } = await pool.query(USER_PLANS_SQL, [userId]);
  return rows;
}

/**
 * The write the cache bench mixes in: bumps the version of every plan of one user (each read is then
 * checked against the versions the writes acknowledged). Returns the new version, or null without plans.
 */
export async function touchUserPlans(userId) {
  const { rows } = await pool.query('UPDATE plans SET version = version + 1, updated_at = now() WHERE user_id = $1 RETURNING version', [userId]);
  return rows.length === 0 ? null : Math.max(...rows.map((r) => r.version));
}
