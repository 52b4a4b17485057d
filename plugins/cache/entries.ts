import { L1, type L1Entry } from './l1.js';
import { UNAVAILABLE, type L2 } from './l2.js';
import { decode, encode, type StoredEntry } from './codec.js';
import { freezeAndMeasure } from './freeze.js';
import { l2Key } from './keys.js';
import { SYNC, type Fn } from './fn.js';
import type { TagClock } from './tag-clock.js';
import type { Now } from './clock.js';

export interface EntriesOptions {
  keyPrefix: string;
  l1MaxTtl: number;
  jitter: number;
  compressAboveBytes: number;
  now: Now;
}

/** One result to keep, as the miss path hands it over. */
export interface Keep {
  f: Fn;
  key: string;
  argKey: string;
  value: unknown;
  tags: readonly string[] | undefined;
  /** When the load started: an invalidation at or after it means the value may be older than the data. */
  started: number;
  /** This instance holds the L2 lease for the key (release it once written). */
  leased: boolean;
}

export const STORED = 0;
export const SKIPPED = 1;
/** The value holds something that is not plain data: it was neither frozen nor kept. */
export const NOT_DATA = 2;

/**
 * The entries: L1, and L2 when there is one. Owns how a value becomes an entry (frozen, measured, its
 * times), how an L2 entry is read back (decoded, checked against its tags' invalidation times) and where
 * each is kept. Holds no per-call state.
 */
export class Entries {
  constructor(
    readonly l1: L1,
    /** Set once the store is connected (Engine.attachStore). */
    public l2: L2 | undefined,
    private readonly tagClock: TagClock,
    private readonly o: EntriesOptions,
  ) {}

  l2Key(f: Fn, argKey: string): string {
    return l2Key(this.o.keyPrefix, f.fnKey, argKey);
  }

  tagKey(tag: string): string {
    return `${this.o.keyPrefix}:tag:${tag}`;
  }

  /** Freezes a result and keeps it in L1 and (in the background) L2, unless it must not be kept. */
  keep(k: Keep, reason: { text?: string } = {}): typeof STORED | typeof SKIPPED | typeof NOT_DATA {
    const { f, value } = k;
    const empty = value === null || value === undefined || (Array.isArray(value) && value.length === 0);
    const l2 = f.l2 && f.mode !== SYNC ? this.l2 : undefined;
    const l2key = l2 === undefined ? undefined : this.l2Key(f, k.argKey);
    const release = (): void => {
      if (k.leased && l2 !== undefined && l2key !== undefined) l2.write((store) => store.release?.(`${l2key}:lease`) ?? Promise.resolve());
    };
    if ((empty && f.negativeTtl === 0) || this.tagClock.since(k.tags, k.started)) {
      release();
      return SKIPPED;
    }
    const walk = freezeAndMeasure(value);
    if (!walk.portable) {
      reason.text = walk.reason;
      release();
      return NOT_DATA;
    }
    const t = this.o.now();
    const base = empty ? Math.min(f.negativeTtl, f.ttl) : f.ttl;
    const ttl = Math.max(1, Math.round(base * (1 - Math.random() * this.o.jitter)));
    const stored: StoredEntry = { value, created: k.started, expires: t + ttl, grace: t + ttl + f.grace, stale: t + ttl + Math.max(f.grace, f.staleIfError), tags: k.tags };
    this.fill(k.key, stored, l2 !== undefined, walk.bytes);
    if (l2 !== undefined && l2key !== undefined) {
      const text = encode(stored, this.o.compressAboveBytes);
      const ms = stored.stale - t;
      const leased = k.leased;
      l2.write(async (store) => {
        await store.set(l2key, text, ms);
        if (leased) await store.release?.(`${l2key}:lease`);
      });
    }
    return STORED;
  }

  /** True when one of `tags` was invalidated (by this process's tag clock) at or after `since`. */
  invalidatedSince(tags: Iterable<string>, since: number): boolean {
    return this.tagClock.since(tags, since);
  }

  /** Gives up this instance's L2 lease for a key it will not store. */
  release(f: Fn, argKey: string): void {
    const l2key = this.l2Key(f, argKey);
    this.l2?.write((store) => store.release?.(`${l2key}:lease`) ?? Promise.resolve());
  }

  /** Puts an entry in L1 (its value already frozen and measured); L1 freshness is capped when L2 is shared. */
  fill(key: string, stored: StoredEntry, shared: boolean, bytes: number): L1Entry {
    const t = this.o.now();
    const cap = shared && this.o.l1MaxTtl > 0 ? t + this.o.l1MaxTtl : Infinity;
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

  /** An L2 entry into L1 (frozen first, like every cached value). */
  adopt(key: string, found: StoredEntry): L1Entry {
    return this.fill(key, found, true, freezeAndMeasure(found.value).bytes);
  }

  /**
   * The entry if L2 has a valid one; `UNAVAILABLE` when L2 could not be asked (breaker open, error, timeout).
   * Tag times are fetched with the entry for the tags `guess` names (the function's usual tags: its tables),
   * and in a second round trip only for tags of the entry outside the guess.
   */
  async read(l2: L2, l2key: string, guess: readonly string[], why: { invalidated?: boolean } = {}): Promise<StoredEntry | undefined | typeof UNAVAILABLE> {
    const result = await l2.getMany([l2key, ...guess.map((tag) => this.tagKey(tag))]);
    if (result === UNAVAILABLE) return UNAVAILABLE;
    if (result[0] === undefined) return undefined;
    const entry = decode(result[0]);
    if (entry === undefined) return undefined;
    if (this.tagClock.since(entry.tags, entry.created)) return void (why.invalidated = true);
    const times = new Map<string, string | undefined>();
    guess.forEach((tag, i) => times.set(tag, result[i + 1]));
    const missing = (entry.tags ?? []).filter((tag) => !times.has(tag));
    if (missing.length > 0) {
      const more = await l2.getMany(missing.map((tag) => this.tagKey(tag)));
      if (more === UNAVAILABLE) return UNAVAILABLE;
      missing.forEach((tag, i) => times.set(tag, more[i]));
    }
    for (const tag of entry.tags ?? []) {
      const time = times.get(tag);
      const at = Number(time);
      if (time !== undefined && Number.isFinite(at) && at >= entry.created) return void (why.invalidated = true);
    }
    // Again after the second round trip: a write of this process may have dropped one of the entry's tags
    // meanwhile, before its time reached L2 (seen as stale reads in the cache-app bench under load).
    if (missing.length > 0 && this.tagClock.since(entry.tags, entry.created)) return void (why.invalidated = true);
    return entry;
  }
}
