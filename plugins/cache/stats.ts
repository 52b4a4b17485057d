/**
 * Plain counters, read by observable instruments at scrape time: the hot path only adds to a number, it
 * never records into the SDK (an L1 hit costs well under a microsecond; a histogram record would double it).
 */
export class Stats {
  l1Hit = 0;
  l1Miss = 0;
  l1Stale = 0;
  l2Hit = 0;
  l2Miss = 0;
  l2Stale = 0;
  /** Calls that reached the function itself. */
  origin = 0;
  /** Of those, how many threw or timed out. */
  originErrors = 0;
  coalesced = 0;
  busSent = 0;
  busReceived = 0;
}

export type Level = 'l2' | 'origin';
export type DurationRecorder = (level: Level, seconds: number) => void;
