import { describe, expect, it } from 'vitest';
import { GradientLimit, type LimitOptions } from '../../plugins/concurrency-limit/limit.js';
import { WaitQueue } from '../../plugins/concurrency-limit/queue.js';
// @ts-expect-error plain ESM k6 helper without k6 imports
import { mulberry32 } from '../../loadtests/k6/lib/zipf.js';

const defaults: LimitOptions = {
  initialLimit: 20,
  minLimit: 2,
  maxLimit: 500,
  windowMs: 200,
  minSamples: 20,
  smoothing: 0.2,
  tolerance: 1.25,
  probeIntervalMs: 30_000,
};

/**
 * An M/M/c-like service on a simulated clock: `servers` requests progress at full speed, beyond that they
 * share (processor sharing), so latency = service × max(1, n / servers) with exponential service times.
 * Throughput saturates at servers / service: the knee is at `servers` in flight.
 */
interface Service {
  servers: (t: number) => number;
  serviceMs: (t: number) => number;
}

interface Sim {
  limitAt: { t: number; limit: number }[];
  /** Completions per simulated second. */
  completed: number[];
  medianLatency: (from: number, to: number) => number;
}

/** Open loop at `rate(t)` requests/s; a request with no free slot is refused (the queue is tested apart). */
function simulate(service: Service, rate: (t: number) => number, seconds: number, options: Partial<LimitOptions> = {}, seed = 1): { sim: Sim; limiter: GradientLimit } {
  let now = 0;
  const limiter = new GradientLimit({ ...defaults, ...options }, () => now);
  const rnd = mulberry32(seed);
  const exp = (mean: number) => -Math.log(1 - rnd()) * mean;
  const done: { at: number; latency: number }[] = []; // pending completions, kept sorted by time
  const completed = new Array<number>(seconds).fill(0);
  const latencies: { t: number; ms: number }[] = [];
  const limitAt: Sim['limitAt'] = [];
  const end = seconds * 1000;
  let nextArrival = 0;
  let nextTick = 0;
  while (now < end) {
    const nextDone = done[0]?.at ?? Infinity;
    now = Math.min(nextArrival, nextDone, nextTick);
    if (now === nextTick) {
      limitAt.push({ t: now, limit: limiter.limit });
      nextTick += 100;
    } else if (now === nextDone) {
      const d = done.shift()!;
      limiter.release(d.latency);
      completed[Math.floor(now / 1000)]! += 1;
      latencies.push({ t: now, ms: d.latency });
    } else {
      nextArrival = now + exp(1000 / rate(now));
      if (limiter.tryAcquire()) {
        const n = limiter.inFlight;
        const latency = exp(service.serviceMs(now)) * Math.max(1, n / service.servers(now));
        const at = now + latency;
        let i = done.length;
        while (i > 0 && done[i - 1]!.at > at) i--;
        done.splice(i, 0, { at, latency });
      }
    }
  }
  const medianLatency = (from: number, to: number) => {
    const xs = latencies.filter((l) => l.t >= from * 1000 && l.t < to * 1000).map((l) => l.ms).sort((a, b) => a - b);
    return xs[xs.length >> 1]!;
  };
  return { sim: { limitAt, completed, medianLatency }, limiter };
}

