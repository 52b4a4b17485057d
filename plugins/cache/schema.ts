import { Field, s, type FieldMeta, type Issue, type Output } from '../../src/schema.js';
import { parseDuration } from './duration.js';

const MiB = 2 ** 20;
const meta = (kind: FieldMeta['kind']): FieldMeta => ({ kind, description: '', hasDefault: false, optional: false });

/** A duration: `"30s"`, `"250ms"`, `"5m"`, `"1h"`, or a number of ms; validated to milliseconds. */
function duration(limits: { min?: number } = {}): Field<number, number | string> {
  return new Field<number, number | string>(meta('string'), (v: unknown, path: (string | number)[], issues: Issue[]) => {
    const ms = parseDuration(v);
    if (ms === undefined) issues.push({ path, message: `expected a duration such as "30s", "250ms" or a number of ms (got ${JSON.stringify(v)})` });
    else if (limits.min !== undefined && ms < limits.min) issues.push({ path, message: `must be at least ${limits.min} ms (got ${ms})` });
    return ms ?? 0;
  });
}

type KeyFunction = (...args: never[]) => unknown;
type KeyOption = KeyFunction | (number | string)[];

/**
 * `key`: the argument positions or paths that form the key (`[1, 2]`, `['0.id']`: JSON-safe), or a function
 * of the arguments (a `.mjs`/`.js` config only).
 */
function keyField(): Field<KeyOption> {
  return new Field<KeyOption>(meta('array'), (v: unknown, path: (string | number)[], issues: Issue[]) => {
    if (typeof v === 'function') return v as KeyFunction;
    const isPath = (p: unknown) => (typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < 64) || (typeof p === 'string' && /^\d{1,2}(\.[^.]+)*$/.test(p));
    if (!Array.isArray(v) || v.length === 0 || v.length > 16 || !v.every(isPath)) {
      issues.push({ path, message: `expected argument positions or paths such as [1, 2] or ["0.id"], or a function (got ${JSON.stringify(v)})` });
    }
    return v as KeyOption;
  });
}

/** A function whose call invalidates the entry's function (its module resolved like `module`). */
const invalidator = s.object({
  module: s.string({ min: 1 }).describe('Path of the module, resolved against the working directory.'),
  export: s.string({ min: 1 }).describe('Name of the exported function.'),
});

export const STORES = ['none', 'redis', 'postgres'] as const;
export interface L2Option {
  store: (typeof STORES)[number];
  url: string | undefined;
}

/**
 * `l2`: `{ store, url }` as in the config file, or just a URL (`redis://…`, `postgres://…`) or `"none"`, so
 * `PLANDEX_PERF_CACHE_L2=redis://…` works from the environment. The parsed value prints its URL with the
 * password masked (diagnostics show options as JSON).
 */
