-- Runs once, when the data directory is created, in the POSTGRES_DB database.
-- pg_stat_statements is preloaded by the server's command line (shared_preload_libraries); the
-- extension makes its view queryable, which `plandex-perf db-report` reads.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
