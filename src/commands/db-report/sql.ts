/**
 * The catalog queries behind `plandex-perf db-report`. All of them read pg_catalog and the statistics
 * views directly: information_schema's views are built for portability, not speed, and get slow on
 * databases with thousands of tables. Arrays come back as JSON so any node-postgres type setup reads them.
 */

/** What the report needs from a connection: node-postgres's `Client#query` fits. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * In every statement, so the slowest-statements list can leave the report's own queries out: pg_stat_statements
 * keeps comments inside a statement (constants become $n, comments stay).
 */
export const MARK = '/* plandex-perf db-report */';

/** System schemas hold nothing the application can fix. */
const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`;

export const SERVER_SQL = `
  SELECT ${MARK} current_setting('server_version') AS version,
         current_database() AS database,
         (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset`;

/**
 * Foreign keys as declared on the referencing table. Constraints with a parent (conparentid <> 0) are the
 * copies PostgreSQL makes on each partition; reporting them too would repeat the parent's finding.
 */
export const FOREIGN_KEYS_SQL = `
  SELECT ${MARK} c.conname AS constraint, c.conrelid::int8 AS table_oid, n.nspname AS schema, t.relname AS table,
         t.relkind = 'p' AS partitioned,
         to_json(c.conkey::int4[]) AS columns,
         (SELECT json_agg(a.attname ORDER BY k.ord)
            FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS column_names,
         rn.nspname AS ref_schema, r.relname AS ref_table,
         GREATEST(t.reltuples::int8, pg_stat_get_live_tuples(t.oid), 0) AS rows
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_class r ON r.oid = c.confrelid
    JOIN pg_namespace rn ON rn.oid = r.relnamespace
   WHERE c.contype = 'f' AND c.conparentid = 0 AND ${USER_SCHEMAS}`;

/**
 * Every index of a user table, with its key columns in order (INCLUDE columns cut off at indnkeyatts;
 * expressions read as attribute 0, which matches no column). Size and definition are only computed for
 * the unused-index candidates: pg_relation_size takes a lock per index, so the rest are skipped. The
 * constraint test is an IN, which PostgreSQL hashes once; a correlated EXISTS would scan pg_constraint
 * (no index on conindid) once per index.
 */
export const INDEXES_SQL = `
  SELECT ${MARK} i.indrelid::int8 AS table_oid, n.nspname AS schema, t.relname AS table, x.relname AS name,
         to_json((string_to_array(i.indkey::text, ' ')::int4[])[1:i.indnkeyatts]) AS key_columns,
         am.amname AS method,
         i.indisvalid AND i.indisready AS valid,
         i.indpred IS NOT NULL AS partial,
         i.indisunique OR i.indisprimary AS unique,
         i.indexrelid IN (SELECT c.conindid FROM pg_constraint c) AS backs_constraint,
         x.relkind = 'i' AND NOT x.relispartition AS droppable,
         pg_stat_get_numscans(i.indexrelid) AS scans,
         CASE WHEN pg_stat_get_numscans(i.indexrelid) = 0 AND NOT i.indisunique AND NOT i.indisprimary
              THEN pg_relation_size(i.indexrelid) END AS bytes,
         CASE WHEN pg_stat_get_numscans(i.indexrelid) = 0 AND NOT i.indisunique AND NOT i.indisprimary
              THEN pg_get_indexdef(i.indexrelid) END AS definition
    FROM pg_index i
    JOIN pg_class x ON x.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_am am ON am.oid = x.relam
   WHERE ${USER_SCHEMAS}`;

/**
 * Tables read mostly by sequential scans: $1 minimum rows (planned estimate or live count, whichever is
 * known: a restored or copied database has reltuples but no statistics yet), $2 minimum scans, $3 limit.
 */
export const SEQ_SCANS_SQL = `
  SELECT ${MARK} s.schemaname AS schema, s.relname AS table, s.seq_scan AS seq_scans, s.seq_tup_read AS seq_rows_read,
         COALESCE(s.idx_scan, 0) AS index_scans,
         GREATEST(s.n_live_tup, c.reltuples::int8, 0) AS rows,
         pg_relation_size(s.relid) AS bytes
    FROM pg_stat_user_tables s
    JOIN pg_class c ON c.oid = s.relid
   WHERE GREATEST(s.n_live_tup, c.reltuples::int8) >= $1
     AND s.seq_scan >= $2
     AND s.seq_scan > COALESCE(s.idx_scan, 0)
   ORDER BY s.seq_tup_read DESC, s.schemaname, s.relname
   LIMIT $3`;

export const STATEMENTS_EXTENSION_SQL = `
  SELECT ${MARK} n.nspname AS schema,
         (SELECT json_agg(a.attname)
            FROM pg_attribute a
           WHERE a.attrelid = to_regclass(quote_ident(n.nspname) || '.pg_stat_statements')
             AND a.attname IN ('total_exec_time', 'total_time')) AS time_columns
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_stat_statements'`;

/** Superuser-only settings are simply absent from pg_settings for other roles: no row means unknown. */
export const STATEMENTS_SETUP_SQL = `
  SELECT ${MARK} EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
         (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload`;

/**
 * The slowest statements by mean time, in this database only. PostgreSQL 13 renamed total_time and
 * mean_time to total_exec_time and mean_exec_time (extension 1.8); `schema` is quoted by the caller.
 */
export function slowStatementsSql(schema: string, modern: boolean): string {
  const [total, mean] = modern ? ['total_exec_time', 'mean_exec_time'] : ['total_time', 'mean_time'];
  return `
  SELECT ${MARK} query, calls, ${total} AS total_ms, ${mean} AS mean_ms, rows
    FROM ${schema}.pg_stat_statements
   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND calls >= $2 AND query NOT LIKE '%' || $3 || '%'
   ORDER BY ${mean} DESC
   LIMIT $1`;
}
