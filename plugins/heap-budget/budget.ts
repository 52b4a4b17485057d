/** The budget's state machine, pure so it can be tested without a heap to fill. */
export type BudgetState = 'ok' | 'soft' | 'shedding';

export interface Sample {
  heapUsed: number;
  heapLimit: number;
  rss: number;
  /** Memory of JS objects held outside the V8 heap: Buffers, ArrayBuffers (`process.memoryUsage().external`). */
  external: number;
  /** p99 event-loop delay over the last interval, ms (0 while the delay rule is off). */
  eventLoopDelayMs: number;
}

export interface Thresholds {
  softHeapRatio: number;
  hardHeapRatio: number;
  maxRssBytes: number;
  maxEventLoopDelayMs: number;
  hysteresis: number;
}

/**
 * Whether RSS counts as pressure. RSS alone is not: after a one-off spike (a heap snapshot, a burst of
 * native work) the allocator keeps the freed pages resident, so RSS stays near its peak for minutes
 * while the V8 heap is at 46 %, and shedding then would refuse every request for nothing: refusing
 * requests frees no malloc arena, and new work reuses those pages rather than growing RSS. So the RSS
 * rule applies only while the memory JS holds (V8 heap used + Buffers/ArrayBuffers outside it) is also
 * past the soft line, measured against the heap limit: a heap leak and a Buffer leak are both caught,
 * a spike that has been freed is not. `margin` widens the line for easing, as elsewhere.
 */
function rssPressure(sample: Sample, t: Thresholds, margin: number): boolean {
  if (t.maxRssBytes === 0 || sample.rss < t.maxRssBytes * (1 - margin)) return false;
  return (sample.heapUsed + sample.external) / sample.heapLimit >= t.softHeapRatio - margin;
}

/**
 * ok → soft at the soft heap ratio; → shedding at the hard ratio, the RSS limit (while JS memory is
 * high too, see `rssPressure`) or the delay limit. Easing needs every measure below its threshold by the
 * hysteresis margin, so the state does not flap on a value hovering at the line.
 */
export function nextState(current: BudgetState, sample: Sample, t: Thresholds): BudgetState {
  const ratio = sample.heapUsed / sample.heapLimit;
  const overHard =
    ratio >= t.hardHeapRatio ||
    rssPressure(sample, t, 0) ||
    (t.maxEventLoopDelayMs > 0 && sample.eventLoopDelayMs >= t.maxEventLoopDelayMs);
  if (overHard) return 'shedding';
  const margin = t.hysteresis;
  const clearOfHard =
    ratio < t.hardHeapRatio - margin &&
    !rssPressure(sample, t, margin) &&
    (t.maxEventLoopDelayMs === 0 || sample.eventLoopDelayMs < t.maxEventLoopDelayMs * (1 - margin));
  if (current === 'shedding' && !clearOfHard) return 'shedding';
  if (ratio >= t.softHeapRatio) return 'soft';
  if (current !== 'ok' && ratio >= t.softHeapRatio - margin) return 'soft';
  return 'ok';
}
