import { crypto } from '../../src/lazy-crypto.js';
import { L1 } from './l1.js';
import { L2, UNAVAILABLE } from './l2.js';
import { Bus, type BusMessage } from './bus.js';
import { Stats, type DurationRecorder } from './stats.js';
import { argsKey, scan, UnkeyableError } from './keys.js';
import { coarseNow, type Now } from './clock.js';
import { lifetime, resolveFn, type Fn } from './fn.js';
import { makeWrapper, type HotPath } from './wrap.js';
import { Loader } from './load.js';
import { Entries } from './entries.js';
import { Flights } from './flights.js';
import { TagClock } from './tag-clock.js';
import { ALL_TABLES_TAG, tableTag } from './trace.js';
import { describeArg, isTransactionHandle, unwrappableReason } from './args.js';
import { WRN_BREAKER_OPEN, WRN_BUS_RECONNECTED, WRN_NOT_LOADER, WRN_UNKEYABLE, } from './codes.js';
import { OPEN, CLOSED, type BreakerState } from './breaker.js';
import type { CacheApi, CachedOptions, CacheSnapshot, EngineOptions } from './types.js';
import type { Store } from './stores.js';
import type { Code } from '../../src/errors.js';

type Loose = (...args: unknown[]) => unknown;

/** Past this many cached functions, `cached()` returns the function unwrapped (someone wraps per request). */
const MAX_FUNCTIONS = 10_000;
/** Tag invalidations that could not reach L2 (breaker open), written when it recovers; bounded. */
const MAX_UNWRITTEN_TAGS = 10_000;
const DAY = 86_400_000;

/**
 * The two-level cache's front: the registry of cached functions, the API (cached, invalidate*), the
 * invalidation paths (local, L2, bus) and the wiring. The state has one owner each: entries (L1, L2) in
 * `Entries`, tag invalidation times in `TagClock`, loads in progress in `Flights`; the hot path is in
 * wrap.ts and the miss path in load.ts, which get those pieces once, as a record.
 */
export class Engine implements CacheApi {
  readonly stats = new Stats();
  readonly l1: L1;
  private l2Level: L2 | undefined;
  private busLink: Bus | undefined;
  readonly now: Now;
  /** Stamps invalidations (see `EngineOptions.wallNow`); the breaker's warning interval reads it too. */
  private readonly wallNow: Now;
  onDuration: DurationRecorder = () => {};
  private readonly tagClock: TagClock;
  private readonly entries: Entries;
  private readonly flights: Flights;
  private readonly hot: HotPath;
  private readonly byWrapper = new WeakMap<object, Fn>();
  private readonly byOriginal = new WeakMap<object, Fn>();
  private readonly byName = new Map<string, Fn>();
  private readonly byFnKey = new Map<string, Fn>();
  private readonly wrappers = new WeakMap<Fn, Loose>();
  private readonly unwritten = new Map<string, number>();
  private slots = 0;
  private longestLifetime = DAY;
  private lastBreakerWarning = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(readonly options: EngineOptions) {
    this.now = options.now ?? coarseNow;
    this.wallNow = options.wallNow ?? options.now ?? Date.now;
    this.l1 = new L1(options.l1Bytes, options.l1MaxEntryBytes);
    this.tagClock = new TagClock(this.l1);
    this.entries = new Entries(this.l1, undefined, this.tagClock, { keyPrefix: options.keyPrefix, l1MaxTtl: options.l1MaxTtl, jitter: options.jitter, compressAboveBytes: options.compressAboveBytes, now: this.now });
    this.flights = new Flights(options.maxInFlight);
    this.hot = this.makeHotPath();
    if (options.store) this.attachStore(options.store);
  }

  get l2(): L2 | undefined {
    return this.l2Level;
  }

  get bus(): Bus | undefined {
    return this.busLink;
  }

