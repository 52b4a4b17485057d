import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { L1, type L1Entry } from './l1.js';
import { L2 } from './l2.js';
import { Bus, type BusMessage } from './bus.js';
import { Stats, type DurationRecorder } from './stats.js';
import { argsKey, l2Key, UnkeyableError } from './keys.js';
import { freezeAndMeasure } from './freeze.js';
import { encode, type StoredEntry } from './codec.js';
import { now } from './clock.js';
import { lifetime, resolveFn, SYNC, type Fn } from './fn.js';
import { makeWrapper } from './wrap.js';
import { WRN_BREAKER_OPEN, WRN_BUS_RECONNECTED, WRN_NOT_PORTABLE, WRN_UNKEYABLE } from './codes.js';
import { OPEN, CLOSED, type BreakerState } from './breaker.js';
import type { CacheApi, CachedOptions, CacheSnapshot, EngineOptions } from './types.js';

type Loose = (...args: unknown[]) => unknown;

/** One load in progress for one key: concurrent callers share it (single flight). */
export interface Flight {
  promise: Promise<unknown>;
  /** Set when the key or one of its tags is invalidated meanwhile: the result is returned but not stored. */
  invalidated: boolean;
}

/** Past this many cached functions, `cached()` returns the function unwrapped (someone wraps per request). */
const MAX_FUNCTIONS = 10_000;
/** Tag invalidation times remembered here; L2 keeps them too, so forgetting one only costs an L2 check. */
const MAX_TAGS = 10_000;
const DAY = 86_400_000;

/**
 * The two-level cache: functions, their L1 and L2 entries, single flight, invalidation and the bus.
 * The hot path lives in wrap.ts and the miss path in load.ts; this class holds the state they share.
 */
export class Engine implements CacheApi {
  readonly stats = new Stats();
  readonly l1: L1;
  readonly l2: L2 | undefined;
  readonly bus: Bus | undefined;
  readonly flights = new Map<string, Flight>();
  readonly token = crypto.randomUUID();
  onDuration: DurationRecorder = () => {};
  private readonly byWrapper = new WeakMap<object, Fn>();
  private readonly byOriginal = new WeakMap<object, Fn>();
  private readonly byName = new Map<string, Fn>();
  private readonly byFnKey = new Map<string, Fn>();
  private readonly wrappers = new WeakMap<Fn, Loose>();
  private readonly tagClock = new LRUCache<string, number>({ max: MAX_TAGS });
  private slots = 0;
  private longestLifetime = DAY;
  private lastBreakerWarning = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(readonly options: EngineOptions) {
    this.l1 = new L1(options.l1Bytes, options.l1MaxEntryBytes);
    const store = options.store;
    if (store) {
      this.l2 = new L2(store, options.commandTimeoutMs, {
        threshold: options.breakerThreshold,
        cooldownMs: options.breakerCooldownMs,
        onChange: (state, previous) => this.breakerChanged(state, previous),
      });
      if (options.bus && store.redis) {
        this.bus = new Bus(store.redis, options.keyPrefix, {
          onMessage: (message) => this.received(message),
          onReconnect: () => {
            this.l1.clear();
            options.log.warn(WRN_BUS_RECONNECTED, 'cache: the invalidation bus reconnected; L1 was flushed since messages may have been missed');
          },
          onError: () => {},
        });
      }
      if (store.sweep) {
        const sweep = store.sweep.bind(store);
        this.sweeper = setInterval(() => this.l2?.write(() => sweep(options.keyPrefix, 1000)), 60_000).unref();
      }
    }
  }

