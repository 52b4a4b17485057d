import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { createRedisStore } from '../../plugins/cache/stores.js';
import type { Engine } from '../../plugins/cache/engine.js';
import { cleanRedis, makeEngine, runPrefix, sleep } from '../fixtures/cache-helpers.js';

/** Two instances (two engines with their own L1, connections and bus) sharing one Redis. */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = runPrefix('bus');

async function reachable(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379 }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

describe('two instances sharing Redis', () => {
  const engines: Engine[] = [];
  let available = false;

  beforeAll(async () => {
    available = await reachable();
    if (!available) console.warn(`[cache bus] no Redis at ${REDIS_URL}: these tests are skipped`);
  });

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    if (available) await cleanRedis(REDIS_URL, prefix);
  });

  async function instance(options: Record<string, unknown> = {}): Promise<Engine> {
    const store = await createRedisStore({ url: REDIS_URL, connectTimeoutMs: 1000, table: '', onError: () => {} });
    const engine = makeEngine({ keyPrefix: prefix, commandTimeoutMs: 500, ...options }, { store });
    engines.push(engine);
    await sleep(50); // let the bus subscribe
    return engine;
  }

  it('an invalidation on one instance is seen by the other within 100 ms (by key and by tag)', async (ctx) => {
    if (!available) return ctx.skip('no Redis');
    const [a, b] = [await instance(), await instance()];
    let version = 1;
    const origin = async (userId: number) => ({ userId, version });
    const options = { name: 'plans', ttl: '1h', tags: ['plans'] };
    const onA = a.cached(origin, options);
    const onB = b.cached(origin, options);
    expect(await onB(1)).toEqual({ userId: 1, version: 1 });
    expect(await onB(2)).toEqual({ userId: 2, version: 1 });

    version = 2;
    await a.invalidate(onA, 1);
    const t0 = performance.now();
    while ((await onB(1)).version !== 2) {
      expect(performance.now() - t0).toBeLessThan(100);
      await sleep(2);
    }
    const byKey = performance.now() - t0;

    version = 3;
    await a.invalidateTags(['plans']);
    const t1 = performance.now();
    while ((await onB(2)).version !== 3) {
      expect(performance.now() - t1).toBeLessThan(100);
      await sleep(2);
    }
    const byTag = performance.now() - t1;
    expect(b.stats.busReceived).toBeGreaterThanOrEqual(2);
    console.log(`[cache bus] seen by the other instance after ${byKey.toFixed(1)} ms (key), ${byTag.toFixed(1)} ms (tag)`);
  });

  it('a missing key is computed once across instances: the other waits on the lease and reads L2', async (ctx) => {
    if (!available) return ctx.skip('no Redis');
    const [a, b] = [await instance({ leaseWaitMs: 2000 }), await instance({ leaseWaitMs: 2000 })];
    let calls = 0;
    const origin = async (id: number) => {
      calls++;
      await sleep(150);
      return { id };
    };
    const onA = a.cached(origin, { name: 'lease' });
    const onB = b.cached(origin, { name: 'lease' });
    const results = await Promise.all([onA(9), ...Array.from({ length: 20 }, () => onB(9)), ...Array.from({ length: 20 }, () => onA(9))]);
    expect(calls).toBe(1);
    expect(results.every((r) => r.id === 9)).toBe(true);
    expect(a.stats.l2Hit + b.stats.l2Hit).toBe(1); // whichever instance lost the lease read the winner's result
  });
});