  /**
   * Adds the shared level once its store is connected. The plugin builds the engine before that, so the
   * functions of the config are wrapped before the app loads its modules, whatever the store's start-up takes.
   */
  attachStore(store: Store): void {
    if (this.l2Level) return;
    const options = this.options;
    // What L1 holds so far was never shared, and other instances' invalidations could not reach it.
    this.l1.clear();
    {
      this.l2Level = new L2(store, options.commandTimeoutMs, {
        threshold: options.breakerThreshold,
        cooldownMs: options.breakerCooldownMs,
        onChange: (state, previous) => this.breakerChanged(state, previous),
        clock: options.now,
      });
      this.entries.l2 = this.l2Level;
      const transport = options.bus ? store.busTransport?.(`${options.keyPrefix}:bus`) : undefined;
      if (transport) {
        this.busLink = new Bus(transport, {
          onMessage: (message) => this.received(message),
          onReconnect: () => {
            this.l1.clear();
            options.log.warn(WRN_BUS_RECONNECTED, `cache: the invalidation bus (${store.kind}) reconnected; L1 was flushed since messages may have been missed`);
          },
        });
      }
      if (store.sweep) {
        const sweep = store.sweep.bind(store);
        this.sweeper = setInterval(() => this.l2?.write(() => sweep(options.keyPrefix, 1000)), 60_000).unref();
      }
    }
  }

  private makeHotPath(): HotPath {
    const options = this.options;
    let token: string | undefined;
    const loader = new Loader({
      entries: this.entries,
      flights: this.flights,
      stats: this.stats,
      now: this.now,
      leaseMs: options.leaseMs,
      leaseWaitMs: options.leaseWaitMs,
      // Made when a lease is first asked for (only with an L2 store).
      get token() {
        return (token ??= crypto().randomUUID());
      },
      duration: (level, seconds) => this.onDuration(level, seconds),
      warn: (f, what, code, message, reason) => this.warnOnce(f, what, code, message, reason),
      notLoader: (f, reason) => this.notLoader(f, reason),
      handoff: options.handoff,
    });
    return { l1: this.l1, stats: this.stats, now: this.now, loader, slowKey: (f, args) => this.slowKey(f, args) };
  }

  cached<F extends (...args: never[]) => unknown>(fn: F, options: CachedOptions = {}): F {
    if (typeof fn !== 'function') throw new TypeError('cached(fn, options): fn must be a function');
    const loose = fn as unknown as Loose;
    if (this.byWrapper.has(loose)) return fn;
    const existing = this.byOriginal.get(loose);
    if (existing && (options.name === undefined || options.name === existing.name)) return this.wrapperOf(existing) as unknown as F;
    const unwrappable = unwrappableReason(loose);
    if (unwrappable !== undefined) {
      this.options.log.warn(WRN_NOT_LOADER, `cache: ${options.name ?? (fn.name || 'a function')} is not a data loader (${unwrappable}); it is left untouched`);
      return fn;
    }
    if (this.slots >= MAX_FUNCTIONS) {
      this.options.log.once('cache:functions', 'warn', WRN_UNKEYABLE, `cache: more than ${MAX_FUNCTIONS} cached functions; further ones run uncached (is cached() called per request?)`);
      return fn;
    }
    const f = resolveFn(loose, options, this.options.defaults, this.slots++);
    this.longestLifetime = Math.max(this.longestLifetime, lifetime(f));
    const wrapper = makeWrapper(this.hot, f);
    this.byWrapper.set(wrapper, f);
    this.byOriginal.set(loose, f);
    this.byName.set(f.name, f);
    this.byFnKey.set(f.fnKey, f);
    this.wrappers.set(f, wrapper);
    return wrapper as unknown as F;
  }

  private wrapperOf(f: Fn): Loose {
    return this.wrappers.get(f) ?? f.fn;
  }

