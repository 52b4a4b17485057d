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

export { createPool, getPool, type Factory, type GenericPool } from '../plugins/object-pool/public.js';
