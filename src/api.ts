/**
 * The programmatic API, for apps that want explicit control instead of (or besides) the preload.
 *
 *   import { start } from '@plandex-perf/register/api';
 *   const perf = await start({ config: { telemetry: { metricsPort: 9465 } } });
 *   ...
 *   await perf.shutdown();
 */
import { start as startRuntime, type Runtime, type StartOptions } from './start.js';

export { definePlugin } from './plugin.js';
export type { PluginContext, PluginDefinition, Telemetry, Close } from './plugin.js';
export type { Profile } from './profiles.js';
export { codes, PerfError, type Code } from './errors.js';
export type { Runtime, StartOptions } from './start.js';
export { cached, invalidate, invalidateTags } from '../plugins/cache/public.js';
export type { CachedOptions, CacheApi } from '../plugins/cache/public.js';

const RUNTIME = Symbol.for('plandex-perf.runtime');
const STARTED = Symbol.for('plandex-perf.started');
const state = globalThis as Record<symbol, unknown>;

/**
 * Starts the plugins once per process. If the preload already started them, returns that runtime:
 * loading both is safe, and the first one wins.
 */
export async function start(options: StartOptions = {}): Promise<Runtime> {
  const existing = state[RUNTIME] as Runtime | Promise<Runtime> | undefined;
  if (existing) return existing;
  state[STARTED] = true;
  const runtime = startRuntime({ handleSignals: false, ...options });
  state[RUNTIME] = runtime;
  return runtime;
}

/** The running runtime, if the preload or `start` made one. */
export function current(): Runtime | undefined {
  const runtime = state[RUNTIME];
  return runtime && !(runtime instanceof Promise) ? (runtime as Runtime) : undefined;
}

/** generic-pool's factory: `create` and `destroy` (and optionally `validate`) resources. */
export type { Factory, GenericPool } from '../plugins/object-pool/guard.js';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createNoopMeter as noopMeter } from '@opentelemetry/api';
import { guardedPool, type CreatePool, type Factory, type GenericPool, type GuardDefaults } from '../plugins/object-pool/guard.js';
import { schema } from '../plugins/object-pool/schema.js';
import { autoProfile } from './profiles.js';
import { log } from './log.js';
import type { PoolManager } from '../plugins/object-pool/index.js';

/**
 * An object pool on generic-pool, with machine-sized defaults, its traps fixed, metrics and leak
 * detection — while the preload (or `start`) runs. `options` are generic-pool's; yours win.
 */
export function createPool<T>(name: string, factory: Factory<T>, options: Record<string, unknown> = {}): GenericPool<T> {
  const manager = state[Symbol.for('plandex-perf.object-pool.manager')] as PoolManager | undefined;
  if (manager) return manager.create(name, factory, options);
  // Plugin off (PLANDEX_PERF_DISABLE, or no preload): still a working, guarded pool, just unmeasured.
  const createPool = (createRequire(path.join(process.cwd(), 'package.json'))('generic-pool') as { createPool: CreatePool }).createPool;
  const noop = noopMeter();
  return guardedPool(createPool, name, factory, options, { ...(schema.defaults() as GuardDefaults), max: autoProfile().objectPoolMax }, {
    acquireDuration: noop.createHistogram('unused'),
    createErrors: noop.createCounter('unused'),
    leaked: noop.createCounter('unused'),
    log,
  }).pool;
}

/** A pool declared in the config file (`object-pool.pools`) or made with `createPool`. */
export function getPool<T>(name: string): GenericPool<T> | undefined {
  const manager = state[Symbol.for('plandex-perf.object-pool.manager')] as PoolManager | undefined;
  return manager?.get<T>(name);
}
