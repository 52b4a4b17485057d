/**
 * Time for the cache. The engine takes its clock as a parameter (`EngineOptions.now`), so tests drive it
 * with fake time; this is the default.
 *
 * A coarse wall clock for the hot path: reading the time costs ~60 ns here, as much as the rest of an
 * L1 hit, so the value is cached; a 1 ms timer (unref'd, armed only while someone reads) clears it, so
 * idle processes get no wake-ups (lru-cache does the same with `ttlResolution`). Timers do not run during
 * a long chain of microtasks, so the time is also re-read every 1024 reads. It is never ahead of the real
 * time, only behind by at most ~1 ms: a load's start read from it is never later than the real start,
 * which is the side invalidation checks need. Wall time: L2 entries carry it across instances.
 * Invalidations are stamped by the other side, an exact clock (`EngineOptions.wallNow`, `Date.now` by
 * default), so they are never behind the real time either.
 */
export type Now = () => number;

let cached = 0;
let armed = false;
let reads = 0;

function clear(): void {
  cached = 0;
  armed = false;
}

export const coarseNow: Now = () => {
  if (cached !== 0 && (++reads & 1023) !== 0) return cached;
  cached = Date.now();
  if (!armed) {
    armed = true;
    setTimeout(clear, 1).unref();
  }
  return cached;
};