  /**
   * The key of a call the fast path left: one with handle arguments (left out of the key, logged once;
   * a transaction's handle or a callback bypasses), a `key` option, or unkeyable arguments (warned once).
   */
  private slowKey(f: Fn, args: IArguments): string | undefined {
    let argKey: string | undefined;
    try {
      argKey = argsKey(args);
    } catch (error) {
      if (f.keyOf === undefined) return this.unkeyable(f, error);
    }
    if (scan.callback) {
      this.notLoader(f, 'it was called with a callback');
      return undefined;
    }
    if (scan.handles !== 0) {
      const inTransaction = this.options.inTransaction;
      for (let i = 0; i < args.length; i++) {
        if ((scan.handles & (1 << Math.min(i, 30))) === 0) continue;
        // Inside a transaction the function must see that transaction's own writes: never from the cache.
        if (isTransactionHandle(args[i], inTransaction)) return undefined;
      }
      if (!f.warned.has('handles') && f.keyOf === undefined) {
        f.warned.add('handles');
        const left = Array.from(args, (a, i) => ((scan.handles & (1 << Math.min(i, 30))) !== 0 ? `${i} (${describeArg(a)})` : undefined)).filter(Boolean);
        this.options.log.info(`cache: ${f.name}: argument ${left.join(', ')} left out of the key (connection handle or context); set \`key\` to choose the key arguments`);
      }
    }
    if (f.keyOf === undefined) return argKey;
    try {
      const key = argsKey([f.keyOf(...Array.from(args))]);
      if (scan.handles !== 0) throw new UnkeyableError('the key option returned a connection handle or context');
      return key;
    } catch (error) {
      return this.unkeyable(f, error);
    }
  }

  private unkeyable(f: Fn, error: unknown): undefined {
    this.warnOnce(f, 'unkeyable', WRN_UNKEYABLE, `cache: a call of ${f.name} cannot be keyed; it runs uncached`, error instanceof UnkeyableError ? error.message : String(error));
    return undefined;
  }

  /** From now on the function runs as itself: its results are not data (or it takes a callback). */
  private notLoader(f: Fn, reason: string): void {
    if (f.delegate === f.fn) return;
    f.delegate = f.fn;
    this.options.log.warn(WRN_NOT_LOADER, `cache: ${f.name} is not a data loader (${reason}); it runs untouched from now on`);
  }

  lookup(fnOrName: Loose | string): Fn | undefined {
    if (typeof fnOrName === 'string') return this.byName.get(fnOrName) ?? this.byFnKey.get(fnOrName);
    return this.byWrapper.get(fnOrName) ?? this.byOriginal.get(fnOrName);
  }

  async invalidate(fnOrName: ((...args: never[]) => unknown) | string, ...args: unknown[]): Promise<void> {
    const f = this.lookup(fnOrName as Loose | string);
    if (!f) return;
    let argKey: string | undefined;
    try {
      argKey = f.keyOf === undefined ? argsKey(args) : argsKey([f.keyOf(...args)]);
    } catch (error) {
      argKey = this.unkeyable(f, error);
    }
    if (argKey === undefined) return;
    this.dropKey(f, argKey);
    if (this.l2 && f.l2) {
      const key = this.entries.l2Key(f, argKey);
      await this.l2.run((store) => store.delete([key]));
    }
    // Also for L1-only functions: other instances hold their own copies.
    this.publish({ f: f.fnKey, a: [argKey] });
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (!Array.isArray(tags) || tags.length === 0) return;
    await this.dropTagsEverywhere(tags.filter((t): t is string => typeof t === 'string'));
  }

  async invalidateTables(tables: readonly string[]): Promise<void> {
    await this.dropTagsEverywhere(tables.map(tableTag));
  }

  /**
   * A write to `tables` (or to every table) ended: drops the entries that read them here, at once, so the
   * app's next read sees the write, then in L2 and on the other instances in the background.
   */
  tablesWritten(tables: readonly string[] | 'all'): void {
    this.tagsWritten(tables === 'all' ? 'all' : tables.map(tableTag));
  }

  /** The same for the tags of written rows and tables (row-tags.ts). */
  tagsWritten(tags: readonly string[] | 'all'): void {
    void this.dropTagsEverywhere(tags === 'all' ? [ALL_TABLES_TAG] : [...tags]);
  }

