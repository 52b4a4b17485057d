import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredEntry } from './codec.js';
import { ASYNC, SYNC, UNKNOWN, type Fn } from './fn.js';
import { UNAVAILABLE, type L2 } from './l2.js';
import { CacheTimeoutError, WRN_NOT_DATA, WRN_UNKEYABLE, } from './codes.js';
import { CLOSED } from './breaker.js';
import { NOT_DATA, type Entries } from './entries.js';
import { ALL_TABLES_TAG, LoadTrace, TABLE_TAG, currentTrace, traces } from './trace.js';
import { notDataReason } from './args.js';
import { isValueTag } from './row-tags.js';
import type { Flight, Flights } from './flights.js';
import type { L1Entry } from './l1.js';
import type { Stats, Level } from './stats.js';
import type { Now } from './clock.js';
import type { CacheApi } from './types.js';
import type { Code } from '../../src/errors.js';

/** What a load may fall back to: an older entry still inside its grace or stale-if-error window. */
type Stale = Pick<L1Entry, 'value' | 'grace' | 'stale' | 'created' | 'tags'>;

/** What the miss path works with; the engine owns each piece and hands them over once. */
export interface LoaderDeps {
  entries: Entries;
  flights: Flights;
  stats: Stats;
  now: Now;
  leaseMs: number;
  leaseWaitMs: number;
  /** This instance's lease token. */
  token: string;
  duration(level: Level, seconds: number): void;
  warn(f: Fn, what: string, code: Code, message: string, reason?: string): void;
  /** The function showed it is not a data loader: it runs as itself from now on. */
  notLoader(f: Fn, reason: string): void;
  /** The plugin's API once it runs, for functions made by the fallback engine before it started. */
  handoff?: () => CacheApi | undefined;
}

/** One load: everything the steps of the miss path share. */
interface Call {
  f: Fn;
  self: unknown;
  args: unknown[];
  argKey: string;
  key: string;
  /** The call's own tags (static or from its arguments). */
  tags: readonly string[] | undefined;
  stale: Stale | undefined;
  refreshing: boolean;
  flight: Flight;
  started: number;
  leased: boolean;
  /** An L2 entry within grace was served: refresh it once this flight has ended. */
  refreshAfter?: Stale;
}

const noop = (): void => {};
const POLL_MS = 25;
const MAX_SEEN_TAGS = 32;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** Everything after an L1 lookup that did not give a fresh entry. */
export class Loader {
  constructor(private readonly d: LoaderDeps) {}

  miss(f: Fn, self: unknown, args: IArguments, argKey: string, key: string, entry: L1Entry | undefined): unknown {
    const d = this.d;
    const handoff = d.handoff?.();
    if (handoff !== undefined) {
      f.delegate = handoff.cached(f.fn, f.options) as (...a: unknown[]) => unknown;
      return f.delegate.apply(self, args as unknown as unknown[]);
    }
    const list = Array.prototype.slice.call(args) as unknown[];
    if (f.mode === UNKNOWN) return this.firstCall(f, self, list);
    if (f.mode === SYNC) return this.syncCall(f, self, list, argKey, key);
    const t = d.now();
    const outer = currentTrace();
    if (entry !== undefined && t < entry.grace) {
      // Fresh in truth but past L1's cap (check L2 in the background), or within grace (refresh).
      if (t < entry.expires) d.stats.l1Hit++;
      else d.stats.l1Stale++;
      outer?.addTags(entry.tags);
      this.refresh(f, self, list, argKey, key, entry);
      return entry.promise;
    }
    d.stats.l1Miss++;
    const running = d.flights.get(key);
    // A load invalidated since it started (a write ended meanwhile) may return what the write replaced: a
    // caller arriving now must not join it, or it would be served the old value after the write returned.
    if (running !== undefined && !running.invalidated && !d.entries.invalidatedSince(running.trace.tags, running.started)) {
      d.stats.coalesced++;
      if (outer !== undefined) running.trace.addParent(outer);
      return running.promise;
    }
    return this.start(f, self, list, argKey, key, entry !== undefined && t < entry.stale ? entry : undefined, false, outer).promise;
  }

  /** Whether the function is async is learnt from this call, which runs uncached. */
  private firstCall(f: Fn, self: unknown, list: unknown[]): unknown {
    const result = f.fn.apply(self, list);
    f.mode = isThenable(result) ? ASYNC : SYNC;
    if (f.mode === ASYNC) {
      (result as PromiseLike<unknown>).then((value) => {
        const reason = notDataReason(value);
        if (reason !== undefined) this.d.notLoader(f, reason);
      }, noop);
    } else {
      const reason = notDataReason(result);
      if (reason !== undefined) this.d.notLoader(f, reason);
    }
    return result;
  }

