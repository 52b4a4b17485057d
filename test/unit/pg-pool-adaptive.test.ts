import { describe, expect, it } from 'vitest';
import { PoolSizeController, serverCap, type ControllerSettings, type PoolWindow } from '../../plugins/pg-pool/adaptive.js';

const settings: ControllerSettings = { floor: 10, ceiling: 50, serverShare: 0.5, serverCheckMs: 60_000, shrinkAfterMs: 10_000, backoffMs: 30_000 };
const roomy = { maxConnections: 200, reserved: 3, used: 10 }; // cap 10 + (200 - 3 - 10) / 2 = 103

/** A controller on a clock the test moves, with the server already read. */
function make(overrides: Partial<ControllerSettings> = {}) {
  let now = 0;
  const c = new PoolSizeController({ ...settings, ...overrides }, () => now);
  c.headroom(roomy, 10);
  const window = (w: Partial<PoolWindow>): ReturnType<PoolSizeController['step']> => {
    now += w.ms ?? 500;
    return c.step({ ms: 500, acquired: 0, waitedMs: 0, queued: 0, busyMs: 0, peakBusy: 0, ...w });
  };
  return { c, window, advance: (ms: number) => (now += ms) };
}

/** A saturated window at the controller's size: every connection busy, `waiting` callers queued, holds of `holdMs`. */
const saturated = (size: number, holdMs: number, waiting: number): Partial<PoolWindow> => ({
  acquired: Math.round((size * 500) / holdMs),
  busyMs: size * 500,
  waitedMs: waiting * 500,
  queued: waiting,
  peakBusy: size,
});
const idle: Partial<PoolWindow> = { acquired: 250, busyMs: 2 * 500, waitedMs: 0, queued: 0, peakBusy: 3 };

