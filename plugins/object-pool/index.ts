import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema, type ObjectPoolOptions } from './schema.js';
import { guardedPool, type CreatePool, type Factory, type GenericPool, type GuardedPool, type GuardInstruments } from './guard.js';
import * as sc from './semconv.js';
import { objectPoolProfileDefaults } from './profile.js';
import { importModule } from '../../src/import-module.js';

/** Where the running plugin leaves its pool manager for the API (public.ts), across copies of the package. */
export const MANAGER = Symbol.for('plandex-perf.object-pool.manager');

/** What the API's `createPool` and `getPool` talk to while the plugin runs. */
export interface PoolManager {
  create<T>(name: string, factory: Factory<T>, options?: Record<string, unknown>): GenericPool<T>;
  get<T>(name: string): GenericPool<T> | undefined;
}

export default definePlugin({
  name: 'object-pool',
  description: 'generic-pool object pools with machine-sized defaults and its traps fixed (acquire timeout, bounded queue, eviction, create back-off); metrics and leak detection.',
  dependsOn: ['telemetry'],
  // generic-pool 3 is the promise API this guards (createPool, acquire/release, drain/clear).
  modules: [{ name: 'generic-pool', file: 'index.js', versions: '>=3.0.0 <4' }],
  schema,
  profileDefaults: objectPoolProfileDefaults,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const meter = telemetry.meter;
    const instruments: GuardInstruments = {
      acquireDuration: meter.createHistogram(sc.METRIC_POOL_ACQUIRE_DURATION, { description: 'Time to acquire a resource.', unit: 's', advice: { explicitBucketBoundaries: sc.WAIT_BUCKETS } }),
      createErrors: meter.createCounter(sc.METRIC_POOL_CREATE_ERRORS, { description: 'Failed factory creates.', unit: '{error}' }),
      leaked: meter.createCounter(sc.METRIC_POOL_LEAKED, { description: 'Resources borrowed longer than the leak threshold.', unit: '{resource}' }),
      log: ctx.log,
    };
    const pools = new Map<string, GuardedPool<unknown>>();
    let anonymous = 0;

    const gauges = [sc.METRIC_POOL_SIZE, sc.METRIC_POOL_AVAILABLE, sc.METRIC_POOL_BORROWED, sc.METRIC_POOL_PENDING, sc.METRIC_POOL_MAX].map((name) =>
      meter.createObservableUpDownCounter(name, { description: `generic-pool ${name.split('.').pop()} per pool.`, unit: '{resource}' }),
    );
    const [size, available, borrowed, pending, max] = gauges as [typeof gauges[number], typeof gauges[number], typeof gauges[number], typeof gauges[number], typeof gauges[number]];
    meter.addBatchObservableCallback((batch) => {
      for (const { pool, attributes } of pools.values()) {
        batch.observe(size, pool.size, attributes);
        batch.observe(available, pool.available, attributes);
        batch.observe(borrowed, pool.borrowed, attributes);
        batch.observe(pending, pool.pending, attributes);
        batch.observe(max, pool.max, attributes);
      }
    }, gauges);

    let original: CreatePool | undefined;
    const register = <T>(name: string, factory: Factory<T>, poolOptions: Record<string, unknown> = {}): GenericPool<T> => {
      const createPool = original ?? loadGenericPool();
      if (pools.has(name)) throw new Error(`an object pool named "${name}" exists already`);
      const guarded = guardedPool(createPool, name, factory, poolOptions, options, instruments);
      pools.set(name, guarded as GuardedPool<unknown>);
      if (options.leakDetectionMs > 0) sweep ??= setInterval(sweepLeaks, 1000).unref();
      return guarded.pool;
    };

    if (options.hookGenericPool) {
      const hooked = new WeakSet<object>();
      ctx.onModuleLoad('generic-pool', (exports) => {
        const mod = exports as { createPool?: CreatePool };
        if (typeof mod.createPool !== 'function' || hooked.has(mod)) return;
        hooked.add(mod);
        original = mod.createPool;
        // ctx.patch: closing the plugin puts generic-pool's own createPool back.
        ctx.patch(mod as { createPool: CreatePool }, 'createPool', () => (<T>(factory: Factory<T>, poolOptions?: Record<string, unknown>) => register(`pool-${++anonymous}`, factory, poolOptions ?? {})) as CreatePool);
      });
    }

    // The leak sweep runs only while there is a pool to sweep: no timer for a feature nobody uses.
    let sweep: NodeJS.Timeout | undefined;
    const sweepLeaks = () => {
      const now = performance.now();
      for (const guarded of pools.values()) {
        for (const borrow of guarded.borrowed.values()) {
          if (borrow.warned || options.leakDetectionMs === 0 || now - borrow.at < options.leakDetectionMs) continue;
          borrow.warned = true;
          instruments.leaked.add(1, guarded.attributes);
          ctx.log.warn('PPERF_WRN_013', `pool "${guarded.name}": a resource has been borrowed for ${Math.round(now - borrow.at)} ms without release (possible leak)`, {
            acquiredAt: borrow.site?.stack?.split('\n').slice(1, 8).map((l) => l.trim()),
          });
        }
      }
    };

    (globalThis as Record<symbol, unknown>)[MANAGER] = {
      create: register,
      get: <T>(name: string) => pools.get(name)?.pool as GenericPool<T> | undefined,
    } satisfies PoolManager;

    const close = async () => {
      clearInterval(sweep);
      delete (globalThis as Record<symbol, unknown>)[MANAGER];
      // Drain: let borrowed resources come back, then destroy everything.
      await Promise.allSettled([...pools.values()].map(async ({ pool }) => {
        await pool.drain();
        await pool.clear();
      }));
      pools.clear();
    };
    // Pools declared in the config import their factory modules: only then does setup wait.
    return Object.keys(options.pools).length === 0 ? close : declarePools(options, register).then(() => close);
  },
});

/** generic-pool from the app's own dependencies first, then ours. */
function loadGenericPool(): CreatePool {
  for (const base of [path.join(process.cwd(), 'package.json'), import.meta.url]) {
    try {
      return (createRequire(base)('generic-pool') as { createPool: CreatePool }).createPool;
    } catch {
      // try the next place
    }
  }
  throw new Error('generic-pool is not installed: npm install generic-pool');
}

async function declarePools(options: ObjectPoolOptions, register: <T>(name: string, factory: Factory<T>, o?: Record<string, unknown>) => GenericPool<T>): Promise<void> {
  for (const [name, declared] of Object.entries(options.pools)) {
    const mod = await importModule(pathToFileURL(path.resolve(process.cwd(), declared.module)).href);
    const factory = mod[declared.export] as Factory<unknown> | undefined;
    if (!factory || typeof factory.create !== 'function' || typeof factory.destroy !== 'function') {
      throw new Error(`object-pool.pools.${name}: ${declared.module} has no "${declared.export}" export with create() and destroy()`);
    }
    const { module: _module, export: _export, ...poolOptions } = declared;
    register(name, factory, poolOptions);
  }
}