  private syncCall(f: Fn, self: unknown, list: unknown[], argKey: string, key: string): unknown {
    const d = this.d;
    d.stats.l1Miss++;
    d.stats.origin++;
    const started = d.now();
    const trace = new LoadTrace(currentTrace());
    traces.active++;
    let value: unknown;
    try {
      value = traces.storage.run(trace, () => f.fn.apply(self, list));
    } finally {
      traces.active--;
    }
    if (isThenable(value)) {
      f.mode = ASYNC;
      return value;
    }
    const flight: Flight = { promise: Promise.resolve(), invalidated: false, trace, started };
    this.keep({ f, self, args: list, argKey, key, tags: this.tagsFor(f, list), stale: undefined, refreshing: false, flight, started, leased: false }, value);
    return value;
  }

  private refresh(f: Fn, self: unknown, args: unknown[], argKey: string, key: string, stale: Stale): void {
    if (this.d.flights.has(key)) return;
    this.start(f, self, args, argKey, key, stale, true, undefined).promise.catch(noop);
  }

  private start(f: Fn, self: unknown, args: unknown[], argKey: string, key: string, stale: Stale | undefined, refreshing: boolean, outer: LoadTrace | undefined): Flight {
    const flight: Flight = { promise: Promise.resolve(undefined), invalidated: false, trace: new LoadTrace(outer), started: this.d.now() };
    if (!this.d.flights.add(key, flight)) {
      // Bounded: past the limit a call is not coalesced (and not cached), rather than tracked without end.
      this.d.stats.origin++;
      flight.promise = Promise.resolve().then(() => f.fn.apply(self, args));
      return flight;
    }
    const call: Call = { f, self, args, argKey, key, tags: this.tagsFor(f, args), stale, refreshing, flight, started: this.d.now(), leased: false };
    flight.promise = this.load(call);
    return flight;
  }

  private tagsFor(f: Fn, args: unknown[]): readonly string[] | undefined {
    let tags = f.tags;
    if (f.tagsOf !== undefined) {
      try {
        const made = f.tagsOf(...args);
        tags = Array.isArray(made) ? made.filter((t): t is string => typeof t === 'string') : undefined;
      } catch {
        this.d.warn(f, 'tags', WRN_UNKEYABLE, `cache: the tags function of ${f.name} threw; the entry is stored untagged`);
        tags = undefined;
      }
    }
    if (f.selfTag === undefined) return tags;
    return tags === undefined ? [f.selfTag] : [...tags, f.selfTag];
  }

  private async load(c: Call): Promise<unknown> {
    const d = this.d;
    try {
      const l2 = c.f.l2 ? d.entries.l2 : undefined;
      if (l2 !== undefined) {
        const found = await this.fromL2(c, l2);
        if (found !== undefined) return found.value;
      }
      return await this.callOrigin(c);
    } finally {
      d.flights.end(c.key, c.flight);
      if (c.refreshAfter !== undefined) this.refresh(c.f, c.self, c.args, c.argKey, c.key, c.refreshAfter);
    }
  }

  /** An L2 entry to serve now (fresh, or stale within grace while a refresh runs), else undefined after taking the lease if any. */
  private async fromL2(c: Call, l2: L2): Promise<Stale | undefined> {
    const d = this.d;
    const l2key = d.entries.l2Key(c.f, c.argKey);
    const read = await this.readL2(c, l2, l2key);
    const found = read === UNAVAILABLE ? undefined : read;
    const t = d.now();
    if (found !== undefined && t < found.expires) {
      d.stats.l2Hit++;
      c.flight.trace.addTags(found.tags);
      return d.entries.adopt(c.key, found);
    }
    if (found !== undefined && t < found.stale) {
      d.stats.l2Stale++;
      if (c.stale === undefined || found.created > c.stale.created) c.stale = d.entries.adopt(c.key, found);
      if (!c.refreshing && t < found.grace) {
        c.flight.trace.addTags(found.tags);
        // The refresh starts once this flight has ended (it would join it otherwise).
        c.refreshAfter = c.stale;
        return c.stale;
      }
    } else {
      d.stats.l2Miss++;
    }
    const store = l2.store;
    // No lease when the read just failed: a second timeout would only add to this call's latency.
    if (read !== UNAVAILABLE && d.leaseMs > 0 && store.lease !== undefined) {
      const lease = store.lease.bind(store);
      const got = await l2.run(() => lease(`${l2key}:lease`, d.token, d.leaseMs));
      if (got === true) c.leased = true;
      else if (got === false) {
        // Another instance computes this key: wait for its result in L2, bounded, then compute anyway.
        const polled = await this.poll(c, l2, l2key);
        if (polled !== undefined) {
          d.stats.l2Hit++;
          c.flight.trace.addTags(polled.tags);
          return d.entries.adopt(c.key, polled);
        }
      }
    }
    return undefined;
  }

