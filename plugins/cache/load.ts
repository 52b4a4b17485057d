import { setTimeout as sleep } from 'node:timers/promises';
import { decode, type StoredEntry } from './codec.js';
import { freezeAndMeasure } from './freeze.js';
import { l2Key } from './keys.js';
import { now } from './clock.js';
import { ASYNC, SYNC, UNKNOWN, type Fn } from './fn.js';
import { UNAVAILABLE, type L2 } from './l2.js';
import { CacheTimeoutError, WRN_UNKEYABLE } from './codes.js';
import { CLOSED } from './breaker.js';
import type { Engine, Flight } from './engine.js';
import type { L1Entry } from './l1.js';

/** What a load may fall back to: an older entry still inside its grace or stale-if-error window. */
type Stale = Pick<L1Entry, 'value' | 'grace' | 'stale' | 'created'>;

const noop = (): void => {};
const POLL_MS = 25;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** Everything after an L1 lookup that did not give a fresh entry. */
export function miss(engine: Engine, f: Fn, self: unknown, args: IArguments, argKey: string, key: string, entry: L1Entry | undefined): unknown {
  const handoff = engine.options.handoff?.();
  if (handoff !== undefined) {
    f.delegate = handoff.cached(f.fn, f.options) as (...a: unknown[]) => unknown;
    return f.delegate.apply(self, args as unknown as unknown[]);
  }
  const list = Array.prototype.slice.call(args) as unknown[];
  if (f.mode === UNKNOWN) {
    // Whether the function is async is learnt from this call, which runs uncached.
    const result = f.fn.apply(self, list);
    f.mode = isThenable(result) ? ASYNC : SYNC;
    return result;
  }
  if (f.mode === SYNC) {
    engine.stats.l1Miss++;
    engine.stats.origin++;
    const value = f.fn.apply(self, list);
    if (isThenable(value)) {
      f.mode = ASYNC;
      return value;
    }
    return engine.store(f, key, argKey, value, tagsFor(engine, f, list), now(), undefined, false);
  }
  const t = now();
  if (entry !== undefined) {
    if (t < entry.expires) {
      // Fresh in truth but past L1's cap: serve it and check L2 in the background.
      engine.stats.l1Hit++;
      refresh(engine, f, self, list, argKey, key, entry);
      return entry.promise;
    }
    if (t < entry.grace) {
      engine.stats.l1Stale++;
      refresh(engine, f, self, list, argKey, key, entry);
      return entry.promise;
    }
  }
  engine.stats.l1Miss++;
  const running = engine.flights.get(key);
  if (running !== undefined) {
    engine.stats.coalesced++;
    return running.promise;
  }
  return start(engine, f, self, list, argKey, key, entry !== undefined && t < entry.stale ? entry : undefined, false).promise;
}

function refresh(engine: Engine, f: Fn, self: unknown, args: unknown[], argKey: string, key: string, stale: Stale): void {
  if (engine.flights.has(key)) return;
  start(engine, f, self, args, argKey, key, stale, true).promise.catch(noop);
}

function start(engine: Engine, f: Fn, self: unknown, args: unknown[], argKey: string, key: string, stale: Stale | undefined, refreshing: boolean): Flight {
  const flight: Flight = { promise: Promise.resolve(undefined), invalidated: false };
  if (engine.flights.size >= engine.options.maxInFlight) {
    // Bounded: past the limit a call is not coalesced (and not cached), rather than tracked without end.
    engine.stats.origin++;
    flight.promise = Promise.resolve().then(() => f.fn.apply(self, args));
    return flight;
  }
  engine.flights.set(key, flight);
  flight.promise = load(engine, f, self, args, argKey, key, stale, refreshing, flight);
  return flight;
}

function tagsFor(engine: Engine, f: Fn, args: unknown[]): readonly string[] | undefined {
  if (f.tagsOf === undefined) return f.tags;
  try {
    const tags = f.tagsOf(...args);
    return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : undefined;
  } catch {
    engine.warnOnce(f, 'tags', WRN_UNKEYABLE, `cache: the tags function of ${f.name} threw; the entry is stored untagged`);
    return undefined;
  }
}

