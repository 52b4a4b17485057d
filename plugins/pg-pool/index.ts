import { LRUCache } from 'lru-cache';
import { envOverrides } from '../../src/config.js';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import type { Profile } from '../../src/profiles.js';
import { requestScope } from '../../src/request-scope.js';
import type { PgInstrumentation } from '../pg/index.js';
import { schema } from './schema.js';
import { describeApplied, tunePoolConfig, type Origin, type PoolConfig } from './tune.js';
import { fingerprint } from './fingerprint.js';
import { QueryCounts } from './query-counts.js';
import { PoolWatch, kState, kWaitBound, type PoolState, type WatchedPool } from './watch.js';
import { KnexPools } from './knex.js';
import { AdaptivePools } from './adaptive.js';
import * as sc from './semconv.js';
import { poolProfileDefaults } from './profile.js';

type PoolClass = new (config?: PoolConfig, ...rest: unknown[]) => WatchedPool;
interface PgExports {
  Pool?: PoolClass;
  Client?: { prototype: { connect: (...args: unknown[]) => unknown } };
}

const kTuned = Symbol.for('plandex-perf.pg-pool.tuned');
const kCounts = Symbol('plandex-perf.pg-pool.counts');

/** The pool values a profile carries; `auto` carries none, so they are all opt-in. */
function profilePool(profile: Profile): Record<string, number> {
  return poolProfileDefaults(profile);
}

/**
 * `pg.Pool` is replaced by a subclass that cannot crash the host on an idle client's error and reports
 * what the semantic conventions ask for, per pool. With no configuration it changes no pool semantics
 * (the app's values, else pg's; waiting for a connection is bounded at 30 s instead of forever); a named
 * profile or the config opts in to tuning (explicit app values still win unless enforced).
 * Also: leak detection, the slow-query log, N+1 detection and per-request `pg.Client` detection.
 */
