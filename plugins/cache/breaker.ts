/**
 * A circuit breaker for L2: after `threshold` consecutive failures (errors or timeouts) it opens and L2
 * is skipped for `cooldownMs`; then one operation goes through as a probe (half-open). Success closes
 * it, failure opens it again. Redis down or hanging costs one timeout per cool-down, not one per request.
 */
export const CLOSED = 0;
export const HALF_OPEN = 1;
export const OPEN = 2;
export type BreakerState = typeof CLOSED | typeof HALF_OPEN | typeof OPEN;

export class Breaker {
  state: BreakerState = CLOSED;
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  /** Times it opened, for the log and tests. */
  opened = 0;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onChange: (state: BreakerState, previous: BreakerState) => void = () => {},
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether an operation may go to L2 now; in half-open, only the one probe may. */
  allow(): boolean {
    if (this.state === CLOSED) return true;
    if (this.state === OPEN) {
      if (this.clock() - this.openedAt < this.cooldownMs) return false;
      this.set(HALF_OPEN);
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.state !== CLOSED) this.set(CLOSED);
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.state === HALF_OPEN || (this.state === CLOSED && this.failures >= this.threshold)) {
      this.openedAt = this.clock();
      this.opened++;
      this.set(OPEN);
    }
  }

  private set(state: BreakerState): void {
    const previous = this.state;
    this.state = state;
    this.onChange(state, previous);
  }
}
