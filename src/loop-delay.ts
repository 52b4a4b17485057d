import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** One reader's view of the delay: its own histogram, emptied when that reader says so. */
export interface DelayReader {
  /** Delay beyond the sampler's period since this reader's last `reset()`, in nanoseconds. */
  readonly histogram: RecordableHistogram;
  /** The sampler's period now: the finest any open reader asked for. */
  readonly resolutionMs: number;
  reset(): void;
  /** Delay since the previous `take()`, then reset; undefined when fewer than `minSamples` ticks ran. */
  take(minSamples?: number): LoopDelaySummary | undefined;
  /** Stops this reader; the sampler's timer stops with the last one. */
  close(): void;
}

export interface LoopDelaySummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * The event-loop delay sampler: one per process (`loopDelay` below), read by every plugin that wants the
 * delay (runtime's gauges, heap-budget's delay rule, the diagnostics snapshot). Readers want different
 * cadences and each resets its own view, and Node's `monitorEventLoopDelay` histogram can be neither merged
 * into another nor read by two without one resetting it for both: so one unref'd timer, at the finest
 * resolution an open reader asked for, records how late each tick ran into every open reader's histogram.
 * One JS tick every 20 ms costs a few µs; before, three plugins ran three samplers (250 wake-ups a second).
 * The timer runs only while a reader is open.
 */
export class LoopDelay {
  private readonly readers = new Map<RecordableHistogram, number>(); // histogram → the resolution its reader asked for
  private timer: NodeJS.Timeout | undefined;
  private period = 0;
  private last = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** How many readers are open (for tests and the diagnostics snapshot). */
  get readerCount(): number {
    return this.readers.size;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** The timer's period in ms (0 when no reader is open). */
  get resolutionMs(): number {
    return this.period;
  }

  /** @param resolutionMs the sampling period this reader wants (the sampler runs at the finest one asked). */
  open(resolutionMs = 20): DelayReader {
    const histogram = createHistogram();
    this.readers.set(histogram, Math.max(1, Math.round(resolutionMs)));
    this.arm();
    const sampler = this;
    return {
      histogram,
      get resolutionMs() {
        return sampler.period;
      },
      reset: () => histogram.reset(),
      take: (minSamples = 1) => {
        if (histogram.count < minSamples) return undefined;
        const summary = summarize(histogram);
        histogram.reset();
        return summary;
      },
      close: () => {
        if (this.readers.delete(histogram)) this.arm();
      },
    };
  }

  /** One tick: how late it came, recorded once per reader. Public so tests can drive it with a fake clock. */
  tick(): void {
    const now = this.now();
    // A histogram records integers ≥ 1; a tick on time records 1 ns, which reads as 0 ms.
    const lateNs = Math.max(1, Math.round((now - this.last - this.period) * 1e6));
    this.last = now;
    for (const histogram of this.readers.keys()) histogram.record(lateNs);
  }

  /** (Re)arms the timer at the finest resolution asked for; none when no reader is open. */
  private arm(): void {
    const wanted = this.readers.size === 0 ? 0 : Math.min(...this.readers.values());
    if (wanted === this.period) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.period = wanted;
    if (wanted === 0) return;
    this.last = this.now();
    this.timer = setInterval(() => this.tick(), wanted).unref();
  }
}

/** The process's sampler, shared by every plugin of the preload. */
export const loopDelay = new LoopDelay();

function summarize(histogram: RecordableHistogram): LoopDelaySummary {
  return {
    count: histogram.count,
    min: histogram.min,
    max: histogram.max,
    mean: histogram.mean,
    stddev: histogram.stddev,
    p50: histogram.percentile(50),
    p90: histogram.percentile(90),
    p99: histogram.percentile(99),
  };
}

/** p50/p99/max/mean of a reader's histogram in ms (two decimals), or null before the first tick. */
export function delayMs(histogram: RecordableHistogram): { p50: number; p99: number; max: number; mean: number } | null {
  if (histogram.count === 0) return null;
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), mean: ms(histogram.mean) };
}