const plugin = definePlugin({
  name: 'pg-pool',
  description: 'Keeps every pg.Pool alive through idle-client errors and tunes it only when a profile or the config asks (except the size of a pool nobody sized, which adapts above pg’s 10 while callers wait); pool metrics per pool; leak, slow-query, N+1 and client-per-request detection.',
  dependsOn: ['telemetry', 'pg'],
  modules: [{ name: 'pg', file: 'lib/index.js', versions: '>=8.0.0 <9' }],
  schema,
  profileDefaults: profilePool,
  // It keeps the host alive through idle-client errors: a bad option falls back to its default instead of switching that off.
  whenInvalid: () => ({ options: {}, effect: 'the invalid fields use their defaults (the idle-error guard stays on)' }),
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const pg = ctx.need<PgInstrumentation>('pg');
    const serviceName = telemetry.serviceName;
    // knex keeps its own pool of pg.Clients: reported by the pg plugin beside the pg.Pools, as knex's.
    const knexPools = new KnexPools((pool, foreign) => void pg.trackPool(pool, foreign));
    const watch = new PoolWatch(telemetry.meter, options, ctx.log, (pool) => pg.poolAttributes(pool), knexPools);
    // Adaptive pool size (adaptive.ts): adopts each pool below; the watch feeds it each caller's wait and release.
    const adaptive = new AdaptivePools(telemetry.meter, options, ctx.log, (pool) => pg.poolName(pool));
    // Checkouts are heard through the pg plugin's one wrap of Pool.prototype.connect.
    pg.watchCheckouts(watch);
    let active = true;
    // Where each option's value came from, for the one-time pool log (precedence as in src/config.ts).
    const fromProfile: Record<string, unknown> = profilePool(ctx.profile);
    const fromEnv = envOverrides(plugin as never);
    const originOf = (option: keyof typeof options): Origin => {
      if (fromEnv[option] !== undefined) return 'env';
      if (fromProfile[option] !== undefined && fromProfile[option] === options[option]) return `profile ${ctx.profile.name}`;
      if (option === 'connectionTimeoutMillis' && options[option] === 30_000) return 'plandex-perf default';
      return 'config';
    };

    const restores: (() => void)[] = [];
    ctx.onModuleLoad('pg', (exports) => {
      // Slow queries name their route and N+1 counts per request: HTTP requests get a scope only once the
      // host has pg to run queries with (a host without pg pays nothing for it).
      if (active && (options.nPlusOneThreshold > 0 || options.slowQueryMs > 0)) requestScope.enable();
      const mod = exports as PgExports;
      const Base = mod.Pool;
      if (!Base || (Base as unknown as Record<symbol, unknown>)[kTuned]) return;
      class Pool extends Base {
        /** The connection wait bound the options set (not the app's own), applied only to connects that can wait. */
        private [kWaitBound]: number | undefined;
        /** The watch's state for this pool (watch.ts), undefined while the plugin is off. */
        private [kState]: PoolState | undefined;

        constructor(config?: PoolConfig, ...rest: unknown[]) {
          const tuned = active ? tunePoolConfig(config ?? {}, options, serviceName, originOf) : undefined;
          const bound = tuned?.applied.connectionTimeoutMillis;
          const lazyBound = bound !== undefined && bound.from !== 'app' && typeof bound.value === 'number' && bound.value > 0 ? bound.value : undefined;
          if (lazyBound !== undefined) delete tuned!.config.connectionTimeoutMillis; // the pool's options stay the app's own
          super(tuned?.config ?? config, ...rest);
          this[kWaitBound] = lazyBound;
          this[kState] = undefined; // every pool of the class gets the field, adopted or not: one shape
          if (!tuned) return;
          try {
            ctx.log.info(`pg pool "${pg.poolName(this)}": ${describeApplied(tuned.applied)}`, { profile: ctx.profile.name });
            watch.adopt(this, adaptive.adopt(this, tuned.applied.max)); // with the adaptive size's hooks, if it adapts
          } catch (error) {
            ctx.log.once('pg-pool:adopt', 'error', 'PPERF_ERR_INSTRUMENTATION', 'watching a pg pool failed; it runs untouched', { error });
          }
        }
        /**
         * pg-pool arms a timer (a closure, a pending item and a Timeout) for every connect when a connection
         * timeout is set, even one an idle client answers on the next tick: about 700 bytes and a timer-list
         * insert per query. The options' bound is put on the pool's options only for the connects that can
         * wait (no idle client left for them) or open a client, which is where pg-pool reads it; after the
         * first such connect the options keep the key, with bare's value (`undefined`).
         */
        // Both overrides pass `arguments` through (no rest array and spread per query; pool.query runs both).
        override connect(): unknown {
          const bound = this[kWaitBound];
          // biome-ignore lint/complexity/noArguments: see above
          if (bound === undefined || (this.idleCount ?? 0) > (this.waitingCount ?? 0)) return super.connect.apply(this, arguments as never);
          const own = this.options as { connectionTimeoutMillis?: number };
          own.connectionTimeoutMillis = bound;
          try {
            // biome-ignore lint/complexity/noArguments: see above
            return super.connect.apply(this, arguments as never);
          } finally {
            // Back to bare's value, `undefined`, not deleted: adding and deleting the key per waiting connect
            // flipped the options' hidden class, and pg-pool's every read of its options missed its cache.
            own.connectionTimeoutMillis = undefined;
          }
        }

        override query(): unknown {
          // pool.query borrows through connect synchronously: its checkout is marked internal (never a leak).
          const state = this[kState];
          // biome-ignore lint/complexity/noArguments: see above
          if (state === undefined) return super.query.apply(this, arguments as never);
          state.internal = true;
          try {
            // biome-ignore lint/complexity/noArguments: see above
            return super.query.apply(this, arguments as never);
          } finally {
            state.internal = false;
          }
        }
      }
      Object.defineProperty(Pool, 'name', { value: Base.name });
      Object.defineProperty(Pool, kTuned, { value: true });
      // A class is swapped, not wrapped (ctx.patch wraps functions): put back by hand when the plugin closes.
      mod.Pool = Pool;
      restores.push(() => {
        if (mod.Pool === Pool) mod.Pool = Base;
      });
      if (mod.Client) watch.watchUnpooled(mod.Client.prototype, ctx.patch);
    });

    // Slow queries and N+1, from the pg plugin's query events.
    const fingerprints = new LRUCache<string, string>({ max: 2000 });
    const fingerprintOf = (text: string): string => {
      let fp = fingerprints.get(text);
      if (fp === undefined) fingerprints.set(text, (fp = fingerprint(text)));
      return fp;
    };
    const slowLogged = new LRUCache<string, true>({ max: 1000, ttl: 60_000 });
    const nPlusOneWarned = new LRUCache<string, true>({ max: 1000 });
    const slow = telemetry.meter.createCounter(sc.METRIC_PG_SLOW_QUERIES, { description: `Queries slower than ${options.slowQueryMs} ms.`, unit: '{query}' });
    const nPlusOne = telemetry.meter.createCounter(sc.METRIC_PG_N_PLUS_ONE, { description: 'Requests that ran one query fingerprint N or more times.', unit: '{request}' });

    const checkRequest = (counts: QueryCounts, route: string | undefined): void => {
      // Most requests ran fewer queries than the threshold: nothing to look at, nothing fingerprinted.
      if (counts.total < options.nPlusOneThreshold) return;
      for (const [fp, count] of counts.byFingerprint(fingerprintOf)) {
        if (count < options.nPlusOneThreshold) continue;
        nPlusOne.add(1, route === undefined ? {} : { [sc.ATTR_HTTP_ROUTE]: route });
        const key = `${route ?? ''}\u0000${fp}`;
        if (nPlusOneWarned.has(key)) continue;
        nPlusOneWarned.set(key, true);
        ctx.log.warn('PPERF_WRN_011', `N+1 queries: one request ran the same query ${count} times`, { route: route ?? '(no route)', fingerprint: fp, count });
      }
    };

    pg.onQuery((event) => {
      if (!active || event.text === undefined) return;
      if (options.slowQueryMs > 0 && event.durationMs >= options.slowQueryMs) {
        const fp = fingerprintOf(event.text);
        slow.add(1, event.operation ? { [sc.ATTR_DB_OPERATION_NAME]: event.operation } : {});
        if (!slowLogged.has(fp)) {
          slowLogged.set(fp, true);
          ctx.log.warn('PPERF_WRN_010', `slow query: ${Math.round(event.durationMs)} ms`, { fingerprint: fp, durationMs: Math.round(event.durationMs), route: event.scope?.route() ?? null });
        }
      }
      if (options.nPlusOneThreshold > 0) {
        const scope = event.scope;
        if (!scope) return;
        let counts = scope.get(kCounts) as QueryCounts | undefined;
        if (!counts) {
          counts = new QueryCounts();
          scope.set(kCounts, counts);
          const own = counts;
          scope.onFinish((route) => checkRequest(own, route));
        }
        counts.add(event.text); // by text: fingerprinted only at the end of a request that ran enough queries
      }
    });

    return () => {
      active = false;
      pg.watchCheckouts(undefined);
      for (const restore of restores) restore();
      watch.close();
      adaptive.close();
    };
  },
});

export default plugin;
