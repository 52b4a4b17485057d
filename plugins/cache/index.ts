import { definePlugin, type Close, type PluginContext, type Telemetry } from '../../src/plugin.js';
import { schema, type CacheOptions } from './schema.js';
import { Engine } from './engine.js';
import { engineOptions } from './engine-options.js';
import { registerMetrics } from './metrics.js';
import { followHeapBudget } from './heap-pressure.js';
import { wrapConfigured } from './wrap-config.js';
import { createPostgresStore, createRedisStore, type Store } from './stores.js';
import { API_KEY } from './public.js';
import { ERR_STORE } from './codes.js';
import type { CachePlugin } from './types.js';

export type { CacheApi, CachedOptions, CachePlugin, CacheSnapshot } from './types.js';

/**
 * A two-level cache for hot functions: L1 in process (lru-cache, bounded in bytes, frozen values), L2 on
 * Redis or PostgreSQL through Keyv, with single flight, leases, stale serving, invalidation by key and tag
 * across instances, and an L2 that can fail or hang without the app noticing. Functions are wrapped from
 * the config when their module loads, or with `cached()` from the API.
 */
export default definePlugin({
  name: 'cache',
  description: 'Two-level cache for hot functions: L1 in memory, L2 on Redis or PostgreSQL; single flight, stale serving, invalidation across instances.',
  dependsOn: ['telemetry'],
  schema,
  profileDefaults: (profile) => ({ l1Bytes: profile.cacheL1Bytes }),
  setup(ctx, options) {
    const { store: kind, url } = options.l2;
    // Only an L2 store makes setup wait (its first connect); the default, L1 only, is synchronous.
    if (kind === 'none' || url === undefined) return start(ctx, options, undefined);
    const storeOptions = {
      url,
      connectTimeoutMs: 1000,
      table: 'pperf_cache',
      onError: (error: unknown) => ctx.log.debug('cache: L2 connection error', { error: String(error) }),
    };
    return (kind === 'redis' ? createRedisStore(storeOptions) : createPostgresStore(storeOptions)).then(
      (store) => start(ctx, options, store),
      (error: unknown) => {
        ctx.log.error(ERR_STORE, `cache: the ${kind} store could not be set up; caching in L1 only`, { error });
        return start(ctx, options, undefined);
      },
    );
  },
});

/** The cache itself, once its L2 (if any) is known. */
function start(ctx: PluginContext, options: CacheOptions, store: Store | undefined): Close {
  const telemetry = ctx.use<Telemetry>('telemetry');
  const engine = new Engine(engineOptions(options, { store, log: ctx.log }));
  registerMetrics(telemetry.meter, engine);
  const unfollow = followHeapBudget(ctx, engine.l1);
  wrapConfigured(ctx, engine, options.functions);

  const api: CachePlugin = {
    cached: (fn, cachedOptions) => engine.cached(fn, cachedOptions),
    invalidate: (fnOrName, ...args) => engine.invalidate(fnOrName, ...args),
    invalidateTags: (tags) => engine.invalidateTags(tags),
    snapshot: () => engine.snapshot(),
  };
  const global = globalThis as Record<symbol, unknown>;
  global[API_KEY] = api;
  ctx.provide(api);
  ctx.log.debug(`cache: L1 ${Math.round(options.l1Bytes / 2 ** 20)} MiB, L2 ${store?.kind ?? 'none'}`);

  return async () => {
    if (global[API_KEY] === api) delete global[API_KEY];
    unfollow();
    await engine.close();
  };
}
