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

const fields = {
  max: s.integer({ min: 1, max: 1000 }).default(10).describe('Pool size when the app sets none (HikariCP: about 2 × cores + 1; keep the sum over instances below `max_connections`). Default from the profile.'),
  min: s.integer({ min: 0, max: 1000 }).default(0).describe('Connections kept open when idle. Default from the profile.'),
  idleTimeoutMillis: s.integer({ min: 0 }).default(30_000).describe('Close a connection idle this long; `0` never. Default from the profile.'),
  connectionTimeoutMillis: s
    .integer({ min: 1 })
    .default(5_000)
    .describe('Fail an acquirer that waited this long, with a coded error. Always set: node-postgres waits forever by default. Default from the profile.'),
  maxLifetimeSeconds: s.integer({ min: 0 }).default(1800).describe('Rotate connections older than this (HikariCP `maxLifetime`); `0` never.'),
  keepAlive: s.boolean().default(true).describe('TCP keep-alive on connections, so dead peers are noticed.'),
  applicationName: s.string({ min: 1 }).optional().describe('`application_name` shown in `pg_stat_activity`. Default: the service name.'),
  statementTimeoutMs: s.integer({ min: 0 }).default(30_000).describe('`statement_timeout`: the server cancels longer statements; `0` off. Default from the profile.'),
  idleInTransactionTimeoutMs: s.integer({ min: 0 }).default(60_000).describe('`idle_in_transaction_session_timeout`: the server ends sessions idle inside a transaction; `0` off.'),
  queryTimeoutMs: s
    .integer({ min: 0 })
    .optional()
    .describe('Client-side `query_timeout`. Default: `statementTimeoutMs` + 1000, so the server cancels first and the client only catches a dead server.'),
  enforce: s.array(s.enum(tunableOptions), { max: 20 }).default([]).describe('Options where these values win over the app’s own (node-postgres names, e.g. `["max", "connectionTimeoutMillis"]`).'),
  leakDetectionMs: s.integer({ min: 0 }).default(10_000).describe('A client checked out longer than this gets one warning with the stack of its checkout (HikariCP `leakDetectionThreshold`); `0` off.'),
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
