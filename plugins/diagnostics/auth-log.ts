import { performance } from 'node:perf_hooks';

export type Warn = (message: string, fields: Record<string, unknown>) => void;
export type Schedule = (fn: () => void, ms: number) => () => void;

const unrefTimer: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms).unref();
  return () => clearTimeout(timer);
};

/** At most this many distinct addresses are remembered per window, so the summary stays bounded. */
const MAX_ADDRESSES = 100;

/**
 * Logs failed diagnostics authentications without letting a flood of them flood the log: the first of
 * a window is logged at once, with its address; the rest are counted, and one summary line (count,
 * distinct addresses, the busiest one, how many were answered 429) follows when the window ends. A
 * single one-shot unref'd timer, and only while failures are being counted.
 */
export class AuthFailureLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private limited = 0;
  private readonly byAddress = new Map<string, number>();
  private cancel: (() => void) | undefined;

  constructor(
    private readonly warn: Warn,
    private readonly windowMs = 60_000,
    private readonly now: () => number = () => performance.now(),
    private readonly schedule: Schedule = unrefTimer,
  ) {}

  /** `limited`: the attempt was refused with 429 (the address is backing off), not checked. */
  record(address: string, reason: string, limited: boolean): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs && this.cancel === undefined) {
      this.windowStart = now;
      this.warn(`diagnostics: failed authentication from ${address} (${reason}); further failures are summarised every ${Math.round(this.windowMs / 1000)} s`, { address, reason });
      return;
    }
    this.suppressed++;
    if (limited) this.limited++;
    if (this.byAddress.has(address) || this.byAddress.size < MAX_ADDRESSES) this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    this.cancel ??= this.schedule(() => this.flush(), Math.max(0, this.windowStart + this.windowMs - now));
  }

  /** Writes the pending summary, if any (the timer, and close). */
  flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.suppressed === 0) return;
    let top: [string, number] = ['', 0];
    for (const entry of this.byAddress) if (entry[1] > top[1]) top = entry;
    const addresses = this.byAddress.size >= MAX_ADDRESSES ? `${MAX_ADDRESSES}+` : String(this.byAddress.size);
    this.warn(`diagnostics: ${this.suppressed} more failed authentications in the last ${Math.round(this.windowMs / 1000)} s from ${addresses} address(es), most from ${top[0]} (${top[1]}); ${this.limited} answered 429`, {
      failures: this.suppressed,
      rateLimited: this.limited,
      addresses: this.byAddress.size,
      top: top[0],
    });
    this.suppressed = 0;
    this.limited = 0;
    this.byAddress.clear();
    // The next failure opens a new window, logged at once.
    this.windowStart = this.now();
  }
}
