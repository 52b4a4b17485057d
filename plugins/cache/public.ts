import { Engine } from './engine.js';
import { engineOptions } from './engine-options.js';
import { schema } from './schema.js';
import { autoProfile } from '../../src/profiles.js';
import { l1BytesFor } from './profile.js';
import { log } from '../../src/log.js';
import type { CacheApi, CachedOptions } from './types.js';

/**
 * `cached`, `invalidate` and `invalidateTags` for src/api.ts. They reach the running plugin through a
 * global symbol (the preload bundle and the API are separate module instances). With the plugin off they
 * still work: an L1-only engine with the default options; a function made there before the plugin starts
 * hands over to the plugin's engine at its next miss.
 */
export const API_KEY = Symbol.for('plandex-perf.cache');
const MiB = 2 ** 20;
let fallback: Engine | undefined;

function running(): CacheApi | undefined {
  return (globalThis as Record<symbol, unknown>)[API_KEY] as CacheApi | undefined;
}

function fallbackEngine(): Engine {
  fallback ??= new Engine(
    engineOptions(schema.defaults(), {
      store: undefined,
      log,
      // A plugin-less process still gets a bounded cache, smaller than the plugin's default.
      l1Bytes: Math.min(l1BytesFor(autoProfile()), 32 * MiB),
      handoff: running,
    }),
  );
  return fallback;
}

export function cached<F extends (...args: never[]) => unknown>(fn: F, options?: CachedOptions): F {
  return (running() ?? fallbackEngine()).cached(fn, options);
}

export async function invalidate(fnOrName: ((...args: never[]) => unknown) | string, ...args: unknown[]): Promise<void> {
  const api = running();
  const local = fallback?.lookup(fnOrName as (...a: unknown[]) => unknown);
  if (fallback && local) {
    await fallback.invalidate(fnOrName, ...args);
    if (api && local.delegate) await api.invalidate(local.delegate, ...args);
    if (api && typeof fnOrName === 'string') await api.invalidate(fnOrName, ...args);
    return;
  }
  await api?.invalidate(fnOrName, ...args);
}

export async function invalidateTags(tags: readonly string[]): Promise<void> {
  await Promise.all([fallback?.invalidateTags(tags), running()?.invalidateTags(tags)]);
}

export type { CacheApi, CachedOptions } from './types.js';
