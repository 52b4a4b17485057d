/**
 * Every error and warning the preload can print has a stable code, listed here once.
 * Codes are never reused once retired; docs/errors.md documents each one (a test keeps both in step).
 */
export const codes = {
  PPERF_ERR_CONFIG_INVALID: {
    cause: 'A plugin section of the configuration (file, environment or code) failed validation.',
    fix: 'Read the listed field paths and fix them; a value that came from an environment variable is also named as set (`"env":"OTEL_TRACES_SAMPLER_ARG=abc"`). The affected plugin stays disabled until then and the others run; the plugins that keep the host safe run reduced instead: telemetry without the part concerned (a bad metrics setting turns metrics off, neither collected nor served; a bad traces setting turns traces off; other bad fields use their defaults), pg-pool with its bad fields at their defaults (its idle-error guard stays on). A bad preload variable (`PLANDEX_PERF_SETUP_TIMEOUT_MS`) falls back to its default.',
  },
  PPERF_ERR_CONFIG_TIMEOUT: {
    cause: 'The config module uses top-level `await` and did not finish loading within `PLANDEX_PERF_CONFIG_TIMEOUT_MS` (2000 ms by default).',
    fix: 'The preload runs with defaults and the host starts on time. Make the config module synchronous, or raise the limit if it is slow for a known reason.',
  },
  PPERF_ERR_NODE_UNSUPPORTED: {
    cause: 'Node is older than 22.15, which lacks `module.registerHooks` (synchronous module hooks for `require` and `import` alike).',
    fix: 'Every capability is off and the host runs exactly as bare. Run Node 22.15+ or 24 to instrument it.',
  },
  PPERF_ERR_CONFIG_LOAD: {
    cause: 'The configuration file could not be read or evaluated (syntax error, throwing module, bad JSON).',
    fix: 'Run `plandex-perf config` to see the error; the preload runs with defaults meanwhile.',
  },
  PPERF_ERR_PLUGIN_SETUP: {
    cause: "A plugin's setup threw.",
    fix: 'The plugin is disabled alone and the host keeps running. Report the stack printed with it.',
  },
  PPERF_ERR_PLUGIN_TIMEOUT: {
    cause: "A plugin's setup did not finish within the time limit (`PLANDEX_PERF_SETUP_TIMEOUT_MS`, 2000 ms by default).",
    fix: 'The plugin is disabled; if it was slow for a known reason (cold disk), raise the limit.',
  },
  PPERF_ERR_PLUGIN_CLOSE: {
    cause: "A plugin's close threw or timed out during shutdown.",
    fix: 'Shutdown goes on with the other plugins; report the stack printed with it.',
  },
  PPERF_ERR_PLUGIN_DEPENDENCY: {
    cause: 'A plugin depends on a plugin that is unknown, disabled or failed, or the dependencies form a cycle.',
    fix: 'Enable the dependency, or disable the dependent plugin too.',
  },
  PPERF_ERR_METRICS_PORT_IN_USE: {
    cause: 'The Prometheus endpoint could not listen: the host and port are taken (often a second process started with the same NODE_OPTIONS).',
    fix: 'Set `PLANDEX_PERF_TELEMETRY_METRICS_PORT` or `OTEL_EXPORTER_PROMETHEUS_PORT` to a free port, or 0 for any. Metrics are still collected.',
  },
  PPERF_ERR_METRICS_LISTEN: {
    cause: 'The Prometheus endpoint failed to listen for another reason (bad host, permission).',
    fix: 'Check `telemetry.metricsHost`; the host app is not affected.',
  },
  PPERF_ERR_PRELOAD: {
    cause: 'An unexpected error in the preload itself.',
    fix: 'The host runs uninstrumented. Report the stack printed with it; `PLANDEX_PERF_DISABLE=all` turns the preload off.',
  },
  PPERF_ERR_INSTRUMENTATION: {
    cause: 'An instrumentation callback threw while measuring a request or a query.',
    fix: 'The measurement is dropped and the host call goes on untouched; logged once per site. Report it.',
  },
  PPERF_ERR_HOOKS: {
    cause: 'The module hooks could not be registered, so the modules plugins declare (`pg`, `generic-pool`, Redis clients) cannot be instrumented.',
    fix: 'Use Node 22.15+ or 24; HTTP and runtime metrics still work.',
  },
  PPERF_ERR_PG_POOL_TIMEOUT: {
    cause: 'A pg pool is exhausted: an acquirer waited `connectionTimeoutMillis` without getting a connection. The error the app receives carries this code.',
    fix: 'Look for leaked clients (PPERF_WRN_009), slow queries (PPERF_WRN_010) or a pool too small for the load (`pg-pool.max`).',
  },
  PPERF_ERR_POOL_CREATE: {
    cause: "An object pool's factory `create` failed. Waiting acquirers receive this error (with the factory's as `cause`) instead of waiting out their timeout; creation retries with back-off.",
    fix: "Fix what the factory depends on; the pool recovers by itself once `create` succeeds.",
  },
  PPERF_ERR_POOL_TIMEOUT: {
    cause: 'An object-pool acquirer waited `acquireTimeoutMillis` without getting a resource (generic-pool TimeoutError, given this code).',
    fix: 'Look for leaked resources (PPERF_WRN_013) or raise `max`.',
  },
  PPERF_ERR_POOL_QUEUE_FULL: {
    cause: "An object pool's wait queue is full (`maxWaitingClients`): the acquirer fails at once instead of queueing without bound.",
    fix: 'Shed or slow the load upstream, or raise `maxWaitingClients` if the memory allows.',
  },
  PPERF_ERR_PROFILE_UNKNOWN: {
    cause: 'A `plandex-perf` command (`env`, `run`, `profile`, `bench`) was asked for a profile that does not exist (by `--profile`, `PLANDEX_PERF_PROFILE` or the config file\'s `profile`). The message lists the known profiles; nothing was done. (The preload itself does not stop for this: it warns with PPERF_WRN_005 and runs on `auto`.)',
    fix: 'Use one of the listed profiles, or define it under `profiles` in the config file. Exit status 2.',
  },
  PPERF_ERR_CLI_USAGE: {
    cause: 'A `plandex-perf` command got an option it does not take (often a misspelling: `--profle`), an option without its value, an argument it does not expect, or no command to run. The message names the argument; nothing was done.',
    fix: 'Run `plandex-perf <command> --help` for its options. Flags meant for the started program go after `--`: `plandex-perf run -- node --inspect server.js`. Exit status 2.',
  },
  PPERF_ERR_DB_REPORT_USAGE: {
    cause: '`plandex-perf db-report` was given no database (neither `--url` nor `DATABASE_URL`) or an argument it does not know.',
    fix: 'Set `DATABASE_URL` or pass `--url postgres://user@host:5432/db`; `plandex-perf db-report --help` lists the arguments. Exit status 2.',
  },
  PPERF_ERR_DB_REPORT_CONNECT: {
    cause: '`plandex-perf db-report` could not connect to PostgreSQL within 5 s: refused, unknown host, authentication, missing database or TLS. The message shows the URL with its password masked.',
    fix: 'Check the URL against the one the app uses (host, port, database, user, `sslmode`). Exit status 2.',
  },
  PPERF_ERR_DB_REPORT_PG_MISSING: {
    cause: '`plandex-perf db-report` needs the `pg` driver and found it neither in the current project nor next to this package.',
    fix: "Run it from the app's directory, or `npm install pg` there. Exit status 2.",
  },
  PPERF_ERR_DB_REPORT_QUERY: {
    cause: '`plandex-perf db-report` connected but a catalog query failed: a lock held past the 10 s statement timeout (a running migration), missing privileges, or a server older than PostgreSQL 11. The SQLSTATE is printed.',
    fix: 'Retry once the migration is done; run it as a role that can read the catalogs and statistics (the database owner, or one granted `pg_read_all_stats`). Exit status 2.',
  },
  PPERF_ERR_DIAG_CAPTURE_FAILED: {
    cause: 'A CPU profile or heap snapshot asked for at `/debug/cpu-profile` or `/debug/heap-snapshot` failed (the inspector is missing from this Node build, or V8 reported an error). The caller gets 500 with this code.',
    fix: 'The host is not affected. Check that Node has the inspector (`node -p process.features.inspector`); otherwise report the stack printed with it.',
  },
  PPERF_ERR_DIAG_SNAPSHOT_OFF: {
    cause: '`/debug/heap-snapshot` was asked for but heap snapshots are off: `diagnostics.heapSnapshot` is false, the default in a container or on a machine of 4 GiB or less (profiles `container-512m`, `laptop-4g`), because a snapshot stops the process for seconds and needs about 8 × the used heap in extra memory. The caller gets 403 with this code.',
    fix: 'If the memory is there, set `PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT=true` (or `diagnostics.heapSnapshot: true`) and restart; a snapshot that cannot fit is still refused (PPERF_ERR_DIAG_SNAPSHOT_NO_FIT). Otherwise use `plandex-perf profile heap` on a copy of the service, or `/debug/snapshot` for heap statistics.',
  },
  PPERF_ERR_DIAG_SNAPSHOT_NO_FIT: {
    cause: 'A heap snapshot was refused with 503 because it would not fit: the heap budget is `soft` or `shedding`, or about 8 × the used heap (plus the file, when the temporary directory is tmpfs) would pass the cgroup memory limit, the profile\'s memory or the memory the system has available, or the disk lacks room for the file. The `reason` gives the figures.',
    fix: 'Take it when the heap is smaller (after a restart, before the leak grows), give the process more memory, or set `diagnostics.heapSnapshotDir` to a disk with room. Nothing was captured and the host is not affected.',
  },
  PPERF_ERR_DIAG_USAGE: {
    cause: '`plandex-perf profile` was called without a tool (doctor, flame, bubbleprof, heap), without a node command after `--`, or with a bad option.',
    fix: 'Run for example `npx plandex-perf profile doctor -- node server.js`; `npx plandex-perf profile --help` lists the options.',
  },
  PPERF_ERR_DIAG_CLINIC_MISSING: {
    cause: '`plandex-perf profile` runs Clinic.js, which is optional and was found neither in the project, nor next to this package, nor on PATH.',
    fix: 'Install it with `npm install --save-dev clinic` (in the project) or `npm install -g clinic`, then run the same command again.',
  },
  PPERF_ERR_DIAG_CLINIC_FAILED: {
    cause: 'clinic could not be started, or exited with an error (often: the server exited by itself, or this clinic does not support the Node version).',
    fix: "Read clinic's output above this line; check the server alone with `npx plandex-perf run -- node server.js`.",
  },
  PPERF_ERR_DIAG_LOAD_FAILED: {
    cause: '`plandex-perf profile --load` could not drive load: the server did not answer within 60 s, the load run failed, or the reference scenario (`loadtests/`, only in a checkout of the repository) is not there.',
    fix: 'Pass `--url` where the server listens (and `--paths` for an app other than the reference app), or leave out `--load`, load the server yourself and press Ctrl-C.',
  },
  PPERF_ERR_BENCH_USAGE: {
    cause: '`plandex-perf bench` got an unknown option, a value out of range (a duration, rounds, a threshold), an unknown scenario or profile.',
    fix: 'Run `npx plandex-perf bench --help` for the options. Exit status 2.',
  },
  PPERF_ERR_BENCH_UNAVAILABLE: {
    cause: '`plandex-perf bench` needs the reference app, the load generator (autocannon) and the build, which are in a checkout of the repository with its dev dependencies, not in the published package.',
    fix: 'Clone the repository, then `npm ci && npm run build`, and run the command from there. Exit status 2.',
  },
  PPERF_ERR_BENCH_FAILED: {
    cause: 'The bench could not run (no database, no build) or a run went wrong: an app did not start or crashed, requests failed at the transport level or with unexpected statuses, the plugin\'s /metrics did not answer; or the results could not be written to `--out`. Figures from a failed run are written but marked untrustworthy.',
    fix: 'Read the problems listed at the end of the summary (with the app\'s stderr); rerun with `--verbose` to see the apps\' output. Exit status 1.',
  },
  PPERF_ERR_BENCH_RESULTS: {
    cause: 'A results file given to `--compare` or `--results` could not be read, is not JSON, or is not a plandex-perf bench results file.',
    fix: 'Pass a `.json` file written by `plandex-perf bench` (format `plandex-perf-bench/1`). Exit status 2.',
  },
  PPERF_ERR_BENCH_REGRESSION: {
    cause: '`plandex-perf bench --compare previous.json`: at least one KPI moved the wrong way by more than the threshold (plugin/bare ratios where both runs have them, else the plugin\'s value).',
    fix: 'Read the comparison table; rerun to rule out noise (more `--rounds`, a longer `--duration`), or raise `--threshold` for a noisy machine. Exit status 1.',
  },
  PPERF_ERR_CACHE_TIMEOUT: {
    cause: 'A cached function did not answer within its `hardTimeout` and no stale value was cached: the caller receives an error with this code (the call goes on and fills the cache when it ends).',
    fix: 'Raise `hardTimeout`, or set `staleIfError`/`grace` so an old value can be served; look at why the origin is slow.',
  },
  PPERF_ERR_CACHE_STORE: {
    cause: 'The cache L2 store (`cache.l2`) could not be set up: its module is missing or the URL is unusable.',
    fix: 'Check `cache.l2` and that `@keyv/redis` / `@keyv/postgres` are installed; the cache runs on L1 alone meanwhile.',
  },
  PPERF_ERR_CACHE_TRIGGERS: {
    cause: '`plandex-perf cache install-triggers` (or `uninstall-triggers`, `list-triggers`) could not run: a missing or bad option (`--url`, `--tables`), a connection failure, or the SQL failed (permissions: creating a trigger needs ownership of the table).',
    fix: 'Read the message; `plandex-perf cache --help` lists the options. The triggers are installed in one transaction: after a failure none of them is. Exit status 2.',
  },
  PPERF_WRN_001: {
    cause: 'An unsupported value in an `OTEL_*` variable (for example `OTEL_METRICS_EXPORTER=otlp`).',
    fix: 'Use a supported value; the listed fallback is used meanwhile.',
  },
  PPERF_WRN_002: {
    cause: 'A label would have grown past its bound (too many distinct routes, tables or pools); further values are folded into `_OTHER`.',
    fix: 'Declare route templates in `http.routes`; check for dynamic table names; for an attribute of `http.attributes`, raise `http.maxAttributeValues` or pick an attribute with fewer values.',
  },
  PPERF_WRN_003: {
    cause: '`PLANDEX_PERF_DISABLE` or the config names a plugin that does not exist.',
    fix: 'Check the spelling against `plandex-perf options`.',
  },
  PPERF_WRN_004: {
    cause: 'The preload was loaded in a worker thread or a second time; it acts once, on the main thread.',
    fix: 'Nothing to do; printed at debug level only.',
  },
  PPERF_WRN_005: {
    cause: 'The profile named by `PLANDEX_PERF_PROFILE` does not exist.',
    fix: 'Use one of the listed profiles; `auto` is used meanwhile.',
  },
  PPERF_WRN_006: {
    cause: "The V8 heap limit differs from the active profile's: heap flags only apply when Node starts, so the preload cannot set them.",
    fix: 'Start with the printed NODE_OPTIONS, or with `npx plandex-perf run --profile <name> -- node server.js`; `npx plandex-perf env` prints the line for Docker, systemd or PM2.',
  },
  PPERF_WRN_007: {
    cause: 'Heap, RSS or event-loop delay crossed the hard threshold of the heap budget: new requests are answered 503 with `Retry-After` until it eases.',
    fix: 'Look for a leak or a burst (heap snapshot: `heap-budget.heapSnapshotDir`); give the process more memory or lower the load. Liveness paths (`exemptPaths`) are never shed; readiness paths (`readinessPaths`) answer 503 "not ready" meanwhile, so a load balancer stops sending traffic.',
  },
  PPERF_WRN_008: {
    cause: "An idle pooled pg client failed (server restart, network cut). Without a listener that error would crash the host; the plugin's listener counts and logs it.",
    fix: 'Nothing to do if it is rare: the pool drops the client and opens a new one. Check the database if it repeats.',
  },
  PPERF_WRN_009: {
    cause: 'A pg client has been checked out (`pool.connect()`) longer than `pg-pool.leakDetectionMs` without `release()`.',
    fix: 'Release the client in a `finally` block at the printed call site, or prefer `pool.query` for single statements.',
  },
  PPERF_WRN_010: {
    cause: 'A query took longer than `pg-pool.slowQueryMs` (logged once per fingerprint per minute, without parameter values).',
    fix: 'Run `npx plandex-perf db-report` for missing indexes; EXPLAIN ANALYZE the fingerprint.',
  },
  PPERF_WRN_011: {
    cause: 'One HTTP request ran the same query fingerprint `pg-pool.nPlusOneThreshold` times or more: an N+1 pattern (warned once per route and fingerprint).',
    fix: 'Load the rows in one query (a JOIN, or `WHERE id = ANY($1)`) instead of one per parent row.',
  },
  PPERF_WRN_012: {
    cause: 'PostgreSQL connections are being opened outside any pool faster than `pg-pool.unpooledConnectsPerMinute`: usually a new `pg.Client` per request.',
    fix: 'Create one `pg.Pool` at start-up and use it for every request; see the printed call site.',
  },
  PPERF_WRN_013: {
    cause: 'An object-pool resource has been borrowed longer than `object-pool.leakDetectionMs` without `release()`.',
    fix: 'Release it in a `finally` block at the printed call site, or use `pool.use(fn)`.',
  },
  PPERF_WRN_014: {
    cause: 'The metrics server listens off loopback (e.g. `OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0`) and no diagnostics token is set, so `/debug/*` (CPU profile, heap snapshot, runtime snapshot) is not served: a heap snapshot holds every secret in memory.',
    fix: 'Set `PLANDEX_PERF_DIAGNOSTICS_TOKEN` (16+ characters) and call with `Authorization: Bearer <token>`, or bind the metrics server to 127.0.0.1; `PLANDEX_PERF_DISABLE=diagnostics` silences this.',
  },
  PPERF_WRN_020: {
    cause: 'The cache L2 circuit breaker opened: Redis or PostgreSQL failed or was slower than `cache.commandTimeoutMs` several times in a row (logged at most once a minute).',
    fix: 'Nothing breaks: L1 and the origin serve, and a probe every `breakerCooldownMs` closes it when L2 recovers. Check the L2 server if it repeats.',
  },
  PPERF_WRN_021: {
    cause: 'Retired (no longer printed): results holding class instances were kept in L1 only. They are now not cached at all (`PPERF_WRN_041`), or the function is left untouched (`PPERF_WRN_040`).',
    fix: 'Nothing: the code is kept so that it is never reused.',
  },
  PPERF_WRN_022: {
    cause: 'The cache invalidation bus (Redis pub/sub, or PostgreSQL LISTEN with the PostgreSQL L2) or the LISTEN connection for trigger notifications (`cache.listen`) reconnected; messages may have been missed, so L1 was flushed.',
    fix: 'Nothing to do if rare; L1 refills from L2. Frequent lines point at an unstable Redis connection.',
  },
  PPERF_WRN_023: {
    cause: 'A `cache.functions` entry could not be wrapped: its module was not found (paths resolve against the working directory), the export could not be wrapped, or module hooks are unavailable.',
    fix: 'Fix `module`/`export` in the config, or wrap the function in code with `cached()` from the API.',
  },
  PPERF_WRN_024: {
    cause: 'A call of a cached function could not be keyed (an argument is a function, a symbol, a cycle or nested over 16 levels, or the `key`/`tags` option threw); the call ran uncached (warned once per function). Also printed once when more than 10,000 functions are cached (cached() called per request).',
    fix: 'Give the function a `key` option that picks the identifying arguments, and call cached() once at module level.',
  },
  PPERF_WRN_025: {
    cause: 'The config module uses top-level `await` and the preload was loaded with `-r` (or `--require`), which cannot wait for it: the plugins start only once it settles, after the app has begun loading its modules.',
    fix: 'Make the config module synchronous (or a `.json` file), or start with `--import @plandex-perf/register`, which waits.',
  },
  PPERF_WRN_026: {
    cause: 'A module a plugin instruments is installed at a version outside the range the plugin declares (e.g. `pg` 9 for the `pg` plugin, `>=8.0.0 <9`); that plugin leaves that copy uninstrumented (once per plugin and copy). Each plugin is checked against its own range: another plugin hooking the same file still instruments the copy if its range covers it.',
    fix: 'Nothing breaks: the module runs as bare. Use a supported version, or report the version so the range can be extended once tested.',
  },
  PPERF_WRN_030: {
    cause: 'Requests to `/debug/*` failed the token check (missing or wrong `Authorization: Bearer` token), or came from an address backing off after `diagnostics.authFailures` failures (answered 429). The first failure of a minute is logged with its address, the rest in one summary line per minute; all are counted in `plandex_perf_diagnostics_auth_failures_total`.',
    fix: 'If it is your own tooling, give it the right token (`PLANDEX_PERF_DIAGNOSTICS_TOKEN`). Otherwise someone is guessing: keep the metrics port off the public network (bind it to 127.0.0.1 or firewall it) and rotate the token if it may have leaked.',
  },
  PPERF_WRN_031: {
    cause: '`heap-budget.heapSnapshotDir` is set, shedding started, and the heap snapshot was skipped because it would not fit: about 8 × the used heap would pass the cgroup limit, the profile\'s memory or the memory available, or the disk lacks room. Taking it would likely have turned shedding into an OOM kill.',
    fix: 'Give the process more memory, or take a snapshot earlier by hand (`/debug/heap-snapshot`) while the heap is still small.',
  },
  PPERF_WRN_040: {
    cause: 'A cached function is not a data loader: it returned a function, a class instance or a stream (anything with `pipe`/`on`), was called with a callback, or is a class or generator. It runs untouched from then on (its results are never frozen or stored); printed once per function.',
    fix: 'Nothing breaks. Remove it from `cache.functions` (Fastify plugins, factories, stream producers are not cacheable), or cache the function that returns the plain data.',
  },
  PPERF_WRN_041: {
    cause: 'A result of a cached function holds something that is not plain data (a class instance, a function or a symbol inside its objects): it was returned as is, not frozen and not cached (once per function).',
    fix: 'Return plain data (objects, arrays, Date, Map, Set, Buffer), e.g. `rows.map((r) => ({ ...r }))`, or stop caching that function.',
  },
  PPERF_WRN_042: {
    cause: 'The cache could not read foreign keys and views from the database catalog (a connection with the app\'s own settings failed, or the catalog query was refused). Without them a write cannot be followed to the tables it cascades to.',
    fix: 'Nothing is served stale: every write now invalidates every entry that read a table (fewer hits). Check that the app\'s database user can connect again and read `pg_constraint`, `pg_rewrite`, `pg_depend` and `pg_inherits`.',
  },
  PPERF_WRN_043: {
    cause: 'Functions are cached (`cache.functions`) but the pg plugin is not running (disabled, or pg is not used), so writes to the database cannot invalidate cached entries.',
    fix: 'Enable the pg plugin, or bound staleness otherwise: short `ttl`s, `tags` with `invalidateTags()`, or `invalidatedBy` for the functions that write.',
  },
  PPERF_WRN_060: {
    cause: '`OTEL_EXCLUDED_HTTP_URLS` is set. It is a proposal (opentelemetry-specification issue #3057), not part of the specification, and its siblings disagree on what it holds (Python: regular expressions searched in the full URL), so the http plugin does not read it.',
    fix: 'Set `PLANDEX_PERF_HTTP_EXCLUDE` (or `http.exclude` in the config file) to the paths to leave out, e.g. `/health,/ready`; unset the variable to silence this warning.',
  },
  PPERF_WRN_065: {
    cause: '`telemetry.buckets` names a metric that no histogram of this process had created a minute after start (a typo, a metric of a plugin that is off, or not a histogram), so those boundaries apply to nothing.',
    fix: 'Use the OpenTelemetry instrument name as the plugin docs list it (`http.server.request.duration`, not the Prometheus name `http_server_request_duration_bucket`), or remove the entry.',
  },
  PPERF_WRN_070: {
    cause: "An adaptive pg pool could not read the server's headroom (`max_connections`, reserved slots, connections in use from `pg_stat_activity`) through the pool: the query failed (permissions, a proxy such as PgBouncer that does not pass `current_setting`, the server down).",
    fix: 'The pool stays at the size it has (never below pg\'s 10) and retries a minute later. Grant the role access, or set `pg-pool.max` for a fixed size, or `pg-pool.adaptive` to `false`.',
  },
  PPERF_WRN_071: {
    cause: "The pg-pool copy in use lacks the internals the adaptive size relies on (`options.max` read by `_isFull()`, `_pulseQueue()`, `_pendingQueue`, as in pg-pool 3.x).",
    fix: "Its pools keep a fixed size (the app's, else pg's 10); nothing else changes. Report the pg and pg-pool versions.",
  },
  PPERF_WRN_072: {
    cause: 'The server refused a connection of an adaptive pool with "too many clients" (53300): other clients took the free connections since the pool last read them.',
    fix: 'The pool stops growing at what it holds and re-reads the server soon. Lower `pg-pool.adaptiveServerShare` or `adaptiveMax` when many instances share one server, or put PgBouncer in front.',
  },
} as const satisfies Record<string, { cause: string; fix: string }>;

export type Code = keyof typeof codes;

/** An error that carries one of the codes above, so callers and logs can match on it. */
export class PerfError extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PerfError';
    this.code = code;
  }
}
