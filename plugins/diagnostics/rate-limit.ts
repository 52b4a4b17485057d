import { performance } from 'node:perf_hooks';

export type Admission = { ok: true; release: () => void } | { ok: false; status: 409 | 429; retryAfterSeconds: number; reason: string };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * One heavy operation (CPU profile, heap snapshot) at a time, and a pause after each: both compete with
 * the host for CPU and memory, and a script polling in a loop must not turn diagnostics into an outage.
 * 409 while one runs, 429 during the pause; both say when to come back.
 */
export class HeavyGate {
  private running: { what: string; until: number } | undefined;
  private lastEnd = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly minIntervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `expectedMs` is how long the work should take, only to compute a useful `Retry-After`. */
  tryAcquire(what: string, expectedMs: number): Admission {
    const now = this.now();
    if (this.running) {
      return {
        ok: false,
        status: 409,
        retryAfterSeconds: seconds(Math.max(0, this.running.until - now) + this.minIntervalMs),
        reason: `a ${this.running.what} is already running; one heavy operation at a time`,
      };
    }
    const wait = this.lastEnd + this.minIntervalMs - now;
    if (wait > 0) {
      return { ok: false, status: 429, retryAfterSeconds: seconds(wait), reason: `heavy operations are at least ${this.minIntervalMs} ms apart` };
    }
    const entry = { what, until: now + expectedMs };
    this.running = entry;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        if (this.running === entry) this.running = undefined;
        this.lastEnd = this.now();
      },
    };
  }
}

/** A token bucket: bursts up to `capacity`, then `perSecond` on average. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  take(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: seconds(((1 - this.tokens) / this.perSecond) * 1000) };
  }
}