  private async readL2(c: Call, l2: L2, l2key: string, why?: { invalidated?: boolean }): Promise<StoredEntry | undefined | typeof UNAVAILABLE> {
    const t0 = performance.now();
    const guess = c.f.seenTags.length > 0 ? c.f.seenTags : (c.tags ?? []);
    const result = await this.d.entries.read(l2, l2key, guess, why);
    this.d.duration('l2', (performance.now() - t0) / 1000);
    return result;
  }

  private async poll(c: Call, l2: L2, l2key: string): Promise<StoredEntry | undefined> {
    const d = this.d;
    const deadline = d.now() + d.leaseWaitMs;
    while (d.now() + POLL_MS <= deadline) {
      await sleep(POLL_MS, undefined, { ref: false });
      const why: { invalidated?: boolean } = {};
      const found = await this.readL2(c, l2, l2key, why);
      // An entry this instance holds invalid (an invalidation it received after the lease holder started
      // its load, which therefore may be fresh: this instance cannot tell) will not become valid by waiting:
      // compute now rather than poll to the end of leaseWaitMs (seen as a 500 ms convergence on Redis).
      if (found === UNAVAILABLE || l2.state !== CLOSED || why.invalidated === true) return undefined;
      if (found !== undefined && d.now() < found.expires) return found;
    }
    return undefined;
  }

  /** Runs the origin inside the call's trace, so the queries it makes are recorded against it. */
  private async callOrigin(c: Call): Promise<unknown> {
    const d = this.d;
    d.stats.origin++;
    const t0 = performance.now();
    let pending: Promise<unknown>;
    traces.active++;
    try {
      pending = Promise.resolve(traces.storage.run(c.flight.trace, () => c.f.fn.apply(c.self, c.args)));
    } catch (error) {
      pending = Promise.reject(error);
    }
    const settled = pending.then(
      (value) => {
        traces.active--;
        d.duration('origin', (performance.now() - t0) / 1000);
        this.keep(c, value);
        return value;
      },
      (error: unknown) => {
        traces.active--;
        d.duration('origin', (performance.now() - t0) / 1000);
        d.stats.originErrors++;
        throw error;
      },
    );
    const stale = c.stale;
    try {
      const soft = stale !== undefined ? c.f.softTimeout : 0;
      if (soft <= 0 && c.f.hardTimeout <= 0) return await settled;
      const value = await withTimeouts(settled, soft, c.f.hardTimeout, c.f);
      if (value !== SLOW || stale === undefined) return value;
      d.stats.l1Stale++;
      return stale.value;
    } catch (error) {
      if (stale !== undefined && d.now() < stale.stale) {
        d.stats.l1Stale++;
        return stale.value;
      }
      throw error;
    }
  }

  /** Keeps the origin's result unless the load was invalidated, read inside a transaction, or returned no data. */
  private keep(c: Call, value: unknown): void {
    const d = this.d;
    const f = c.f;
    const reason = notDataReason(value);
    if (reason !== undefined) return d.notLoader(f, reason);
    const trace = c.flight.trace;
    if (c.flight.invalidated || trace.tainted !== undefined) {
      if (c.leased) d.entries.release(f, c.argKey);
      return;
    }
    let tags = c.tags;
    if (trace.tags.size > 0) {
      const all = new Set([...(tags ?? []), ...trace.tags]);
      // Whatever read a table goes when "every table" is written (a CALL, DDL, an unknown catalog).
      for (const tag of trace.tags) if (tag.startsWith(TABLE_TAG)) all.add(ALL_TABLES_TAG);
      tags = [...all];
    }
    if (tags !== undefined) rememberTags(f, tags);
    const why: { text?: string } = {};
    if (d.entries.keep({ f, key: c.key, argKey: c.argKey, value, tags, started: c.started, leased: c.leased }, why) === NOT_DATA) {
      d.warn(f, 'not-data', WRN_NOT_DATA, `cache: a result of ${f.name} is not plain data and was not cached (nothing of it was frozen)`, why.text);
    }
  }
}

/**
 * The tags a function's entries usually carry, fetched with each L2 read. Single-row tags are left out:
 * each entry has its own, so remembering them would fill the list with other calls' rows (and make
 * every L2 read fetch 32 useless tag times, then a second round trip for its own).
 */
function rememberTags(f: Fn, tags: readonly string[]): void {
  for (const tag of tags) {
    if (isValueTag(tag) || f.seenTags.includes(tag)) continue;
    if (f.seenTags.length >= MAX_SEEN_TAGS) f.seenTags.shift();
    f.seenTags.push(tag);
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