  /** Synchronously here (before the first await), then L2 and the bus. */
  private async dropTagsEverywhere(tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    const at = this.wallNow();
    this.tagClock.drop(tags, at);
    if (!this.l2) return;
    this.publish({ t: tags, at });
    await this.writeTagTimes(tags, at);
  }

  /** Tag times in L2; kept for later when L2 is unavailable (an L2 entry older than a lost invalidation would be served). */
  private async writeTagTimes(tags: readonly string[], at: number): Promise<void> {
    const l2 = this.l2;
    if (!l2) return;
    const ttl = this.longestLifetime;
    const result = await l2.run((store) => Promise.all(tags.map((tag) => store.set(this.entries.tagKey(tag), String(at), ttl))));
    if (result !== UNAVAILABLE) return;
    for (const tag of tags) {
      if (this.unwritten.size >= MAX_UNWRITTEN_TAGS) this.unwritten.delete(this.unwritten.keys().next().value!);
      this.unwritten.set(tag, Math.max(at, this.unwritten.get(tag) ?? 0));
    }
  }

  private flushUnwritten(): void {
    const pending = [...this.unwritten];
    this.unwritten.clear();
    for (const [tag, at] of pending) void this.writeTagTimes([tag], at);
  }

  private dropKey(f: Fn, argKey: string): void {
    const key = f.prefix + argKey;
    this.l1.delete(key);
    this.flights.invalidate(key);
  }

  private publish(message: { f: string; a: string[] } | { t: string[]; at: number }): void {
    const bus = this.bus;
    if (!bus || !this.l2) return;
    const text = bus.encode(message);
    if (text === undefined) return;
    this.stats.busSent++;
    bus.publish(text);
  }

  private received(message: BusMessage): void {
    this.stats.busReceived++;
    if ('f' in message && typeof message.f === 'string' && Array.isArray(message.a)) {
      const f = this.byFnKey.get(message.f);
      if (f) for (const argKey of message.a) if (typeof argKey === 'string') this.dropKey(f, argKey);
    } else if ('t' in message && Array.isArray(message.t) && typeof message.at === 'number') {
      // A load here that started before this message may have read the old data, whatever the sender's
      // clock said: the time of receipt counts too. When this clock is ahead, L2 learns it as well, so an
      // entry this instance wrote just before is not taken as newer than the invalidation.
      const local = this.wallNow();
      const tags = message.t.filter((t): t is string => typeof t === 'string');
      this.tagClock.drop(tags, Math.max(local, message.at));
      if (local > message.at) void this.writeTagTimes(tags, local);
    }
  }

  warnOnce(f: Fn, what: string, code: Code, message: string, reason?: string): void {
    if (f.warned.has(what)) return;
    f.warned.add(what);
    this.options.log.warn(code, message, reason === undefined ? undefined : { reason });
  }

  private breakerChanged(state: BreakerState, previous: BreakerState): void {
    if (state === OPEN && previous !== OPEN && this.wallNow() - this.lastBreakerWarning > 60_000) {
      this.lastBreakerWarning = this.wallNow();
      this.options.log.warn(WRN_BREAKER_OPEN, `cache: L2 (${this.l2Level?.store.kind}) is failing or slower than ${this.options.commandTimeoutMs} ms; serving from L1 and the origin until it recovers`);
    } else if (state === CLOSED && previous !== CLOSED) {
      this.options.log.info(`cache: L2 (${this.l2Level?.store.kind}) recovered`);
      if (this.unwritten.size > 0) queueMicrotask(() => this.flushUnwritten());
    }
  }

  snapshot(): CacheSnapshot {
    const l1 = this.l1;
    return {
      l1: { bytes: l1.bytes, entries: l1.entries, budget: l1.currentBudget, evictions: l1.evictions },
      l2: this.l2 ? { store: this.l2.store.kind, breaker: (['closed', 'half-open', 'open'] as const)[this.l2.state], bus: this.bus?.connected ?? false } : undefined,
      counts: { ...this.stats },
    };
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.bus?.close();
    await this.l2Level?.store.close().catch(() => {});
    this.l1.clear();
  }
}