function l2Field(): Field<L2Option, L2Option | string> {
  return new Field<L2Option, L2Option | string>(meta('record'), (v: unknown, path: (string | number)[], issues: Issue[]) => {
    let store: unknown;
    let url: unknown;
    if (typeof v === 'string') {
      store = v === 'none' ? 'none' : /^rediss?:/.test(v) ? 'redis' : /^postgres(ql)?:/.test(v) ? 'postgres' : undefined;
      url = v === 'none' ? undefined : v;
      if (store === undefined) issues.push({ path, message: `expected "none" or a redis:// or postgres:// URL (got ${JSON.stringify(v)})` });
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      ({ store, url } = v as Record<string, unknown>);
      for (const key of Object.keys(v)) if (key !== 'store' && key !== 'url') issues.push({ path: [...path, key], message: `unknown option "${key}" (known: store, url)` });
      if (!STORES.includes(store as L2Option['store'])) issues.push({ path: [...path, 'store'], message: `expected one of ${STORES.map((x) => `"${x}"`).join(', ')} (got ${JSON.stringify(store)})` });
      if (url !== undefined && (typeof url !== 'string' || !URL.canParse(url))) issues.push({ path: [...path, 'url'], message: 'expected a URL' });
      if (store !== 'none' && url === undefined) issues.push({ path: [...path, 'url'], message: `required for store "${String(store)}"` });
    } else {
      issues.push({ path, message: `expected { store, url } or a URL (got ${JSON.stringify(v)})` });
    }
    const out = { store: (store ?? 'none') as L2Option['store'], url: typeof url === 'string' ? url : undefined };
    Object.defineProperty(out, 'toJSON', { value: () => ({ store: out.store, url: out.url?.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@') }) });
    return out;
  });
}

/** One function to wrap when its module loads, without code changes. */
const functionEntry = s.object({
  module: s.string({ min: 1 }).describe('Path of the module, resolved against the working directory (e.g. `./src/plans.js`).'),
  export: s.string({ min: 1 }).describe('Name of the exported function (`default` for a default export).'),
  name: s.string({ min: 1 }).optional().describe('Identity in keys. Default: `<module>#<export>`.'),
  version: s.string({ min: 1 }).optional().describe('Part of every key; change it when the result’s shape changes.'),
  ttl: duration({ min: 1 }).optional().describe('Freshness. Default: `cache.ttl`.'),
  grace: duration().optional(),
  staleIfError: duration().optional(),
  softTimeout: duration().optional(),
  hardTimeout: duration().optional(),
  negativeTtl: duration().optional(),
  tags: s.array(s.string({ min: 1 }), { max: 32 }).optional(),
  key: keyField().optional().describe('The arguments that form the key: positions or paths (`[1, 2]`, `["0.id"]`), or a function of the arguments (`.mjs`/`.js` config). Default: every plain-data argument; connection handles and contexts are left out.'),
  invalidatedBy: s.list(invalidator, { max: 32 }).optional().describe('Functions (`{ module, export }`) whose every call drops all of this function’s entries, on every instance, when it returns: for origins that are not PostgreSQL.'),
  l2: s.boolean().optional().describe('`false` keeps this function in L1 only.'),
});

const fields = {
  l1Bytes: s.integer({ min: 0 }).default(64 * MiB).describe('Budget of the in-process cache, bytes (estimated sizes). Halved while the heap budget is `soft`, quartered while `shedding`. `0` = no L1. Default from the profile.'),
  l1MaxEntryBytes: s.integer({ min: 0 }).default(0).describe('Larger results are not kept in L1. `0` = an eighth of `l1Bytes`.'),
  l1MaxTtl: duration().default(10_000).describe('With a shared L2, L1 serves an entry at most this long before checking L2 again (in the background), so a missed invalidation message costs at most this. `0` = no cap.'),
  l2: l2Field().default({ store: 'none', url: undefined }).describe('Shared level: `{ store: "redis" | "postgres" | "none", url }`, or a URL. Redis also carries leases and the invalidation bus.'),
  ttl: duration({ min: 1 }).default(60_000).describe('Default freshness of an entry.'),
  grace: duration().default(0).describe('Default stale-while-revalidate window after the TTL: the old value is served at once while one refresh runs. `0` = off.'),
  staleIfError: duration().default(0).describe('Default window after the TTL in which the old value is served if the origin throws or passes `softTimeout`. `0` = off.'),
  softTimeout: duration().default(0).describe('With a stale value at hand, serve it when the origin takes longer than this (the origin still refills the cache). `0` = off.'),
  hardTimeout: duration().default(0).describe('Stop waiting for the origin after this: stale value if any, else error `PPERF_ERR_CACHE_TIMEOUT`. `0` = wait as long as the origin takes.'),
  negativeTtl: duration().default(0).describe('How long empty results (`null`, `undefined`, `[]`) are cached. `0` = not cached.'),
  jitter: s.number({ min: 0, max: 0.5 }).default(0.1).describe('Up to this fraction of each TTL is taken off at random, so entries written together do not expire together.'),
  keyPrefix: s.string({ min: 1 }).default('pperf').describe('First part of every L2 key and of the bus channel.'),
  commandTimeoutMs: s.integer({ min: 1, max: 10_000 }).default(50).describe('Each L2 operation is abandoned after this (then it counts as a failure); the caller never waits longer.'),
  breakerThreshold: s.integer({ min: 1, max: 1000 }).default(5).describe('Consecutive L2 failures that open the circuit breaker (L2 is then skipped).'),
  breakerCooldownMs: s.integer({ min: 100, max: 600_000 }).default(1000).describe('How long the breaker stays open before one probe is let through.'),
  leaseMs: s.integer({ min: 0, max: 60_000 }).default(2000).describe('Redis: one instance computes a missing key under a lease this long while the others wait for it in L2. `0` = no lease.'),
  leaseWaitMs: s.integer({ min: 0, max: 10_000 }).default(500).describe('How long an instance without the lease polls L2 before computing anyway.'),
  compressAboveBytes: s.integer({ min: 0 }).default(1024).describe('L2 values larger than this are deflated. `0` = never.'),
  maxInFlight: s.integer({ min: 1, max: 1_000_000 }).default(10_000).describe('Keys loading at once that are tracked for single flight; past it, calls run uncoalesced.'),
  bus: s.boolean().default(true).describe('Send and receive invalidations across instances: Redis pub/sub, or LISTEN/NOTIFY with the PostgreSQL L2.'),
  tables: s.boolean().default(true).describe('Follow the database (needs the pg plugin): each entry records the tables its queries read; a write through any `pg` client in the process drops the entries that read the written tables (and what cascades from them) before the write returns, and the other instances’ through the bus. `false`: only TTLs, tags and `invalidatedBy` end entries.'),
  listen: s.boolean().default(false).describe('LISTEN for writes this process cannot see, sent by the triggers `plandex-perf cache install-triggers` installs; on the app’s own database (the connection settings of its first pg client) unless `listenUrl` is set.'),
  listenUrl: s.string({ url: true }).optional().describe('Database to LISTEN on for trigger notifications. Default: the app’s own.'),
  listenChannel: s.string({ min: 1 }).default('pperf_table_writes').describe('Channel of the trigger notifications (`install-triggers --channel`).'),
  functions: s.list(functionEntry, { max: 1000 }).default([]).describe('Functions to wrap when their module loads: `{ module, export, ttl, tags, … }` (same options as `cached()`).'),
};

export const schema = s.object(fields);
export type CacheOptions = Output<typeof fields>;
export type FunctionEntry = CacheOptions['functions'][number];
