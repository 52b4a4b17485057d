import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * One event-loop delay sampler for the whole preload. Before this, the runtime, heap-budget and diagnostics
 * plugins each ran their own `monitorEventLoopDelay` (at 20, 10 and 20 ms: 250 wake-ups a second, idle or
 * not); each reader here gets its own histogram, read and reset on its own cadence, fed by one timer.
 *
 * The sampler is one unref'd interval, at the finest resolution an open reader asked for, that records how late each tick ran: what `monitorEventLoopDelay`
 * does natively, but its histogram can be neither shared between readers nor added to another (Node refuses
 * `RecordableHistogram.add()` of an ELD histogram), and one JS tick every 20 ms costs a few µs. The recorded
 * value is the delay beyond the schedule (the resolution itself is not delay), at least 1 ns.
 */
export interface LoopDelayReader {
  /** The sampler's period: the finest any open reader asked for. */
  readonly resolutionMs: number;
  /** Delay since the previous `take()` (or since opening), in ns; undefined when fewer than `minSamples` ticks ran. */
  take(minSamples?: number): LoopDelaySummary | undefined;
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

const readers = new Map<RecordableHistogram, number>(); // histogram → the resolution its reader asked for
let timer: NodeJS.Timeout | undefined;
let period = 0;
let last = 0;

function tick(): void {
  const now = performance.now();
  const lateNs = Math.max(1, Math.round((now - last - period) * 1e6));
  last = now;
  for (const histogram of readers.keys()) histogram.record(lateNs);
}

/** (Re)arms the timer at the finest resolution asked for; none when no reader is open. */
function arm(): void {
  const wanted = readers.size === 0 ? 0 : Math.min(...readers.values());
  if (wanted === period) return;
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  period = wanted;
  if (period === 0) return;
  last = performance.now();
  timer = setInterval(tick, period).unref();
}

/** @param resolutionMs the sampling period this reader wants (the sampler runs at the finest one asked). */
export function openLoopDelay(resolutionMs = 20): LoopDelayReader {
  const histogram = createHistogram();
  readers.set(histogram, Math.max(1, Math.round(resolutionMs)));
  arm();
  return {
    get resolutionMs() {
      return period;
    },
    take(minSamples = 1) {
      if (histogram.count < minSamples) return undefined;
      const summary: LoopDelaySummary = {
        count: histogram.count,
        min: histogram.min,
        max: histogram.max,
        mean: histogram.mean,
        stddev: histogram.stddev,
        p50: histogram.percentile(50),
        p90: histogram.percentile(90),
        p99: histogram.percentile(99),
      };
      histogram.reset();
      return summary;
    },
    close() {
      if (readers.delete(histogram)) arm();
    },
  };
}
