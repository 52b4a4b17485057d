import { definePlugin, type Close, type PluginContext, type Telemetry } from '../../src/plugin.js';
import { schema, type CacheOptions } from './schema.js';
import { Engine } from './engine.js';
import { engineOptions } from './engine-options.js';
import { registerMetrics } from './metrics.js';
import { followHeapBudget } from './heap-pressure.js';
import { wrapConfigured } from './wrap-config.js';
import { createPostgresStore, createRedisStore } from './stores.js';
import { followTables } from './follow-tables.js';
import { API_KEY } from './public.js';
import { ERR_STORE } from './codes.js';
import type { CachePlugin } from './types.js';
import { cacheProfileDefaults } from './profile.js';
import type { HeapBudget } from '../heap-budget/index.js';

export type { CacheApi, CachedOptions, CachePlugin, CacheSnapshot } from './types.js';

/**
 * A two-level cache for hot functions: L1 in process (lru-cache, bounded in bytes, frozen values), L2 on
 * Redis or PostgreSQL through Keyv, with single flight, leases, stale serving, invalidation by key, tag and
 * table across instances, and an L2 that can fail or hang without the app noticing. Functions are wrapped
 * from the config when their module loads, or with `cached()` from the API. With the pg plugin it follows
 * the database: a write through any pg client drops the entries that read the written tables.
 */
export default definePlugin({
  name: 'cache',
  description: 'Two-level cache for hot functions: L1 in memory, L2 on Redis or PostgreSQL; invalidated by writes to the tables it read; single flight, stale serving.',
  dependsOn: ['telemetry'],
  // heap-budget shrinks L1 under pressure; pg reports query starts, which is how entries learn their tables.
  optionalDependsOn: ['heap-budget', 'pg'],
  // pg-pool's callback queue loses the caller's async context; pool-context.ts binds it (table tracking).
  modules: [{ name: 'pg', file: 'lib/index.js', versions: '>=8.0.0 <9' }],
  schema,
  profileDefaults: cacheProfileDefaults,
  setup(ctx, options) {
    // The engine, the wrapping of configured functions and table tracking are in place synchronously,
    // before the app loads its modules (under `-r`, nothing waits for this setup); an L2 store joins when
    // it has connected (its first connect is the only wait).
    const { engine, close } = start(ctx, options);
    const { store: kind, url } = options.l2;
    if (kind === 'none' || url === undefined) return close;
    const storeOptions = {
      url,
      connectTimeoutMs: 1000,
      table: 'pperf_cache',
      onError: (error: unknown) => ctx.log.debug('cache: L2 connection error', { error: String(error) }),
    };
    let closed = false;
    const pending = (kind === 'redis' ? createRedisStore(storeOptions) : createPostgresStore(storeOptions)).then(
      (store) => {
        if (closed) return void store.close().catch(() => {});
        engine.attachStore(store);
        ctx.log.debug(`cache: L2 ${kind} attached`);
      },
      (error: unknown) => ctx.log.error(ERR_STORE, `cache: the ${kind} store could not be set up; caching in L1 only`, { error }),
    );
    return pending.then(() => async () => {
      closed = true;
      await close();
    });
  },
});

/** The cache itself, once its L2 (if any) is known. */
function start(ctx: PluginContext, options: CacheOptions): { engine: Engine; close: Close } {
  const telemetry = ctx.need<Telemetry>('telemetry');
  const tables = { inTransaction: undefined as ((client: object) => boolean) | undefined };
  const engine = new Engine(engineOptions(options, { store: undefined, log: ctx.log, inTransaction: (client) => tables.inTransaction?.(client) ?? false }));
  registerMetrics(telemetry.meter, engine);
  const unfollowHeap = followHeapBudget(ctx.use<HeapBudget>('heap-budget'), engine.l1, ctx.log);
  const following = followTables(ctx, engine, options, tables);
  wrapConfigured(ctx, engine, options.functions);

  const api: CachePlugin = {
    cached: (fn, cachedOptions) => (following.follow(), engine.cached(fn, cachedOptions)),
    invalidate: (fnOrName, ...args) => engine.invalidate(fnOrName, ...args),
    invalidateTags: (tags) => engine.invalidateTags(tags),
    invalidateTables: (names) => engine.invalidateTables(names),
    snapshot: () => engine.snapshot(),
  };
  const global = globalThis as Record<symbol, unknown>;
  global[API_KEY] = api;
  ctx.provide(api);
  ctx.log.debug(`cache: L1 ${Math.round(options.l1Bytes / 2 ** 20)} MiB, L2 ${options.l2.store}`);

  const close = async (): Promise<void> => {
    if (global[API_KEY] === api) delete global[API_KEY];
    unfollowHeap();
    following.unfollow();
    await engine.close();
  };
  return { engine, close };
}
