// @ts-check
/**
 * Seeded random numbers, a Zipf sampler and a weighted pick, shared by the k6 virtual users and the
 * Node load generator (loadtests/lib/load.mjs, load-worker.mjs): plain JavaScript with neither k6 nor
 * Node imports, so both runtimes load it and Node's unit tests can check the distribution.
 */

/**
 * mulberry32: a tiny seeded PRNG, floats in [0, 1). Seeded so two runs send the same id sequence,
 * which matters when comparing cache hit ratios between runs.
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Zipf-distributed integers in 1..n, P(k) ∝ 1 / k^s: rank 1 is the hottest. The CDF is built once
 * per virtual user (8 bytes per id: 80 KB at scale 10) and each draw is a binary search, so drawing
 * allocates nothing.
 * @param {number} n
 * @param {number} s
 * @param {() => number} random  floats in [0, 1)
 * @returns {() => number}
 */
export function createZipf(n, s, random) {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`zipf: n must be a positive integer, got ${n}`);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / k ** s;
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] = /** @type {number} */ (cdf[i]) / sum;
  cdf[n - 1] = 1; // rounding must not leave the last bucket below 1
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (/** @type {number} */ (cdf[mid]) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/**
 * A weighted pick over `items` (each with a `weight`), by cumulative weights.
 * @template {{ weight: number }} T
 * @param {readonly T[]} items
 * @param {() => number} random
 * @returns {() => T}
 */
export function createWeightedPick(items, random) {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  if (!(total > 0)) throw new RangeError('weighted pick: the weights must add up to more than 0');
  /** @type {number[]} */
  const cumulative = [];
  let acc = 0;
  for (const item of items) cumulative.push((acc += item.weight / total));
  const last = /** @type {T} */ (items[items.length - 1]);
  return () => {
    const u = random();
    const index = cumulative.findIndex((c) => u < c);
    return index === -1 ? last : /** @type {T} */ (items[index]);
  };
}