const between = (sim: Sim, from: number, to: number) => sim.limitAt.filter((p) => p.t >= from * 1000 && p.t < to * 1000).map((p) => p.limit);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('GradientLimit on a simulated M/M/c service', () => {
  // 8 servers × 10 ms: capacity 800/s, knee at 8 in flight.
  const steady: Service = { servers: () => 8, serviceMs: () => 10 };
  const capacity = 800;

  it('under 3× overload converges near the knee, keeps throughput at capacity and latency near no-load', () => {
    const { sim } = simulate(steady, () => 3 * capacity, 40);
    const limits = between(sim, 10, 40);
    // Above the knee (throughput kept), but not far above it (latency kept). The only dips are the baseline
    // probes: one window at the floor when the baseline is 30 s old.
    const sorted = [...limits].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length * 0.05)]).toBeGreaterThanOrEqual(6);
    expect(mean(limits)).toBeGreaterThanOrEqual(8);
    expect(mean(limits)).toBeLessThanOrEqual(20);
    expect(mean(sim.completed.slice(10))).toBeGreaterThanOrEqual(0.9 * capacity);
    // No-load median of an exponential 10 ms service is ~6.9 ms; at equilibrium the window median sits at
    // tolerance × L / (L − √L) ≈ 1.25 × 1.35 of the baseline. Unlimited, it would grow without bound.
    expect(sim.medianLatency(10, 40)).toBeLessThanOrEqual(2.5 * 6.9);
  });

  it('starts from a limit far too high and still finds the knee (the first window under load is not trusted as the baseline)', () => {
    const { sim } = simulate(steady, () => 4 * capacity, 40, { initialLimit: 200 });
    expect(mean(between(sim, 20, 40))).toBeLessThanOrEqual(20);
    expect(mean(sim.completed.slice(20))).toBeGreaterThanOrEqual(0.9 * capacity);
  });

  it('at low load leaves the limit alone (app-limited windows say nothing about capacity)', () => {
    const { sim } = simulate(steady, () => 0.2 * capacity, 30);
    expect(Math.min(...between(sim, 0, 30))).toBeGreaterThanOrEqual(20);
    expect(mean(sim.completed.slice(2))).toBeGreaterThanOrEqual(0.9 * 0.2 * capacity);
  });

  it('recovers after a latency spike: shrinks while the service is slow, returns near the knee after', () => {
    // The service is 4× slower (capacity ÷ 4) from 20 s to 30 s, under a steady 2× overload.
    const spiky: Service = { servers: () => 8, serviceMs: (t) => (t >= 20_000 && t < 30_000 ? 40 : 10) };
    const { sim } = simulate(spiky, () => 2 * capacity, 60);
    const before = mean(between(sim, 10, 20));
    const during = mean(between(sim, 24, 30));
    const after = mean(between(sim, 45, 60));
    expect(during).toBeLessThan(before);
    expect(after).toBeGreaterThanOrEqual(0.7 * before);
    expect(after).toBeLessThanOrEqual(20);
    expect(mean(sim.completed.slice(45))).toBeGreaterThanOrEqual(0.9 * capacity);
  });

  it('learns a new, slower baseline when the app becomes slower for good (probe windows at the floor)', () => {
    const slower: Service = { servers: () => 8, serviceMs: (t) => (t >= 20_000 ? 30 : 10) };
    const { sim, limiter } = simulate(slower, () => 2 * capacity, 120, { probeIntervalMs: 10_000 });
    // Knee unchanged (8 servers): throughput at the new capacity, not choked at the floor.
    expect(mean(between(sim, 80, 120))).toBeGreaterThanOrEqual(6);
    expect(mean(sim.completed.slice(80))).toBeGreaterThanOrEqual(0.85 * (capacity / 3));
    expect(limiter.baselineMs).toBeGreaterThan(12);
  });

  it('on a mix of fast and slow routes, takes the no-load median as the baseline (not the luckiest window) and keeps throughput', () => {
    // 30 % of requests ~1 ms (a cached route, a 404), 70 % ~30 ms: 8 servers, capacity 8 / 21.3 ms ≈ 375/s.
    // Until 2026-12-03 the baseline was the lowest 20-sample window median: 1.2–3.7 ms here against a no-load
    // median of ~10 ms, and under overload the limit sat below the knee (0.55–0.94× capacity).
    const mixCapacity = 8 / (0.3 * 1 + 0.7 * 30) * 1000;
    const throughput: number[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const pick = mulberry32(seed * 7);
      const mixed: Service = { servers: () => 8, serviceMs: () => (pick() < 0.3 ? 1 : 30) };
      const quiet = simulate(mixed, () => 0.3 * mixCapacity, 60, {}, seed);
      const noLoad = quiet.sim.medianLatency(0, 60);
      expect(quiet.limiter.baselineMs).toBeGreaterThan(0.5 * noLoad);
      expect(quiet.limiter.baselineMs).toBeLessThan(2 * noLoad);
      const busy = simulate(mixed, () => 3 * mixCapacity, 60, {}, seed);
      throughput.push(mean(busy.sim.completed.slice(20)));
    }
    expect(mean(throughput)).toBeGreaterThanOrEqual(0.9 * mixCapacity);
    expect(Math.min(...throughput)).toBeGreaterThanOrEqual(0.8 * mixCapacity);
  });

  it('never goes below the floor, even when latency keeps rising whatever the concurrency', () => {
    const worsening: Service = { servers: () => 8, serviceMs: (t) => 10 * 1.1 ** (t / 1000) };
    const { sim } = simulate(worsening, () => 3 * capacity, 40, { minLimit: 3 });
    const limits = between(sim, 0, 40);
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(3);
    expect(limits.at(-1)).toBeLessThanOrEqual(5);
  });

  it('never goes above the ceiling on a service that never saturates', () => {
    const unbounded: Service = { servers: () => 1e9, serviceMs: () => 10 };
    const { sim } = simulate(unbounded, () => 20_000, 30, { maxLimit: 64 });
    const limits = between(sim, 0, 30);
    expect(Math.max(...limits)).toBeLessThanOrEqual(64);
    expect(limits.at(-1)).toBe(64);
  });

  it('a sample-less release (abort, early 5xx) frees the slot and closes no window', () => {
    let now = 0;
    const limiter = new GradientLimit({ ...defaults, initialLimit: 2, minSamples: 1, windowMs: 0 }, () => now);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    now = 5;
    expect(limiter.release(undefined)).toBeUndefined();
    expect(limiter.baselineMs).toBeUndefined();
    expect(limiter.inFlight).toBe(1);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('pools quiet windows for the baseline without favouring the fast half of a window that does not fit', () => {
    let now = 0;
    const limiter = new GradientLimit({ ...defaults, minSamples: 20, windowMs: 10 }, () => now);
    const one = (ms: number) => {
      limiter.tryAcquire(); // one at a time: every window is app-limited (quiet)
      limiter.release(ms);
    };
    for (let i = 0; i < 39; i++) one(100);
    now = 20;
    one(100); // a window of 40 quiet samples: pooled (under 3 × minSamples), its median stands in meanwhile
    expect(limiter.baselineMs).toBe(100);
    // A window of 500 samples, 1…500 ms, of which 472 fit beside the 40 pooled: the pool's median must be that
    // of everything (~230 ms), not of the 40 and the window's 472 fastest (~216 ms).
    for (let v = 1; v < 500; v++) one(v);
    now = 40;
    one(500);
    expect(limiter.baselineMs).toBeGreaterThan(0.97 * 230);
    expect(limiter.baselineMs).toBeLessThan(1.03 * 230);
  });

  it('refuses a floor above the ceiling', () => {
    expect(() => new GradientLimit({ ...defaults, minLimit: 10, maxLimit: 5 }, () => 0)).toThrow(RangeError);
  });
});

