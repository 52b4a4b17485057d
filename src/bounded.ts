import { log } from './log.js';

/**
 * A label whose values are bounded: the first `max` distinct values pass, later ones become `_OTHER`
 * (warned once, PPERF_WRN_002). Shared by every plugin that turns app data into metric labels.
 */
export function boundedLabel(what: string, max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) {
      log.once(`bounded:${what}`, 'warn', 'PPERF_WRN_002', `more than ${max} distinct ${what}; the rest are recorded as _OTHER`);
      return '_OTHER';
    }
    seen.add(value);
    return value;
  };
}
