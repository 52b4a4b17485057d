/**
 * The one way plugins replace a function on someone else's object (a prototype method, a module export),
 * so that closing the plugin puts it back. If another tool wrapped the same function on top of ours in the
 * meantime, ours cannot be taken out from under it: it turns into a pass-through instead, and theirs keeps
 * working (shimmer and OpenTelemetry's instrumentations face the same problem and leave a marker too).
 */
const ORIGINAL = Symbol.for('plandex-perf.original');

type AnyFunction = (...args: never[]) => unknown;

export function patchMethod<T extends object, K extends keyof T>(target: T, key: K, make: (original: T[K]) => T[K]): () => void {
  const original = target[key];
  if (typeof original !== 'function') throw new TypeError(`cannot patch ${String(key)}: not a function`);
  const inner = make(original) as AnyFunction;
  let active = true;
  // `arguments`, not a rest parameter: V8 passes `fn.apply(this, arguments)` through without making an array,
  // and this wrapper sits on per-query paths (pg's Client#query, Pool#connect).
  const call = function (this: unknown): unknown {
    const fn = (active ? inner : original) as unknown as (...a: unknown[]) => unknown;
    // biome-ignore lint/complexity/noArguments: see above
    if (new.target) return Reflect.construct(fn as unknown as new (...a: unknown[]) => unknown, arguments, new.target);
    // biome-ignore lint/complexity/noArguments: see above
    return fn.apply(this, arguments as unknown as unknown[]);
  };
  // Keep what callers and other tools look at: name, length, prototype (for classes), static members.
  for (const prop of Reflect.ownKeys(original)) {
    if (prop === 'arguments' || prop === 'caller') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, prop);
    if (descriptor) Object.defineProperty(call, prop, descriptor);
  }
  Object.defineProperty(call, ORIGINAL, { value: original });
  const own = Object.hasOwn(target, key);
  (target as Record<PropertyKey, unknown>)[key as PropertyKey] = call;
  return () => {
    active = false;
    if ((target as Record<PropertyKey, unknown>)[key as PropertyKey] !== call) return;
    if (own) (target as Record<PropertyKey, unknown>)[key as PropertyKey] = original;
    else delete (target as Record<PropertyKey, unknown>)[key as PropertyKey];
  };
}

/** The function a patch replaced, if `fn` is one of ours. */
export function unpatched<F>(fn: F): F {
  return ((fn as Record<symbol, unknown> | undefined)?.[ORIGINAL] as F | undefined) ?? fn;
}
