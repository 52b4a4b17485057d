import { createNoopMeter } from '@opentelemetry/api';
import genericPool from 'generic-pool';
import { describe, expect, it } from 'vitest';
import { guardedPool, type CreatePool, type Factory, type GuardDefaults, type GuardInstruments } from '../../plugins/object-pool/guard.js';
import { log } from '../../src/log.js';

log.setLevel('silent');
const meter = createNoopMeter();
const instruments: GuardInstruments = { acquireDuration: meter.createHistogram('x'), createErrors: meter.createCounter('x'), leaked: meter.createCounter('x'), log };
const defaults: GuardDefaults = {
  max: 2,
  min: 0,
  acquireTimeoutMillis: 300,
  maxWaitingClients: 3,
  evictionRunIntervalMillis: 50,
  idleTimeoutMillis: 100,
  createBackoffMs: 100,
  createBackoffMaxMs: 1000,
  leakDetectionMs: 0,
};
const createPool = genericPool.createPool as unknown as CreatePool;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('object pools on generic-pool, with its traps fixed', () => {
  it('a factory that always fails: acquirers get its error quickly, and creation backs off instead of busy-looping', async () => {
    let attempts = 0;
    const factory: Factory<object> = {
      create: async () => {
        attempts++;
        throw new Error('backend down');
      },
      destroy: async () => {},
    };
    const { pool } = guardedPool(createPool, 'failing', factory, {}, defaults, instruments);
    const cpuBefore = process.cpuUsage();
    const started = Date.now();
    const error = (await pool.acquire().catch((e: unknown) => e)) as Error & { code?: string; cause?: Error };
    expect(Date.now() - started).toBeLessThan(defaults.acquireTimeoutMillis);
    expect(error.code).toBe('PPERF_ERR_POOL_CREATE');
    expect(error.cause?.message).toBe('backend down');
    // Keep asking for 1.5 s: with back-off (100, 200, 400, 800 ms …) only a handful of creates run.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      pool.acquire().catch(() => {});
      await sleep(50);
    }
    const cpu = process.cpuUsage(cpuBefore);
    expect(attempts).toBeLessThanOrEqual(8);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(500);
    await pool.drain();
    await pool.clear();
  });

  it('recovers by itself once create succeeds again', async () => {
    let failuresLeft = 2;
    const { pool } = guardedPool(
      createPool,
      'flaky',
      { create: async () => (failuresLeft-- > 0 ? Promise.reject(new Error('not yet')) : { id: 1 }), destroy: async () => {} },
      { acquireTimeoutMillis: 3000 },
      defaults,
      instruments,
    );
    await pool.acquire().catch(() => {});
    await sleep(50);
    await pool.acquire().catch(() => {});
    await sleep(400);
    const resource = await pool.acquire();
    expect(resource).toEqual({ id: 1 });
    await pool.release(resource);
    await pool.drain();
    await pool.clear();
  });

  it('acquire times out by default with a coded error, and the wait queue is bounded', async () => {
    const { pool } = guardedPool(createPool, 'small', { create: async () => ({}), destroy: async () => {} }, { max: 1 }, defaults, instruments);
    const held = await pool.acquire();
    const waiting = [1, 2, 3].map(() => pool.acquire().catch((e: { code?: string }) => e.code));
    const overflow = await pool.acquire().catch((e: { code?: string }) => e.code);
    expect(overflow).toBe('PPERF_ERR_POOL_QUEUE_FULL');
    expect(await Promise.all(waiting)).toEqual(['PPERF_ERR_POOL_TIMEOUT', 'PPERF_ERR_POOL_TIMEOUT', 'PPERF_ERR_POOL_TIMEOUT']);
    await pool.release(held);
    await pool.drain();
    await pool.clear();
  });

  it('evicts idle resources (generic-pool never does with its defaults)', async () => {
    let destroyed = 0;
    const { pool } = guardedPool(createPool, 'idle', { create: async () => ({}), destroy: async () => void destroyed++ }, {}, defaults, instruments);
    const a = await pool.acquire();
    const b = await pool.acquire();
    await pool.release(a);
    await pool.release(b);
    expect(pool.size).toBe(2);
    await sleep(400);
    expect(destroyed).toBe(2);
    expect(pool.size).toBe(0);
    await pool.drain();
    await pool.clear();
  });

  it("keeps the app's explicit options", () => {
    const { pool } = guardedPool(createPool, 'explicit', { create: async () => ({}), destroy: async () => {} }, { max: 9 }, defaults, instruments);
    expect(pool.max).toBe(9);
    return pool.drain().then(() => pool.clear());
  });
});

describe('the trap it fixes, side by side', () => {
  it('raw generic-pool retries a failing create in a tight loop while an acquirer waits', async () => {
    let attempts = 0;
    let down = true;
    // The failure arrives a tick later, like a refused connection. (One that rejects at once is worse: the retry
    // loop then runs in microtasks and starves the event loop, so not even the acquire timeout can fire.)
    const create = () => new Promise<object>((resolve, reject) => setImmediate(() => (attempts++, down ? reject(new Error('down')) : resolve({}))));
    const raw = genericPool.createPool({ create, destroy: async () => {} }, { acquireTimeoutMillis: 300 });
    raw.on('factoryCreateError', () => {});
    await raw.acquire().catch(() => {});
    // Hundreds of attempts in 300 ms: the busy loop the guarded pool avoids (a handful in 1.5 s above).
    expect(attempts).toBeGreaterThan(50);
    // It would spin on for ever (drain() never returns): let create succeed so the loop ends.
    down = false;
    await sleep(50);
    await raw.drain();
    await raw.clear();
  });
});
