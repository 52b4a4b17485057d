/**
 * The adaptive concurrency limit, pure: no timers, no I/O, the clock is a parameter. It is fed one latency
 * sample per finished request and decides, once per sampling window, how many requests may run at once.
 *
 * The update is Netflix's Gradient2 (concurrency-limits) with Envoy's gradient-controller bounds:
 *
 *     gradient = clamp(tolerance × baseline / windowLatency, 0.5, 2)
 *     target   = limit × gradient + √limit                       (a little queue beyond the knee)
 *     limit    = clamp(limit × (1 − smoothing) + target × smoothing, minLimit, maxLimit)
 *
 * At equilibrium `gradient = 1 − √limit / limit`: latency settles a bounded step above the no-load latency,
 * which is where throughput has stopped rising (the knee). The window's latency is its median (Envoy's
 * default aggregate), which a few slow routes cannot drag around the way they drag a mean.
 *
 * The baseline (no-load latency) is measured at low concurrency only, and from many samples. Gradient2 keeps a
 * long EMA of all samples, which drifts upward under sustained load and lets the limit creep up with it. The
 * lowest window median seen (this plugin until 2026-12-03) is biased low on any app with more than one route:
 * a window of 20 samples from a mix of fast and slow routes has a noisy median, and the minimum over hundreds
 * of windows is its luckiest one (a mix whose no-load median is 10 ms gave baselines of 1.2–3.7 ms in the unit
 * test's simulation, and the limit sat below the knee; the overload bench saw 1–20 ms against a 30 ms median).
 * So: low-concurrency samples — from probe windows and from windows in which in-flight stayed under half the
 * limit (Gradient2's app-limited rule: they leave the limit alone) — are pooled until there are
 * `3 × minSamples`, and their median is the baseline. Windows under load never touch it. A probe is Envoy's
 * minRTT window: while the limit binds (requests waited or were refused in the window) and the baseline was not
 * measured at low concurrency within `probeIntervalMs`, one window runs at `minLimit` and takes that many samples
 * of the requests it admitted. Probes cost throughput, so they happen only when the server is already over
 * capacity. Until the first low-concurrency measurement the first window's median stands in (unconfirmed: the
 * first window that binds starts a probe).
 */
export interface LimitOptions {
  initialLimit: number;
  /** The floor: the limit never goes below it. */
  minLimit: number;
  /** The ceiling. */
  maxLimit: number;
  /** A window closes once it is this old and holds `minSamples`. */
  windowMs: number;
  minSamples: number;
  /** Weight of the new estimate per window, 0..1. */
  smoothing: number;
  /** How far above the baseline the window's latency may sit before the limit shrinks (1.25 = 25 %). */
  tolerance: number;
  /** A baseline older than this is re-measured in one window at `minLimit`, but only while the limit binds. */
  probeIntervalMs: number;
}

export interface LimitChange {
  from: number;
  to: number;
  windowLatencyMs: number;
  baselineMs: number;
  gradient: number;
  probe: boolean;
}

/** Samples kept per window; later ones in a busy window are dropped (the median of 512 is plenty). */
const MAX_WINDOW_SAMPLES = 512;
const PROBE_SAMPLE_FACTOR = 3;

export class GradientLimit {
  private estimate: number;
  private running = 0;
  private baseline: number | undefined;
  /** When the baseline was last confirmed at low concurrency; -Infinity for one measured under load. */
  private baselineAt = Number.NEGATIVE_INFINITY;
  private probing = false;
  private beforeProbe = 0;
  private probeStart = 0;
  private windowStart: number;
  private readonly samples = new Float64Array(MAX_WINDOW_SAMPLES);
  private sampleCount = 0;
  /** Samples of low-concurrency windows, pooled until there are enough for a baseline. */
  private readonly lowSamples = new Float64Array(MAX_WINDOW_SAMPLES);
  private lowCount = 0;
  private peakInFlight = 0;
  private blocked = 0;

  constructor(
    private readonly o: LimitOptions,
    private readonly now: () => number,
  ) {
    if (!(o.minLimit >= 1 && o.minLimit <= o.maxLimit)) throw new RangeError(`minLimit (${o.minLimit}) must be ≥ 1 and ≤ maxLimit (${o.maxLimit})`);
    this.estimate = Math.min(o.maxLimit, Math.max(o.minLimit, o.initialLimit));
    this.windowStart = now();
  }

