import { performance } from 'node:perf_hooks';

export type Admission = { ok: true; release: () => void } | { ok: false; status: 409 | 429; retryAfterSeconds: number; reason: string };

// The epsilon keeps float noise (1000.0000001 ms) from adding a whole second.
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000 - 1e-9));

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
    const answer = this.peek();
    if (answer.ok) this.tokens -= 1;
    return answer;
  }

  /** Whether a token is there, without taking it. */
  peek(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1 - 1e-9) return { ok: true }; // float noise: 6 s × 1/6 per s is 0.999…
    return { ok: false, retryAfterSeconds: seconds(((1 - this.tokens) / this.perSecond) * 1000) };
  }
}

/**
 * Failed authentication attempts, one token bucket per remote address: `maxFailures` in a burst, then
 * the bucket refills over `backoffMs` (one more attempt every `backoffMs / maxFailures`). While an
 * address's bucket is empty every request from it is refused with 429, the right token included, or the
 * refusal would tell a guesser when it had guessed. Other addresses are not affected, so an attacker
 * cannot lock the operator out. Bounded: at most `maxAddresses` buckets; beyond, the least recently
 * failed is forgotten (O(1); the oldest is also the likeliest to have refilled).
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly maxFailures: number,
    private readonly backoffMs: number,
    private readonly maxAddresses = 1024,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `{ ok: false }` while `address` is backing off. */
  check(address: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    return this.buckets.get(address)?.peek() ?? { ok: true };
  }

  /** Records one failure from `address`. */
  fail(address: string): void {
    let bucket = this.buckets.get(address);
    if (bucket) this.buckets.delete(address); // re-inserted: the map's order is least recently failed first
    else bucket = new TokenBucket(this.maxFailures, (this.maxFailures * 1000) / this.backoffMs, this.now);
    bucket.take();
    this.buckets.set(address, bucket);
    if (this.buckets.size > this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
  }

  get size(): number {
    return this.buckets.size;
  }
}
