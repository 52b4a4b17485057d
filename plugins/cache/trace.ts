import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What one origin call depended on, collected while it runs: the tables its queries read (reported by the
 * pg plugin's query-start hook in the same async context) and the tags of the cached values it used (a
 * cached function calling another inherits its tags, so invalidating the inner one reaches the outer).
 * A trace is "tainted" when its result must not be kept: it read through a client inside a transaction
 * (uncommitted data, or a snapshot older than the last commit).
 */
export class LoadTrace {
  readonly tags = new Set<string>();
  tainted: string | undefined;
  private readonly parents: LoadTrace[] = [];

  constructor(parent: LoadTrace | undefined) {
    if (parent !== undefined) this.parents.push(parent);
  }

  addTags(tags: Iterable<string> | undefined): void {
    if (tags === undefined) return;
    for (const tag of tags) this.tags.add(tag);
    for (const parent of this.parents) parent.addTags(tags);
  }

  taint(reason: string): void {
    this.tainted ??= reason;
    for (const parent of this.parents) parent.taint(reason);
  }

  /** A caller that joins this load (single flight) depends on whatever it depends on. */
  addParent(parent: LoadTrace): void {
    if (parent === this || this.parents.includes(parent)) return;
    this.parents.push(parent);
    parent.addTags(this.tags);
    if (this.tainted !== undefined) parent.taint(this.tainted);
  }
}

/** The prefix of the tags that stand for tables: `@pg:users`; `@pg:*` is on every entry that read a table. */
export const TABLE_TAG = '@pg:';
export const ALL_TABLES_TAG = '@pg:*';
export const tableTag = (table: string): string => TABLE_TAG + table;

interface TraceState {
  storage: AsyncLocalStorage<LoadTrace>;
  /** Origin calls running now: the hot path reads the store only when some trace is open. */
  active: number;
}

/** One store for every copy of this module (the preload bundle and the API are separate module instances). */
const KEY = Symbol.for('plandex-perf.cache.trace');
const global = globalThis as Record<symbol, TraceState | undefined>;
export const traces: TraceState = (global[KEY] ??= { storage: new AsyncLocalStorage<LoadTrace>(), active: 0 });

/** The trace of the origin call running in this async context, if any. */
export function currentTrace(): LoadTrace | undefined {
  return traces.active > 0 ? traces.storage.getStore() : undefined;
}