async function load(engine: Engine, f: Fn, self: unknown, args: unknown[], argKey: string, key: string, candidate: Stale | undefined, refreshing: boolean, flight: Flight): Promise<unknown> {
  const started = now();
  let stale = candidate;
  try {
    const tags = tagsFor(engine, f, args);
    const l2 = f.l2 ? engine.l2 : undefined;
    let leased = false;
    if (l2 !== undefined) {
      const l2key = l2Key(engine.options.keyPrefix, f.fnKey, argKey);
      const read = await readL2(engine, l2, l2key, tags);
      const found = read === UNAVAILABLE ? undefined : read;
      const t = now();
      if (found !== undefined && t < found.expires) {
        engine.stats.l2Hit++;
        return adopt(engine, key, found).value;
      }
      if (found !== undefined && t < found.stale) {
        engine.stats.l2Stale++;
        if (stale === undefined || found.created > stale.created) stale = adopt(engine, key, found);
        if (!refreshing && t < found.grace) {
          refresh(engine, f, self, args, argKey, key, stale);
          return stale.value;
        }
      } else {
        engine.stats.l2Miss++;
      }
      const store = l2.store;
      // No lease when the read just failed: a second timeout would only add to this call's latency.
      if (read !== UNAVAILABLE && engine.options.leaseMs > 0 && store.lease !== undefined) {
        const lease = store.lease.bind(store);
        const got = await l2.run(() => lease(`${l2key}:lease`, engine.token, engine.options.leaseMs));
        if (got === true) leased = true;
        else if (got === false) {
          // Another instance computes this key: wait for its result in L2, bounded, then compute anyway.
          const polled = await poll(engine, l2, l2key, tags);
          if (polled !== undefined) {
            engine.stats.l2Hit++;
            return adopt(engine, key, polled).value;
          }
        }
      }
    }
    return await callOrigin(engine, f, self, args, argKey, key, tags, started, stale, flight, leased);
  } finally {
    if (engine.flights.get(key) === flight) engine.flights.delete(key);
  }
}

/** An L2 entry into L1 (frozen first, like every cached value). */
function adopt(engine: Engine, key: string, found: StoredEntry): L1Entry {
  return engine.fill(key, found, true, freezeAndMeasure(found.value).bytes);
}

/** The entry if L2 has a valid one; `UNAVAILABLE` when L2 could not be asked (breaker open, error, timeout). */
async function readL2(engine: Engine, l2: L2, l2key: string, tags: readonly string[] | undefined): Promise<StoredEntry | undefined | typeof UNAVAILABLE> {
  const keys = tags === undefined || tags.length === 0 ? [l2key] : [l2key, ...tags.map((tag) => engine.tagKey(tag))];
  const t0 = performance.now();
  const result = await l2.getMany(keys);
  engine.onDuration('l2', (performance.now() - t0) / 1000);
  if (result === UNAVAILABLE) return UNAVAILABLE;
  if (result[0] === undefined) return undefined;
  const entry = decode(result[0]);
  if (entry === undefined) return undefined;
  for (let i = 1; i < result.length; i++) {
    const at = Number(result[i]);
    if (Number.isFinite(at) && at >= entry.created) return undefined;
  }
  return engine.tagInvalidatedSince(entry.tags, entry.created) ? undefined : entry;
}

async function poll(engine: Engine, l2: L2, l2key: string, tags: readonly string[] | undefined): Promise<StoredEntry | undefined> {
  const deadline = now() + engine.options.leaseWaitMs;
  while (now() + POLL_MS <= deadline) {
    await sleep(POLL_MS, undefined, { ref: false });
    const found = await readL2(engine, l2, l2key, tags);
    if (found === UNAVAILABLE || l2.state !== CLOSED) return undefined;
    if (found !== undefined && now() < found.expires) return found;
  }
  return undefined;
}

async function callOrigin(
  engine: Engine,
  f: Fn,
  self: unknown,
  args: unknown[],
  argKey: string,
  key: string,
  tags: readonly string[] | undefined,
  started: number,
  stale: Stale | undefined,
  flight: Flight,
  leased: boolean,
): Promise<unknown> {
  engine.stats.origin++;
  const t0 = performance.now();
  let pending: Promise<unknown>;
  try {
    pending = Promise.resolve(f.fn.apply(self, args));
  } catch (error) {
    pending = Promise.reject(error);
  }
  const settled = pending.then(
    (value) => {
      engine.onDuration('origin', (performance.now() - t0) / 1000);
      return engine.store(f, key, argKey, value, tags, started, flight, leased);
    },
    (error: unknown) => {
      engine.onDuration('origin', (performance.now() - t0) / 1000);
      engine.stats.originErrors++;
      throw error;
    },
  );
  try {
    const soft = stale !== undefined ? f.softTimeout : 0;
    if (soft <= 0 && f.hardTimeout <= 0) return await settled;
    const value = await withTimeouts(settled, soft, f.hardTimeout, f);
    if (value !== SLOW || stale === undefined) return value;
    engine.stats.l1Stale++;
    return stale.value;
  } catch (error) {
    if (stale !== undefined && now() < stale.stale) {
      engine.stats.l1Stale++;
      return stale.value;
    }
    throw error;
  }
}

const SLOW: unique symbol = Symbol('slow');

/** The origin's result, or `SLOW` after `soft` ms (serve stale), or a timeout error after `hard` ms. */
function withTimeouts(settled: Promise<unknown>, soft: number, hard: number, f: Fn): Promise<unknown> {
  settled.catch(noop); // it may lose the race and fail later; its failure is then nobody's
  return new Promise((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    const done = (): void => timers.forEach((timer) => clearTimeout(timer));
    if (soft > 0) timers.push(setTimeout(() => (done(), resolve(SLOW)), soft).unref());
    if (hard > 0) timers.push(setTimeout(() => (done(), reject(new CacheTimeoutError(f.name, hard))), hard).unref());
    settled.then(
      (value) => (done(), resolve(value)),
      (error: unknown) => (done(), reject(error)),
    );
  });
}
