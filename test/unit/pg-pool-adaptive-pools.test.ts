import { EventEmitter } from 'node:events';
import { metrics } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdaptivePools } from '../../plugins/pg-pool/adaptive.js';
import { schema } from '../../plugins/pg-pool/schema.js';
import type { WatchedPool } from '../../plugins/pg-pool/watch.js';

const options = (() => {
  const r = schema.safeParse({});
  if (!r.success) throw new Error('defaults');
  return r.data;
})();

/** pg-pool's surface the adaptive size touches, with every call recorded (no database). */
class FakePool extends EventEmitter {
  options: { max: number } = { max: 10 };
  totalCount = 10;
  idleCount = 0;
  ending = false;
  _pendingQueue: unknown[] = Array.from({ length: 30 });
  pulses = 0;
  oneOffClients = 0;
  poolQueries = 0;
  get waitingCount() {
    return this._pendingQueue.length;
  }
  _isFull() {
    return this.totalCount >= this.options.max;
  }
  _pulseQueue() {
    this.pulses++;
  }
  Client = function OneOff(this: FakePool) {
    return {
      connect: async () => {},
      query: async () => ({ rows: [{ max_connections: 100, reserved: 3, used: 10 }] }),
      end: async () => {},
    };
  } as unknown as new () => object;
  async query() {
    this.poolQueries++;
    return { rows: [{ max_connections: 100, reserved: 3, used: 10 }] };
  }
}

const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn(), error: vi.fn(), once: vi.fn(), setLevel: vi.fn() };

/** One saturated window: 20 checkouts of 10 connections, every caller having waited 100 ms (as the pool watch reports them). */
function saturate(pools: AdaptivePools, pool: FakePool) {
  for (let i = 0; i < 20; i++) {
    pools.waited(pool as unknown as WatchedPool, 100, undefined);
    pools.released(pool as unknown as WatchedPool, undefined, {});
  }
  for (let i = 0; i < 10; i++) pools.waited(pool as unknown as WatchedPool, 0, undefined);
}

describe('adaptive pool size: applying it to a pg-pool', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads the server on a one-off client when no connection is idle, then raises max and pulses once per new slot', async () => {
    const pools = new AdaptivePools(metrics.getMeter('test'), options, log as never, () => 'db@h:5432', () => Date.now());
    const pool = new FakePool();
    pools.adopt(pool as unknown as WatchedPool, { value: 10, from: 'pg default' });
    saturate(pools, pool);
    await vi.advanceTimersByTimeAsync(500);
    expect(pool.options.max).toBe(10); // the server is not read yet: no growth
    expect(pool.poolQueries).toBe(0); // not behind the 30 queued callers
    for (let i = 0; i < 10; i++) pools.released(pool as unknown as WatchedPool, undefined, {});
    saturate(pools, pool);
    await vi.advanceTimersByTimeAsync(500);
    expect(pool.options.max).toBe(15);
    expect(pool.pulses).toBe(5);
    pools.close();
  });

  it('leaves a pool with an explicit max alone, and one that is ending', async () => {
    const pools = new AdaptivePools(metrics.getMeter('test'), options, log as never, () => 'db@h:5432', () => Date.now());
    const fixed = new FakePool();
    pools.adopt(fixed as unknown as WatchedPool, { value: 10, from: 'app' });
    const ending = new FakePool();
    pools.adopt(ending as unknown as WatchedPool, { value: 10, from: 'pg default' });
    ending.ending = true;
    await vi.advanceTimersByTimeAsync(500); // the ending pool is forgotten
    for (const pool of [fixed, ending]) {
      saturate(pools, pool);
      saturate(pools, pool);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect([fixed.options.max, ending.options.max]).toEqual([10, 10]);
    expect([fixed.pulses, ending.pulses, fixed.poolQueries, ending.poolQueries]).toEqual([0, 0, 0, 0]);
    // Nothing listens on the pools: checkouts and releases come from the pool watch.
    expect([...fixed.eventNames(), ...ending.eventNames()]).toEqual([]);
    pools.close();
  });

  it('after a shrink, a released client beyond the size is marked ending, so pg-pool closes it', () => {
    const pools = new AdaptivePools(metrics.getMeter('test'), options, log as never, () => 'db@h:5432', () => Date.now());
    const pool = new FakePool();
    pools.adopt(pool as unknown as WatchedPool, { value: 10, from: 'pg default' });
    const kept = { _ending: false, _poolUseCount: 3 };
    pools.released(pool as unknown as WatchedPool, undefined, kept);
    expect(kept).toEqual({ _ending: false, _poolUseCount: 3 }); // 10 clients, size 10
    pool.totalCount = 14; // grown earlier, then shrunk back to 10
    const surplus = { _ending: false, _poolUseCount: 3 };
    pools.released(pool as unknown as WatchedPool, undefined, surplus);
    expect(surplus).toEqual({ _ending: true, _poolUseCount: 3 }); // pg's own flag; the use count keeps its small integer
    // Something that is not a pg client (no `_ending` of its own) is left alone.
    const other: Record<string, unknown> = {};
    pools.released(pool as unknown as WatchedPool, undefined, other);
    expect(other).toEqual({});
    pools.close();
  });

  it('a pg-pool without the internals it needs keeps its size, with a coded warning', () => {
    const pools = new AdaptivePools(metrics.getMeter('test'), options, log as never, () => 'db@h:5432', () => Date.now());
    const pool = new FakePool() as unknown as Record<string, unknown>;
    pool._pulseQueue = undefined;
    pools.adopt(pool as unknown as WatchedPool, { value: 10, from: 'pg default' });
    expect(log.once).toHaveBeenCalledWith('pg-pool:adaptive-internals', 'warn', 'PPERF_WRN_071', expect.any(String), expect.any(Object));
    expect((pool as unknown as FakePool).eventNames()).toEqual([]);
  });
});
