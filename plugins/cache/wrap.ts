import { argsKey, scan } from './keys.js';
import { SYNC, type Fn } from './fn.js';
import { traces } from './trace.js';
import type { Loader } from './load.js';
import type { L1 } from './l1.js';
import type { Stats } from './stats.js';
import type { Now } from './clock.js';

type Loose = (...args: unknown[]) => unknown;

/** What the hot path reads; `slowKey` handles everything but plain data arguments (handles, `key`, unkeyable). */
export interface HotPath {
  l1: L1;
  stats: Stats;
  now: Now;
  loader: Loader;
  /** The key text of a call the fast path could not key alone, or undefined to run it uncached. */
  slowKey(f: Fn, args: IArguments): string | undefined;
}

const AsyncFunctionPrototype = Object.getPrototypeOf(async function () {}) as object;

/**
 * The function the app calls instead of its own. An L1 hit is: build the argument text, one Map lookup
 * in lru-cache, one time comparison, one counter increment; it returns the entry's stored promise (async
 * functions) or value (sync ones), so nothing is allocated besides the key string. Everything else is in
 * load.ts.
 *
 * The wrapper looks like the original to anyone who inspects it: every own property is copied (string
 * and symbol keys: fastify-plugin's `Symbol(skip-override)`, `Symbol(fastify.display-name)`, `autoPrefix`,
 * `name`, `length`), and it keeps its kind: an async function's wrapper is an AsyncFunction with no
 * `prototype`, an arrow's has none either, a plain function's carries the original's `prototype`.
 */
export function makeWrapper(hot: HotPath, f: Fn): Loose {
  const lru = hot.l1.lru;
  const stats = hot.stats;
  const now = hot.now;
  const loader = hot.loader;
  const prefix = f.prefix;
  const fast = f.keyOf === undefined;
  const call = (self: unknown, args: IArguments): unknown => {
    if (f.delegate !== undefined) return f.delegate.apply(self, args as unknown as unknown[]);
    let argKey: string | undefined;
    if (fast) {
      try {
        argKey = argsKey(args);
        if (scan.handles !== 0) argKey = undefined;
      } catch {
        argKey = undefined;
      }
    }
    if (argKey === undefined) {
      argKey = hot.slowKey(f, args);
      if (argKey === undefined) return f.fn.apply(self, args as unknown as unknown[]);
    }
    const key = prefix + argKey;
    const entry = lru === undefined ? undefined : lru.get(key);
    if (entry !== undefined && entry.fresh > now()) {
      stats.l1Hit++;
      // A cached function called by another one's origin: the outer result depends on this entry.
      if (traces.active > 0) traces.storage.getStore()?.addTags(entry.tags);
      return f.mode === SYNC ? entry.value : entry.promise;
    }
    return loader.miss(f, self, args, argKey, key, entry);
  };
  const original = f.fn;
  const hasPrototype = Object.prototype.hasOwnProperty.call(original, 'prototype');
  let wrapper: Loose;
  if (hasPrototype) {
    wrapper = function (this: unknown): unknown {
      return call(this, arguments);
    } as Loose;
  } else {
    // A method has no `prototype` and cannot be called with `new`, like arrows and async functions.
    wrapper = {
      wrapper(this: unknown): unknown {
        return call(this, arguments);
      },
    }.wrapper as Loose;
  }
  copyFunction(original, wrapper);
  return wrapper;
}

/** Makes `to` look like `from`: its kind (prototype chain) and every own property, descriptors kept. */
export function copyFunction(from: Loose, to: Loose): void {
  const proto = Object.getPrototypeOf(from) as object | null;
  if (proto !== Object.getPrototypeOf(to) && (proto === AsyncFunctionPrototype || proto === Function.prototype)) Object.setPrototypeOf(to, proto);
  for (const key of Reflect.ownKeys(from)) {
    if (key === 'arguments' || key === 'caller') continue;
    const descriptor = Object.getOwnPropertyDescriptor(from, key);
    if (descriptor === undefined) continue;
    try {
      Object.defineProperty(to, key, descriptor);
    } catch {
      // A non-configurable property of the wrapper itself (none in practice): left as it is.
    }
  }
}
