/**
 * A coarse wall clock for the hot path. Reading the time costs ~60 ns here, as much as the rest of an
 * L1 hit, so the value is cached: a 1 ms timer (unref'd, armed only while someone reads) clears it, so
 * idle processes get no wake-ups (lru-cache does the same with `ttlResolution`). Timers do not run during
 * a long chain of microtasks, so the time is also re-read every 1024 reads: it is never older than the
 * current run of work, and TTLs of a few ms stay meaningful.
 */
let cached = 0;
let armed = false;
let reads = 0;

function clear(): void {
  cached = 0;
  armed = false;
}

/** Milliseconds since the epoch, at most ~1 ms (or 1024 reads) old. Wall time: L2 entries carry it across instances. */
export function now(): number {
  if (cached !== 0 && (++reads & 1023) !== 0) return cached;
  cached = Date.now();
  if (!armed) {
    armed = true;
    setTimeout(clear, 1).unref();
  }
  return cached;
}
