/**
 * The object-pool API (`createPool`, `getPool` from `@plandex-perf/register/api`). It works with the
 * plugin off too: then the pool is guarded with the defaults, just unmeasured.
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { createNoopMeter as noopMeter } from '@opentelemetry/api';
import { guardedPool, type CreatePool, type Factory, type GenericPool, type GuardDefaults } from './guard.js';
import { schema } from './schema.js';
import { autoProfile } from '../../src/profiles.js';
import { poolMaxFor } from './profile.js';
import { log } from '../../src/log.js';
import { MANAGER, type PoolManager } from './index.js';

/** generic-pool's factory: `create` and `destroy` (and optionally `validate`) resources. */
export type { Factory, GenericPool } from './guard.js';

const state = globalThis as Record<symbol, unknown>;

/**
 * An object pool on generic-pool, with machine-sized defaults, its traps fixed, metrics and leak
 * detection — while the preload (or `start`) runs. `options` are generic-pool's; yours win.
 */
export function createPool<T>(name: string, factory: Factory<T>, options: Record<string, unknown> = {}): GenericPool<T> {
  const manager = state[MANAGER] as PoolManager | undefined;
  if (manager) return manager.create(name, factory, options);
  // Plugin off (PLANDEX_PERF_DISABLE, or no preload): still a working, guarded pool, just unmeasured.
  const createPool = (createRequire(path.join(process.cwd(), 'package.json'))('generic-pool') as { createPool: CreatePool }).createPool;
  const noop = noopMeter();
  return guardedPool(createPool, name, factory, options, { ...(schema.defaults() as GuardDefaults), max: poolMaxFor(autoProfile()) }, {
    acquireDuration: noop.createHistogram('unused'),
    createErrors: noop.createCounter('unused'),
    leaked: noop.createCounter('unused'),
    log,
  }).pool;
}

/** A pool declared in the config file (`object-pool.pools`) or made with `createPool`. */
export function getPool<T>(name: string): GenericPool<T> | undefined {
  return (state[MANAGER] as PoolManager | undefined)?.get<T>(name);
}
