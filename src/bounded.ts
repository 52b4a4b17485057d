import { log } from './log.js';

export interface BoundedLabelOptions {
  /**
   * A value not seen for this long gives up its place, so a later value can take it: meant to be the
   * telemetry's `staleSeriesAfterMs`, after which the value's series have left `/metrics` too (a value
   * seen on any series is seen). `0` (the default): never, the first `max` values keep their places.
   */
  forgetAfterMs?: number;
  /** Monotonic milliseconds; a parameter so the tests move time by hand. */
  now?: () => number;
}

/**
 * A label whose values are bounded: the first `max` distinct values pass, later ones become `_OTHER`
 * (warned once, PPERF_WRN_002). Shared by every plugin that turns app data into metric labels.
 *
 * With `forgetAfterMs`, a long-running process whose values change (tenants come and go) does not end
 * with every new value `_OTHER` for good: the places of values unseen that long are freed when a new
 * value finds the bound full. The scan is skipped until a place can be free at all (the oldest
 * last-seen time plus `forgetAfterMs`, a lower bound since last-seen times only grow), so a flood of
 * new values at the bound costs one comparison each, not a scan each.
 */
export function boundedLabel(what: string, max: number, options: BoundedLabelOptions = {}): (value: string) => string {
  const overflow = (): string => {
    log.once(`bounded:${what}`, 'warn', 'PPERF_WRN_002', `more than ${max} distinct ${what}; the rest are recorded as _OTHER`);
    return '_OTHER';
  };
  const forgetAfterMs = options.forgetAfterMs ?? 0;
  if (forgetAfterMs <= 0) {
    const seen = new Set<string>();
    return (value) => {
      if (seen.has(value)) return value;
      if (seen.size >= max) return overflow();
      seen.add(value);
      return value;
    };
  }
  const now = options.now ?? (() => performance.now());
  const lastSeen = new Map<string, number>();
  let freeFrom = Number.POSITIVE_INFINITY;
  const forget = (t: number): void => {
    let oldest = Number.POSITIVE_INFINITY;
    for (const [value, seen] of lastSeen) {
      if (t - seen >= forgetAfterMs) lastSeen.delete(value);
      else if (seen < oldest) oldest = seen;
    }
    freeFrom = oldest + forgetAfterMs;
  };
  return (value) => {
    const t = now();
    if (lastSeen.has(value)) {
      lastSeen.set(value, t);
      return value;
    }
    if (lastSeen.size >= max && t >= freeFrom) forget(t);
    if (lastSeen.size >= max) return overflow();
    lastSeen.set(value, t);
    if (t + forgetAfterMs < freeFrom) freeFrom = t + forgetAfterMs;
    return value;
  };
}