  cached<F extends (...args: never[]) => unknown>(fn: F, options: CachedOptions = {}): F {
    if (typeof fn !== 'function') throw new TypeError('cached(fn, options): fn must be a function');
    const loose = fn as unknown as Loose;
    if (this.byWrapper.has(loose)) return fn;
    const existing = this.byOriginal.get(loose);
    if (existing && (options.name === undefined || options.name === existing.name)) return this.wrapperOf(existing) as unknown as F;
    if (this.slots >= MAX_FUNCTIONS) {
      this.options.log.once('cache:functions', 'warn', WRN_UNKEYABLE, `cache: more than ${MAX_FUNCTIONS} cached functions; further ones run uncached (is cached() called per request?)`);
      return fn;
    }
    const f = resolveFn(loose, options, this.options.defaults, this.slots++);
    this.longestLifetime = Math.max(this.longestLifetime, lifetime(f));
    const wrapper = makeWrapper(this, f);
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

  /** The key text of one call, or undefined (and a warning once) when its arguments cannot be keyed. */
  argKeyOf(f: Fn, args: ArrayLike<unknown>): string | undefined {
    try {
      return f.keyOf === undefined ? argsKey(args) : argsKey([f.keyOf(...Array.from(args))]);
    } catch (error) {
      this.warnOnce(f, 'unkeyable', WRN_UNKEYABLE, `cache: a call of ${f.name} cannot be keyed; it runs uncached`, error instanceof UnkeyableError ? error.message : String(error));
      return undefined;
    }
  }

  lookup(fnOrName: Loose | string): Fn | undefined {
    if (typeof fnOrName === 'string') return this.byName.get(fnOrName) ?? this.byFnKey.get(fnOrName);
    return this.byWrapper.get(fnOrName) ?? this.byOriginal.get(fnOrName);
  }

  async invalidate(fnOrName: ((...args: never[]) => unknown) | string, ...args: unknown[]): Promise<void> {
    const f = this.lookup(fnOrName as Loose | string);
    if (!f) return;
    const argKey = this.argKeyOf(f, args);
    if (argKey === undefined) return;
    this.dropLocal(f, argKey);
    if (this.l2 && f.l2) {
      const key = l2Key(this.options.keyPrefix, f.fnKey, argKey);
      await this.l2.run((store) => store.delete([key]));
    }
    // Also for L1-only functions: other instances hold their own copies.
    this.publish({ f: f.fnKey, a: [argKey] });
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (!Array.isArray(tags) || tags.length === 0) return;
    const at = Date.now();
    this.dropTags(tags, at);
    if (this.l2) {
      const ttl = this.longestLifetime;
      await this.l2.run((store) => Promise.all(tags.map((tag) => store.set(this.tagKey(tag), String(at), ttl))));
      this.publish({ t: [...tags], at });
    }
  }

  tagKey(tag: string): string {
    return `${this.options.keyPrefix}:tag:${tag}`;
  }

  /** True when one of `tags` was invalidated at or after `since` (as far as this instance knows). */
  tagInvalidatedSince(tags: readonly string[] | undefined, since: number): boolean {
    if (tags === undefined) return false;
    for (const tag of tags) {
      const at = this.tagClock.get(tag);
      if (at !== undefined && at >= since) return true;
    }
    return false;
  }

  /** Freezes a result and keeps it in L1 and (in the background) L2; returns the frozen value. */
  store(f: Fn, key: string, argKey: string, value: unknown, tags: readonly string[] | undefined, started: number, flight: Flight | undefined, leased: boolean): unknown {
    const empty = value === null || value === undefined || (Array.isArray(value) && value.length === 0);
    const l2 = f.l2 && f.mode !== SYNC ? this.l2 : undefined;
    const l2key = l2 ? l2Key(this.options.keyPrefix, f.fnKey, argKey) : undefined;
    const release = (): void => {
      if (leased && l2 && l2key) l2.write((store) => store.release?.(`${l2key}:lease`) ?? Promise.resolve());
    };
    if ((empty && f.negativeTtl === 0) || flight?.invalidated || this.tagInvalidatedSince(tags, started)) {
      release();
      return value;
    }
    const walk = freezeAndMeasure(value);
    const t = now();
    const base = empty ? Math.min(f.negativeTtl, f.ttl) : f.ttl;
    const ttl = Math.max(1, Math.round(base * (1 - Math.random() * this.options.jitter)));
    const stored: StoredEntry = { value, created: started, expires: t + ttl, grace: t + ttl + f.grace, stale: t + ttl + Math.max(f.grace, f.staleIfError), tags };
    this.fill(key, stored, l2 !== undefined, walk.bytes);
    if (l2 && l2key) {
      if (!walk.portable) {
        this.warnOnce(f, 'portable', WRN_NOT_PORTABLE, `cache: a result of ${f.name} is kept in L1 only`, walk.reason);
        release();
      } else {
        const text = encode(stored, this.options.compressAboveBytes);
        const ms = stored.stale - t;
        l2.write(async (store) => {
          await store.set(l2key, text, ms);
          if (leased) await store.release?.(`${l2key}:lease`);
        });
      }
    }
    return value;
  }

  /** Puts an entry in L1 (its value already frozen and measured); L1 freshness is capped when L2 is shared. */
  fill(key: string, stored: StoredEntry, shared: boolean, bytes: number): L1Entry {
    const t = now();
    const cap = shared && this.options.l1MaxTtl > 0 ? t + this.options.l1MaxTtl : Infinity;
    const entry: L1Entry = {
      value: stored.value,
      promise: Promise.resolve(stored.value),
      fresh: Math.min(stored.expires, cap),
      expires: stored.expires,
      grace: stored.grace,
      stale: stored.stale,
      created: stored.created,
      tags: stored.tags,
    };
    if (stored.stale > t) this.l1.set(key, entry, bytes, stored.stale - t);
    return entry;
  }

  warnOnce(f: Fn, what: string, code: Parameters<EngineOptions['log']['warn']>[0], message: string, reason?: string): void {
    if (f.warned.has(what)) return;
    f.warned.add(what);
    this.options.log.warn(code, message, reason === undefined ? undefined : { reason });
  }

  private dropLocal(f: Fn, argKey: string): void {
    const key = f.prefix + argKey;
    this.l1.delete(key);
    const flight = this.flights.get(key);
    if (flight) flight.invalidated = true;
  }

  private dropTags(tags: readonly string[], at: number): void {
    for (const tag of tags) {
      if (typeof tag !== 'string') continue;
      this.tagClock.set(tag, Math.max(at, this.tagClock.get(tag) ?? 0));
      this.l1.deleteTag(tag);
    }
  }

  private publish(message: { f: string; a: string[] } | { t: string[]; at: number }): void {
    const bus = this.bus;
    const redis = this.options.store?.redis;
    if (!bus || !redis || !this.l2) return;
    const text = bus.encode(message as BusMessage);
    if (text === undefined) return;
    this.stats.busSent++;
    this.l2.write(() => redis.publish(bus.channel, text));
  }

  private received(message: BusMessage): void {
    this.stats.busReceived++;
    if ('f' in message && typeof message.f === 'string' && Array.isArray(message.a)) {
      const f = this.byFnKey.get(message.f);
      if (f) for (const argKey of message.a) if (typeof argKey === 'string') this.dropLocal(f, argKey);
    } else if ('t' in message && Array.isArray(message.t) && typeof message.at === 'number') {
      this.dropTags(message.t, message.at);
    }
  }

  private breakerChanged(state: BreakerState, previous: BreakerState): void {
    if (state === OPEN && previous !== OPEN && Date.now() - this.lastBreakerWarning > 60_000) {
      this.lastBreakerWarning = Date.now();
      this.options.log.warn(WRN_BREAKER_OPEN, `cache: L2 (${this.options.store?.kind}) is failing or slower than ${this.options.commandTimeoutMs} ms; serving from L1 and the origin until it recovers`);
    } else if (state === CLOSED && previous !== CLOSED) {
      this.options.log.info(`cache: L2 (${this.options.store?.kind}) recovered`);
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
    await this.options.store?.close().catch(() => {});
    this.l1.clear();
  }
}
