/**
 * The waiting room in front of the limit: a FIFO bounded in length and in time, pure (the clock is a
 * parameter; whoever owns it decides when to call `expire`). A Set keeps insertion order and deletes in O(1),
 * so an entry whose client went away leaves from the middle without a scan.
 */
export interface Waiting<T> {
  readonly item: T;
  readonly enqueuedAt: number;
}

export class WaitQueue<T> {
  private readonly entries = new Set<Waiting<T>>();

  constructor(
    /** Read at every push, so the bound can follow the concurrency limit. */
    private readonly capacity: () => number,
    private readonly maxWaitMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Undefined when the queue is full (or has no room at all: capacity 0). */
  push(item: T): Waiting<T> | undefined {
    if (this.entries.size >= this.capacity()) return undefined;
    const entry = { item, enqueuedAt: this.now() };
    this.entries.add(entry);
    return entry;
  }

  /** Removes an entry wherever it is; false if it had already left. */
  remove(entry: Waiting<T>): boolean {
    return this.entries.delete(entry);
  }

  /** The oldest entry that has not outwaited its bound, with how long it waited. */
  shift(): { entry: Waiting<T>; waitedMs: number } | undefined {
    for (const entry of this.entries) {
      this.entries.delete(entry);
      return { entry, waitedMs: this.now() - entry.enqueuedAt };
    }
    return undefined;
  }

  /** Takes out, oldest first, every entry that has waited `maxWaitMs` or more. */
  expire(): Waiting<T>[] {
    const now = this.now();
    const out: Waiting<T>[] = [];
    for (const entry of this.entries) {
      if (now - entry.enqueuedAt < this.maxWaitMs) break; // FIFO: the rest are younger
      this.entries.delete(entry);
      out.push(entry);
    }
    return out;
  }

  /** When the oldest entry's wait runs out, on the injected clock; undefined when empty. */
  nextDeadline(): number | undefined {
    for (const entry of this.entries) return entry.enqueuedAt + this.maxWaitMs;
    return undefined;
  }

  /** Empties the queue, oldest first (on close). */
  drain(): Waiting<T>[] {
    const out = [...this.entries];
    this.entries.clear();
    return out;
  }
}
