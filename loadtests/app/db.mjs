/** The reference app's one pg pool. */
import pg from 'pg';

// Deliberately the bare default pool: sizing and timeouts are what the
// plugin's pool tuning is meant to set, so they must not be preset here.
// Also deliberately NO pool.on('error') listener: without one, an idle client
// losing its connection (e.g. the backend is terminated) crashes the process.
// That is the failure mode a later plugin guards against, so the app must
// keep exhibiting it.
export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
