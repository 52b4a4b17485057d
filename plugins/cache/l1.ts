import { LRUCache } from 'lru-cache';

/** One L1 entry. Times are ms since the epoch; the value is deep-frozen and `promise` resolves to it. */
export interface L1Entry {
  value: unknown;
  /** A promise of `value`, made once: an L1 hit of an async function returns it, allocating nothing. */
  promise: Promise<unknown>;
  /** L1 serves it without asking anyone until this time (capped below `expires` when L2 is shared). */
  fresh: number;
  /** The entry's own freshness (its TTL). */
  expires: number;
  /** Served at once while a refresh runs (stale-while-revalidate) until. */
  grace: number;
  /** Served if the origin fails or is slow (stale-if-error) until; L1 drops it after. */
  stale: number;
  created: number;
  tags: readonly string[] | undefined;
}

/** Bookkeeping per entry besides the estimated value size: the key (2 bytes a character) and the entry object. */
const ENTRY_OVERHEAD = 160;

/**
 * The in-process level: lru-cache bounded in bytes. The budget can be lowered at run time (heap pressure)
 * and raised back; lru-cache's `maxSize` is fixed at construction, so it is the ceiling and a lower budget
 * is enforced by popping least-recently-used entries.
 */
export class L1 {
  readonly lru: LRUCache<string, L1Entry> | undefined;
  private budget: number;
  /** Entries dropped to stay within the budget (not expiry, not invalidation). */
  evictions = 0;
  private readonly byTag = new Map<string, Set<string>>();

  constructor(
    readonly fullBudget: number,
    maxEntryBytes: number,
  ) {
    this.budget = fullBudget;
    this.lru =
      fullBudget > 0
        ? new LRUCache<string, L1Entry>({
            maxSize: fullBudget,
            maxEntrySize: maxEntryBytes > 0 ? Math.min(maxEntryBytes, fullBudget) : Math.max(1, Math.floor(fullBudget / 8)),
            // Only for sizes given on set; never called for our entries.
            sizeCalculation: () => 1,
            // Our entries carry their own times; lru-cache's TTL only drops them once they are past any use.
            ttlAutopurge: false,
            allowStale: false,
            dispose: (entry, key, reason) => {
              if (reason === 'evict') this.evictions++;
              if (entry.tags) this.unindex(key, entry.tags);
            },
          })
        : undefined;
  }

  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get entries(): number {
    return this.lru?.size ?? 0;
  }

  get currentBudget(): number {
    return this.budget;
  }

  /** `valueBytes` is the estimate of the value; `ttl` is how long the entry is of any use (until `stale`). */
  set(key: string, entry: L1Entry, valueBytes: number, ttl: number): void {
    const lru = this.lru;
    if (!lru) return;
    const size = valueBytes + ENTRY_OVERHEAD + 2 * key.length;
    if (size > this.budget) return;
    lru.set(key, entry, { size, ttl: Math.max(1, ttl) });
    if (entry.tags && lru.peek(key) === entry) {
      for (const tag of entry.tags) {
        let keys = this.byTag.get(tag);
        if (!keys) this.byTag.set(tag, (keys = new Set()));
        keys.add(key);
      }
    }
    while (lru.calculatedSize > this.budget && lru.size > 0) lru.pop();
  }

  delete(key: string): boolean {
    return this.lru?.delete(key) ?? false;
  }

  /** Drops every entry carrying `tag`; returns how many. */
  deleteTag(tag: string): number {
    const keys = this.byTag.get(tag);
    if (!keys || !this.lru) return 0;
    let n = 0;
    for (const key of [...keys]) if (this.lru.delete(key)) n++;
    this.byTag.delete(tag);
    return n;
  }

  clear(): void {
    this.lru?.clear();
    this.byTag.clear();
  }

  /** Lowers the budget to `fraction` of the full one and evicts down to it at once. */
  shrink(fraction: number): void {
    this.budget = Math.floor(this.fullBudget * fraction);
    const lru = this.lru;
    if (!lru) return;
    while (lru.calculatedSize > this.budget && lru.size > 0) lru.pop();
  }

  restore(): void {
    this.budget = this.fullBudget;
  }

  private unindex(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(tag);
    }
  }
}