describe('adaptive pool size: the controller', () => {
  it('grows while callers wait and the hold time (query latency) stays flat, by Little-law steps of at most ×1.5', () => {
    const { c, window } = make();
    const sizes = [c.target];
    for (let i = 0; i < 6; i++) {
      const d = window(saturated(c.target, 4, 54));
      if (d) expect(d.reason).toBe('callers waited');
      sizes.push(c.target);
    }
    expect(sizes).toEqual([10, 15, 23, 35, 50, 50, 50]);
  });

  it('stops at what the callers need (busy + waiting), not at the ceiling', () => {
    const { c, window } = make();
    window(saturated(10, 4, 3)); // 10 busy + 3 waiting
    expect(c.target).toBe(13);
    window({ ...saturated(13, 4, 0), peakBusy: 13 }); // nobody waits any more
    expect(c.target).toBe(13);
  });

  it('does not keep a grow that only raised latency: back to the old size, and no retry past it during the back-off', () => {
    const { c, window, advance } = make();
    expect(window(saturated(10, 4, 54))?.to).toBe(15);
    // The database was the bottleneck: 1.5× the connections, 1.5× the hold time, same throughput.
    const back = window(saturated(15, 6, 49));
    expect(back).toMatchObject({ from: 15, to: 10, reason: 'latency rose' });
    for (let i = 0; i < 10; i++) window(saturated(10, 4, 54));
    expect(c.target).toBe(10);
    advance(30_000);
    expect(window(saturated(10, 4, 54))?.to).toBe(15); // probes again once the back-off is over
  });

  it('keeps a grow whose latency rose by less than three quarters of the growth (throughput went up)', () => {
    const { c, window } = make();
    window(saturated(10, 4, 54));
    window(saturated(15, 5.4, 49)); // +35 % hold for +50 % connections: still ~11 % more throughput
    expect(c.target).toBe(23);
  });

  it('shrinks back toward the floor, step by step, only after connections sat idle for shrinkAfterMs', () => {
    const { c, window } = make();
    for (let i = 0; i < 4; i++) window(saturated(c.target, 4, 54));
    expect(c.target).toBe(50);
    for (let i = 0; i < 19; i++) window(idle);
    expect(c.target).toBe(50); // 9.5 s idle: not yet
    expect(window(idle)).toMatchObject({ from: 50, to: 37, reason: 'connections idle' });
    for (let i = 0; i < 200; i++) window(idle);
    expect(c.target).toBe(10); // the floor, never below
    window({ ms: 500 });
    expect(c.target).toBe(10);
  });

  it('an idle streak is broken by a window where callers wait or every connection is used', () => {
    const { c, window } = make();
    window(saturated(10, 4, 54));
    window(saturated(15, 4, 49));
    expect(c.target).toBe(23);
    for (let i = 0; i < 15; i++) window(idle);
    window({ ...idle, peakBusy: 23 }); // all 23 were in use at one moment
    for (let i = 0; i < 15; i++) window(idle);
    expect(c.target).toBe(23);
  });

  it('never grows above the floor before it has read the server, and asks for it', () => {
    let now = 0;
    const c = new PoolSizeController(settings, () => now);
    now += 500;
    expect(c.step({ ms: 500, ...saturated(10, 4, 54) } as PoolWindow)).toBeUndefined();
    expect(c.target).toBe(10);
    expect(c.wantsServer).toBe(true);
    c.headroom(roomy, 10);
    expect(c.wantsServer).toBe(false);
    now += 500;
    expect(c.step({ ms: 500, ...saturated(10, 4, 54) } as PoolWindow)?.to).toBe(15);
  });

  it("respects the server's cap: its share of the free connections on top of what it holds, and goes down to it when the server fills", () => {
    expect(serverCap({ maxConnections: 100, reserved: 3, used: 47 }, 10, 0.5)).toBe(35);
    expect(serverCap({ maxConnections: 100, reserved: 3, used: 120 }, 10, 0.5)).toBe(10);
    const { c, window } = make();
    c.headroom({ maxConnections: 40, reserved: 3, used: 21 }, 10); // cap 10 + 8 = 18
    for (let i = 0; i < 5; i++) window(saturated(c.target, 4, 54));
    expect(c.target).toBe(18);
    // Others took the rest while this pool held only 12: the size comes down to the new cap.
    expect(c.headroom({ maxConnections: 40, reserved: 3, used: 40 }, 12)).toMatchObject({ from: 18, to: 12, reason: 'server cap' });
  });

  it('a server that refuses connections (too many clients) caps the pool at what it holds, never below the floor', () => {
    const { c, window } = make();
    for (let i = 0; i < 3; i++) window(saturated(c.target, 4, 54));
    expect(c.target).toBe(35);
    expect(c.serverFull(28)).toMatchObject({ from: 35, to: 28, reason: 'server cap' });
    window(saturated(28, 4, 54));
    expect(c.target).toBe(28);
    expect(c.serverFull(4)).toMatchObject({ to: 10 }); // the floor wins: pg would have held 10
    expect(c.wantsServer).toBe(false);
    // The cap is stale again soon (a tenth of the check period), so a grow asks for the server again.
    window({ ...saturated(10, 4, 54), ms: 6_000 });
    expect(c.wantsServer).toBe(true);
  });

  it('respects the ceiling (adaptiveMax, or an explicit max that is adapted below) and the floor of an opted-in pool', () => {
    const { c, window } = make({ floor: 2, ceiling: 20 });
    expect(c.target).toBe(2);
    for (let i = 0; i < 10; i++) window(saturated(c.target, 4, 54));
    expect(c.target).toBe(20);
    for (let i = 0; i < 400; i++) window({ ms: 500 });
    expect(c.target).toBe(2);
  });

  it('does not judge latency or grow on too few checkouts (a trickle is noise)', () => {
    const { c, window } = make();
    expect(window({ acquired: 5, busyMs: 5000, waitedMs: 2000, queued: 4, peakBusy: 10 })).toBeUndefined();
    expect(c.target).toBe(10);
  });
});
