import { s, type Output } from '../../src/schema.js';

export const tunableOptions = [
  'max',
  'min',
  'idleTimeoutMillis',
  'connectionTimeoutMillis',
  'maxLifetimeSeconds',
  'keepAlive',
  'application_name',
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
] as const;

/**
 * Pool options are unset by default: an unset option is the app's own value, else pg's default, so a host
 * with no configuration gets exactly the pool it would have had bare. A named profile or the config opts in.
 * The one bound always added is `connectionTimeoutMillis` (30 s, HikariCP's `connectionTimeout`): it only
 * turns pg's wait-forever into an error, long after a burst would have been served.
 */
const fields = {
  max: s.integer({ min: 1, max: 1000 }).optional().describe("Pool size when the app sets none. Unset: pg's 10. Named profiles set it (HikariCP: about 2 × cores + 1; keep the sum over instances below `max_connections`)."),
  min: s.integer({ min: 0, max: 1000 }).optional().describe("Connections kept open when idle. Unset: pg's 0. Named profiles set it."),
  idleTimeoutMillis: s.integer({ min: 0 }).optional().describe("Close a connection idle this long; `0` never. Unset: pg's 10 s (which is also how long a script that never calls `pool.end()` lives). Named profiles set it."),
  connectionTimeoutMillis: s
    .integer({ min: 0 })
    .default(30_000)
    .describe("Fail an acquirer that waited this long, with a coded error; `0` waits forever, as pg does by default. 30 s (HikariCP's default) turns an endless hang into an error without failing a burst. Named profiles set 5 s."),
  maxLifetimeSeconds: s.integer({ min: 0 }).optional().describe("Rotate connections older than this (HikariCP `maxLifetime`); `0` never. Unset: pg's 0. Named profiles set 1800."),
  keepAlive: s.boolean().optional().describe("TCP keep-alive on connections, so dead peers are noticed. Unset: pg's `false`."),
  applicationName: s
    .string({ min: 1 })
    .optional()
    .describe("Name shown in `pg_stat_activity`. Default: the service name, sent as `fallback_application_name`, so any name the app gives (config, URL, `PGAPPNAME`) wins."),
  statementTimeoutMs: s.integer({ min: 0 }).optional().describe("`statement_timeout`: the server cancels longer statements; `0` off. Unset: none (the server's setting). Named profiles set 30 s."),
  idleInTransactionTimeoutMs: s
    .integer({ min: 0 })
    .optional()
    .describe("`idle_in_transaction_session_timeout`: the server ends sessions idle inside a transaction; `0` off. Unset: none. Named profiles set 60 s."),
  queryTimeoutMs: s
    .integer({ min: 0 })
    .optional()
    .describe('Client-side `query_timeout`. Unset: `statementTimeoutMs` + 1000 when that is set (the server cancels first and the client only catches a dead server), else none.'),
  adaptive: s
    .boolean()
    .default(true)
    .describe("Size each pool nobody sized (no `max` from the app or the config) from what it measures: it grows above pg's 10 while callers wait for a connection and query latency holds, steps back toward 10 when connections sit idle, and never exceeds `adaptiveMax` nor its share of the server's free connections (`adaptiveServerShare`). Never below pg's 10. `false`: pg's fixed 10."),
  adaptiveMax: s
    .integer({ min: 10, max: 1000 })
    .default(50)
    .describe("The most connections an adaptive pool nobody sized may open (the server's headroom caps it further). `10` keeps pg's fixed size."),
  adaptiveServerShare: s
    .number({ min: 0.05, max: 1 })
    .default(0.5)
    .describe("Share of the server's free connections (`max_connections` − reserved − in use, read through the pool when a grow needs it, then at most once a minute) an adaptive pool may take on top of what it holds. Half leaves room for other instances doing the same: the sum stays under `max_connections`."),
  adaptiveBelowMax: s
    .boolean()
    .default(false)
    .describe("Also adapt pools whose `max` the app or the config set: between `adaptiveMin` and that `max`, which stays the ceiling. Off: an explicit `max` is the pool's fixed size, as bare (issue 12)."),
  adaptiveMin: s.integer({ min: 1, max: 1000 }).default(2).describe('The floor of a pool that adapts below its explicit `max` (`adaptiveBelowMax`).'),
  adaptiveIntervalMs: s.integer({ min: 100, max: 60_000 }).default(500).describe('The adaptive size looks at each pool this often (one timer for all pools, off when no pool adapts).'),
  enforce: s.array(s.enum(tunableOptions), { max: 20 }).default([]).describe('Options where these values win over the app’s own (node-postgres names, e.g. `["max", "connectionTimeoutMillis"]`).'),
  leakDetectionMs: s.integer({ min: 0 }).default(10_000).describe('A client checked out with `pool.connect()` longer than this gets one warning with the stack of its checkout (HikariCP `leakDetectionThreshold`; report only, the client is left alone); `pool.query` checkouts are never reported; `0` off.'),
  slowQueryMs: s.integer({ min: 0 }).default(100).describe('Log queries slower than this (fingerprint, duration, route; never values); `0` off.'),
  nPlusOneThreshold: s
    .integer({ min: 0 })
    .default(5)
    .describe('Warn when one HTTP request runs the same query fingerprint this many times or more (once per route and fingerprint); `0` off.'),
  unpooledConnectsPerMinute: s
    .integer({ min: 0 })
    .default(60)
    .describe('Warn (once, with the call site) when connections outside any pool open faster than this — a new `pg.Client` per request; `0` off.'),
};

export const schema = s.object(fields);
export type PgPoolOptions = Output<typeof fields>;