  /** The number of requests that may run at once now. */
  get limit(): number {
    return this.probing ? this.o.minLimit : Math.floor(this.estimate);
  }

  get inFlight(): number {
    return this.running;
  }

  /** The no-load latency the limit is measured against, ms; undefined until the first window closes. */
  get baselineMs(): number | undefined {
    return this.baseline;
  }

  /** Takes a slot if one is free. A refusal is remembered: it tells the window that the limit binds. */
  tryAcquire(): boolean {
    if (this.running >= this.limit) {
      this.blocked++;
      return false;
    }
    this.running++;
    if (this.running > this.peakInFlight) this.peakInFlight = this.running;
    return true;
  }

  /**
   * Gives a slot back. `latencyMs` is the admission-to-finish time, or undefined for a request whose time
   * says nothing about capacity (an abort, a 5xx answered early). Returns the change if a window closed and
   * moved the integer limit.
   */
  release(latencyMs: number | undefined): LimitChange | undefined {
    if (this.running > 0) this.running--;
    if (latencyMs === undefined || !(latencyMs >= 0)) return undefined;
    const now = this.now();
    // A probe measures only requests it admitted: those admitted before it ran at the full limit.
    if (this.probing && now - latencyMs < this.probeStart) return undefined;
    if (this.sampleCount < MAX_WINDOW_SAMPLES) this.samples[this.sampleCount++] = latencyMs;
    // A probe's median becomes the baseline outright, so it takes more samples (Envoy aggregates 50).
    const needed = this.probing ? PROBE_SAMPLE_FACTOR * this.o.minSamples : this.o.minSamples;
    if (this.sampleCount < needed || now - this.windowStart < this.o.windowMs) return undefined;
    return this.closeWindow(now);
  }

  private closeWindow(now: number): LimitChange | undefined {
    const window = this.samples.subarray(0, this.sampleCount);
    const latency = median(window); // sorts the window in place: the pooling below relies on it
    const appLimited = this.peakInFlight < this.estimate / 2;
    const bound = this.blocked > 0;
    this.sampleCount = 0;
    this.peakInFlight = this.running;
    this.blocked = 0;
    this.windowStart = now;

    const from = this.limit;
    const wasProbe = this.probing;
    if (wasProbe) {
      this.probing = false;
      this.estimate = this.beforeProbe;
    }
    if (wasProbe || appLimited) {
      // Low concurrency: pooled, and once there are enough, their median is the baseline (faster or slower).
      // A probe is a fresh measurement of its own: what earlier quiet windows left in the pool is dropped.
      if (wasProbe) this.lowCount = 0;
      const room = Math.min(window.length, MAX_WINDOW_SAMPLES - this.lowCount);
      // The window is sorted: when it does not fit, an even spread of it keeps its distribution (its first
      // `room` values would be its fastest).
      for (let i = 0; i < room; i++) this.lowSamples[this.lowCount + i] = window[Math.floor((i * window.length) / room)]!;
      this.lowCount += room;
      if (this.lowCount >= PROBE_SAMPLE_FACTOR * this.o.minSamples) {
        this.baseline = median(this.lowSamples.subarray(0, this.lowCount));
        this.baselineAt = now;
        this.lowCount = 0;
      }
    }
    this.baseline ??= latency; // the first window, whatever its concurrency: unconfirmed until measured low

    const baseline = this.baseline!;
    let gradient = 1;
    if (!wasProbe && !appLimited) {
      gradient = Math.min(2, Math.max(0.5, (this.o.tolerance * baseline) / Math.max(latency, 1e-6)));
      const target = this.estimate * gradient + Math.sqrt(this.estimate);
      const next = this.estimate * (1 - this.o.smoothing) + target * this.o.smoothing;
      this.estimate = Math.min(this.o.maxLimit, Math.max(this.o.minLimit, next));
    }
    if (!wasProbe && bound && now - this.baselineAt >= this.o.probeIntervalMs) {
      this.probing = true;
      this.beforeProbe = this.estimate;
      this.probeStart = now;
    }
    const to = this.limit;
    return to === from ? undefined : { from, to, windowLatencyMs: latency, baselineMs: baseline, gradient, probe: this.probing };
  }
}

/** The median of `xs` (sorted in place). */
function median(xs: Float64Array): number {
  xs.sort();
  return xs[xs.length >> 1]!;
}
