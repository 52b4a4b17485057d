import { LRUCache } from 'lru-cache';
import type { L1 } from './l1.js';

/** Tag invalidation times remembered here; L2 keeps them too, so forgetting one only costs an L2 check. */
const MAX_TAGS = 10_000;

/**
 * When each tag (user tags, tables as `@pg:<table>`) was last invalidated, as this instance knows it. An
 * entry created at or before that time is invalid: L1 drops its entries at once, a load that started
 * before it does not store its result, an L2 entry older than it is a miss.
 */
export class TagClock {
  private readonly times = new LRUCache<string, number>({ max: MAX_TAGS });
  constructor(private readonly l1: L1) {}

  drop(tags: readonly string[], at: number): void {
    for (const tag of tags) {
      if (typeof tag !== 'string') continue;
      this.times.set(tag, Math.max(at, this.times.get(tag) ?? 0));
      this.l1.deleteTag(tag);
    }
  }

  /** True when one of `tags` was invalidated at or after `since`. */
  since(tags: Iterable<string> | undefined, since: number): boolean {
    if (tags === undefined) return false;
    for (const tag of tags) {
      const at = this.times.get(tag);
      if (at !== undefined && at >= since) return true;
    }
    return false;
  }
}
