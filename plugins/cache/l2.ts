import { Breaker, type BreakerState } from './breaker.js';
import type { Store } from './stores.js';

/** An L2 operation that did not happen: the breaker is open, or it failed or timed out. */
export const UNAVAILABLE: unique symbol = Symbol('l2-unavailable');

/**
 * L2 as the cache sees it: every operation bounded by `commandTimeoutMs` and behind the circuit breaker,
 * so a Redis that is down or hanging turns into a miss within the timeout, and then into no attempt at all
 * while the breaker is open. Nothing here ever rejects.
 */
export class L2 {
  readonly breaker: Breaker;
  private pendingWrites = 0;

  constructor(
    readonly store: Store,
    private readonly commandTimeoutMs: number,
    breaker: { threshold: number; cooldownMs: number; onChange?: (state: BreakerState, previous: BreakerState) => void; clock?: () => number },
    private readonly maxPendingWrites = 1000,
  ) {
    this.breaker = new Breaker(breaker.threshold, breaker.cooldownMs, breaker.onChange, breaker.clock);
  }

  /** Runs `op` under the timeout and the breaker; `UNAVAILABLE` instead of an error or a wait past the timeout. */
  run<T>(op: (store: Store) => Promise<T>): Promise<T | typeof UNAVAILABLE> {
    if (!this.breaker.allow()) return Promise.resolve(UNAVAILABLE);
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.breaker.failure();
        resolve(UNAVAILABLE);
      }, this.commandTimeoutMs);
      // Ref'd on purpose: the store's sockets are unref'd, so while a command is pending this short timer is
      // what keeps a script awaiting a cached call from exiting mid-await.
      let pending: Promise<T>;
      try {
        pending = op(this.store);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.breaker.success();
          resolve(value);
        },
        () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.breaker.failure();
          resolve(UNAVAILABLE);
        },
      );
    });
  }

  getMany(keys: string[]): Promise<(string | undefined)[] | typeof UNAVAILABLE> {
    return this.run((store) => store.getMany(keys));
  }

  /** Fire and forget: the response never waits on an L2 write. Dropped when too many are pending already. */
  write(op: (store: Store) => Promise<unknown>): void {
    if (this.pendingWrites >= this.maxPendingWrites) return;
    this.pendingWrites++;
    void this.run(op).then(() => void this.pendingWrites--);
  }

  get state(): BreakerState {
    return this.breaker.state;
  }
}
