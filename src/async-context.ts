/**
 * Callback queues that break async context. A library that parks a callback and calls it later from
 * someone else's work (pg-pool hands a released connection to the next waiter from inside the release)
 * runs it in the releaser's async context: its queries would be tied to another request, span or cached
 * call. The plugin that hooks such a queue wraps the parked callback with `bindToCaller`; the plugins
 * that keep per-request state in an AsyncLocalStorage register it once with `keepAcrossQueues`.
 *
 * Why not `AsyncResource.bind` (what Node's docs suggest): one AsyncResource per pooled query kept the
 * young generation full and cost ~100 MB of RSS under load on the overhead bench (2026-12-02). This reads
 * each registered store (a few `getStore()` calls and one closure) and re-enters only those that differ
 * when the callback runs — which is only when the callback was really handed over by someone else.
 */
export interface ContextKeeper<T = unknown> {
  /** The value in the current async context. */
  current(): T;
  /** Runs `fn` with `value` as the current value. */
  run<R>(value: T, fn: () => R): R;
}

const keepers: ContextKeeper[] = [];

/** Registers a store whose value must follow callbacks across queues (idempotent per keeper object). */
export function keepAcrossQueues<T>(keeper: ContextKeeper<T>): void {
  const any = keeper as ContextKeeper;
  if (!keepers.includes(any)) keepers.push(any);
}

/** Told of a bound callback's call first, in its caller's context and with its arguments (see `bindToCaller`). */
export interface CallObserver<A extends unknown[]> {
  called(...args: A): void;
}

/** The observer first, then `fn`: every wrapper below ends here (small enough for V8 to inline, no allocation). */
function callThrough<A extends unknown[], R>(fn: (this: unknown, ...args: A) => R, observer: CallObserver<A> | undefined, self: unknown, args: A): R {
  if (observer !== undefined) observer.called.apply(observer, args);
  return fn.apply(self, args);
}

/**
 * `fn`, made to run in the caller's values of every registered store (itself when none is registered and
 * nothing observes it). `observer`, when given, is told of the call just before `fn` runs: one wrapper for
 * both (pg's pool connect parks a callback on every query, and this is its one closure).
 */
export function bindToCaller<A extends unknown[], R>(fn: (this: unknown, ...args: A) => R, observer?: CallObserver<A>): (this: unknown, ...args: A) => R {
  // Keepers are only ever appended: the first `n` stay the same ones, so nothing is copied per call.
  const n = keepers.length;
  // The wrappers read `arguments` rather than a rest parameter: no array per call on the pooled-query path.
  if (n === 0) {
    if (observer === undefined) return fn;
    return function (this: unknown): R {
      // biome-ignore lint/complexity/noArguments: see above
      return callThrough(fn, observer, this, arguments as unknown as A);
    };
  }
  if (n === 1) {
    const keeper = keepers[0]!;
    const value = keeper.current();
    return function (this: unknown): R {
      // biome-ignore lint/complexity/noArguments: see above
      const args = arguments as unknown as A;
      if (keeper.current() === value) return callThrough(fn, observer, this, args);
      return keeper.run(value, () => callThrough(fn, observer, this, args));
    };
  }
  if (n === 2) {
    // The defaults' case with a cache that follows tables (the request scope and the cache's pool context): no arrays per call.
    const k0 = keepers[0]!;
    const k1 = keepers[1]!;
    const v0 = k0.current();
    const v1 = k1.current();
    return function (this: unknown): R {
      // biome-ignore lint/complexity/noArguments: see above
      const args = arguments as unknown as A;
      const same0 = k0.current() === v0;
      if (same0 && k1.current() === v1) return callThrough(fn, observer, this, args);
      const inner = (): R => k1.run(v1, () => callThrough(fn, observer, this, args));
      return same0 ? inner() : k0.run(v0, inner);
    };
  }
  const values = keepers.slice(0, n).map((k) => k.current());
  return function (this: unknown): R {
    // biome-ignore lint/complexity/noArguments: see above
    const args = arguments as unknown as A;
    let changed = -1;
    for (let i = 0; i < n; i++) {
      if (keepers[i]!.current() !== values[i]) {
        changed = i;
        break;
      }
    }
    if (changed < 0) return callThrough(fn, observer, this, args);
    let run = (): R => callThrough(fn, observer, this, args);
    for (let i = n - 1; i >= changed; i--) {
      const keeper = keepers[i]!;
      const value = values[i];
      const inner = run;
      run = () => keeper.run(value, inner);
    }
    return run();
  };
}
