import { argsKey } from './keys.js';
import { now } from './clock.js';
import { SYNC } from './fn.js';
import { miss } from './load.js';
import type { Engine } from './engine.js';
import type { Fn } from './fn.js';

type Loose = (...args: unknown[]) => unknown;

/**
 * The function the app calls instead of its own. An L1 hit is: build the argument text, one Map lookup
 * in lru-cache, one time comparison, one counter increment; it returns the entry's stored promise (async
 * functions) or value (sync ones), so nothing is allocated besides the key string. Everything else is in
 * load.ts.
 */
export function makeWrapper(engine: Engine, f: Fn): Loose {
  const lru = engine.l1.lru;
  const stats = engine.stats;
  const prefix = f.prefix;
  const keyOf = f.keyOf;
  const wrapper = function (this: unknown): unknown {
    if (f.delegate !== undefined) return f.delegate.apply(this, arguments as unknown as unknown[]);
    let argKey: string | undefined;
    if (keyOf === undefined) {
      try {
        argKey = argsKey(arguments);
      } catch {
        argKey = undefined;
      }
    }
    // The `key` option and unkeyable arguments take the slow road, which warns once and bypasses.
    if (argKey === undefined) {
      argKey = engine.argKeyOf(f, arguments);
      if (argKey === undefined) return f.fn.apply(this, arguments as unknown as unknown[]);
    }
    const key = prefix + argKey;
    const entry = lru === undefined ? undefined : lru.get(key);
    if (entry !== undefined && entry.fresh > now()) {
      stats.l1Hit++;
      return f.mode === SYNC ? entry.value : entry.promise;
    }
    return miss(engine, f, this, arguments, argKey, key, entry);
  };
  // Keep what introspection sees (name, length) as it was.
  Object.defineProperty(wrapper, 'name', { value: f.fn.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: f.fn.length, configurable: true });
  return wrapper as Loose;
}