describe('WaitQueue', () => {
  it('is FIFO, bounded in length, and lets an entry leave from the middle', () => {
    const q = new WaitQueue<string>(() => 2, 100, () => 0);
    const a = q.push('a')!;
    const b = q.push('b')!;
    expect(q.push('c')).toBeUndefined();
    expect(q.remove(a)).toBe(true);
    expect(q.remove(a)).toBe(false);
    q.push('d');
    expect(q.shift()?.entry).toBe(b);
    expect(q.shift()?.entry.item).toBe('d');
    expect(q.shift()).toBeUndefined();
  });

  it('expires entries that waited too long, oldest first, on the injected clock', () => {
    let now = 0;
    const q = new WaitQueue<number>(() => 10, 100, () => now);
    q.push(1);
    now = 50;
    q.push(2);
    expect(q.nextDeadline()).toBe(100);
    now = 99;
    expect(q.expire()).toEqual([]);
    now = 120;
    expect(q.expire().map((e) => e.item)).toEqual([1]);
    expect(q.nextDeadline()).toBe(150);
    now = 130;
    expect(q.shift()).toMatchObject({ waitedMs: 80 });
  });

  it('with capacity 0 queues nothing', () => {
    expect(new WaitQueue(() => 0, 100, () => 0).push(1)).toBeUndefined();
  });
});
