import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** One reader's view of the delay: its own histogram, emptied when that reader says so. */
export interface DelayReader {
  /** Delay beyond the timer period since this reader's last `reset()`, in nanoseconds. */
  readonly histogram: RecordableHistogram;
  reset(): void;
  /** Stops this reader; the sampler's timer stops with the last one. */
  close(): void;
}

/**
 * The event-loop delay sampler the preload's plugins share (heap-budget's delay rule, the diagnostics
 * snapshot), so the process runs one, not one per plugin. Readers want different intervals (500 ms for
 * the budget, "since the previous snapshot" for diagnostics), and Node's `monitorEventLoopDelay`
 * histogram cannot be merged into another or read by two without one resetting it for both, so one
 * timer measures each tick's lateness and records it into every open reader's histogram.
 *
 * The timer runs only while a reader is open (zero cost when no feature asks) and is unref'd.
 */
export class LoopDelay {
  private readonly readers = new Set<RecordableHistogram>();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    /** Timer period in ms; what the loop adds on top of it is the delay. */
    readonly resolutionMs = 20,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** How many readers are open (for tests and the diagnostics snapshot). */
  get readerCount(): number {
    return this.readers.size;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  open(): DelayReader {
    const histogram = createHistogram();
    this.readers.add(histogram);
    if (this.timer === undefined) {
      this.last = this.now();
      this.timer = setInterval(() => this.tick(), this.resolutionMs).unref();
    }
    let open = true;
    return {
      histogram,
      reset: () => histogram.reset(),
      close: () => {
        if (!open) return;
        open = false;
        this.readers.delete(histogram);
        if (this.readers.size === 0 && this.timer !== undefined) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      },
    };
  }

  /** One tick: how late it came, recorded once per reader. Public so tests can drive it with a fake clock. */
  tick(): void {
    const now = this.now();
    // A histogram records integers ≥ 1; a tick on time records 1 ns, which reads as 0 ms.
    const lateNs = Math.max(1, Math.round((now - this.last - this.resolutionMs) * 1e6));
    this.last = now;
    for (const histogram of this.readers) histogram.record(lateNs);
  }
}

/** p50/p99/max/mean of a reader's histogram in ms (two decimals), or null before the first tick. */
export function delayMs(histogram: RecordableHistogram): { p50: number; p99: number; max: number; mean: number } | null {
  if (histogram.count === 0) return null;
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), mean: ms(histogram.mean) };
}
