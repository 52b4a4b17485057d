/** The budget's state machine, pure so it can be tested without a heap to fill. */
export type BudgetState = 'ok' | 'soft' | 'shedding';

export interface Sample {
  heapUsed: number;
  heapLimit: number;
  rss: number;
  /** p99 event-loop delay over the last interval, ms. */
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
 * ok → soft at the soft heap ratio; → shedding at the hard ratio, the RSS limit or the delay limit.
 * Easing needs every measure below its threshold by the hysteresis margin, so the state does not flap
 * on a value hovering at the line.
 */
export function nextState(current: BudgetState, sample: Sample, t: Thresholds): BudgetState {
  const ratio = sample.heapUsed / sample.heapLimit;
  const overHard =
    ratio >= t.hardHeapRatio ||
    (t.maxRssBytes > 0 && sample.rss >= t.maxRssBytes) ||
    (t.maxEventLoopDelayMs > 0 && sample.eventLoopDelayMs >= t.maxEventLoopDelayMs);
  if (overHard) return 'shedding';
  const margin = t.hysteresis;
  const clearOfHard =
    ratio < t.hardHeapRatio - margin &&
    (t.maxRssBytes === 0 || sample.rss < t.maxRssBytes * (1 - margin)) &&
    (t.maxEventLoopDelayMs === 0 || sample.eventLoopDelayMs < t.maxEventLoopDelayMs * (1 - margin));
  if (current === 'shedding' && !clearOfHard) return 'shedding';
  if (ratio >= t.softHeapRatio) return 'soft';
  if (current !== 'ok' && ratio >= t.softHeapRatio - margin) return 'soft';
  return 'ok';
}
