import { describe, expect, it } from 'vitest';
import { makeEngine, sleep, type LogLine } from '../fixtures/cache-helpers.js';

describe('cache engine (L1 only)', () => {
  it('serves repeated calls from L1 with the same frozen value', async () => {
    const engine = makeEngine();
    let calls = 0;
    const getPlans = engine.cached(async (userId: number) => ({ userId, plans: [{ id: ++calls }] }), { ttl: '1m' });
    const a = await getPlans(1);
    const b = await getPlans(1);
    expect(b).toBe(a);
    expect(calls).toBe(1);
    expect(Object.isFrozen(a.plans[0])).toBe(true);
    expect(() => (a.plans as unknown as unknown[]).push(1)).toThrow(TypeError);
    await getPlans(2);
    expect(calls).toBe(2);
    expect(engine.stats.l1Hit).toBe(1);
  });

  it('single flight: 100 concurrent calls for one key make one origin call', async () => {
    const engine = makeEngine();
    let calls = 0;
    const slow = engine.cached(async (id: string) => {
      calls++;
      await sleep(30);
      return { id };
    });
    const results = await Promise.all(Array.from({ length: 100 }, () => slow('k')));
    expect(calls).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(engine.stats.coalesced).toBe(99);
  });

  it('shares an origin error with the waiters and caches nothing', async () => {
    const engine = makeEngine();
    let calls = 0;
    const failing = engine.cached(async () => {
      calls++;
      await sleep(10);
      throw new Error('db down');
    });
    const settled = await Promise.allSettled([failing(), failing(), failing()]);
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
    await expect(failing()).rejects.toThrow('db down');
    expect(calls).toBe(2);
  });

  it('stale-while-revalidate: within grace the old value is served at once and one refresh runs', async () => {
    const engine = makeEngine();
    let version = 0;
    const fn = engine.cached(async () => {
      await sleep(20);
      return { version: ++version };
    }, { ttl: 50, grace: '5s' });
    expect(await fn()).toEqual({ version: 1 });
    await sleep(70);
    const started = performance.now();
    const served = await Promise.all([fn(), fn(), fn()]);
    expect(performance.now() - started).toBeLessThan(15);
    expect(served.map((v) => v.version)).toEqual([1, 1, 1]);
    await sleep(40);
    expect(await fn()).toEqual({ version: 2 });
    expect(version).toBe(2);
    expect(engine.stats.l1Stale).toBe(3);
  });

  it('stale-if-error: the old value is served when the origin throws', async () => {
    const engine = makeEngine();
    let fail = false;
    const fn = engine.cached(async () => {
      if (fail) throw new Error('origin down');
      return 'fresh';
    }, { ttl: 30, staleIfError: '5s' });
    expect(await fn()).toBe('fresh');
    fail = true;
    await sleep(50);
    expect(await fn()).toBe('fresh');
    expect(engine.stats.originErrors).toBe(1);
  });

  it('soft timeout: a slow origin is not awaited when a stale value is at hand, and still refills the cache', async () => {
    const engine = makeEngine();
    let delay = 0;
    let n = 0;
    const fn = engine.cached(async () => {
      await sleep(delay);
      return ++n;
    }, { ttl: 30, staleIfError: '5s', softTimeout: 40 });
    expect(await fn()).toBe(1);
    delay = 200;
    await sleep(50);
    const t0 = performance.now();
    expect(await fn()).toBe(1);
    expect(performance.now() - t0).toBeLessThan(120);
    await sleep(220);
    expect(await fn()).toBe(2); // the slow call finished and was stored
  });

  it('hard timeout: a coded error when nothing stale is cached', async () => {
    const engine = makeEngine();
    const fn = engine.cached(async () => {
      await sleep(300);
      return 1;
    }, { hardTimeout: 50 });
    const t0 = performance.now();
    await expect(fn()).rejects.toMatchObject({ code: 'PPERF_ERR_CACHE_TIMEOUT' });
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('negative caching: empty results are cached only when negativeTtl is set', async () => {
    const engine = makeEngine();
    let a = 0;
    let b = 0;
    const plain = engine.cached(async () => (a++, [] as number[]));
    const negative = engine.cached(async () => (b++, null), { negativeTtl: '1s' });
    await plain();
    await plain();
    await negative();
    await negative();
    expect(a).toBe(2);
    expect(b).toBe(1);
  });

  it('invalidates by arguments and by tag (static or from the arguments)', async () => {
    const engine = makeEngine();
    let n = 0;
    const byUser = engine.cached(async (userId: number) => ({ userId, n: ++n }), { tags: (userId: number) => ['plans', `user:${userId}`] });
    const plain = engine.cached(async (id: number) => ({ id, n: ++n }), { name: 'plain', tags: ['other'] });
    const first = await byUser(1);
    await byUser(2);
    await plain(1);
    await engine.invalidate(byUser, 1);
    expect(await byUser(1)).not.toBe(first);
    const two = await byUser(2);
    await engine.invalidateTags(['user:2']);
    expect(await byUser(2)).not.toBe(two);
    const p = await plain(1);
    await engine.invalidateTags(['plans']);
    expect(await plain(1)).toBe(p);
    await engine.invalidate('plain', 1);
    expect(await plain(1)).not.toBe(p);
  });

  it('does not store a result whose key was invalidated while it was loading', async () => {
    const engine = makeEngine();
    let n = 0;
    const fn = engine.cached(async () => {
      await sleep(30);
      return ++n;
    }, { tags: ['t'] });
    const loading = fn();
    await sleep(5);
    await engine.invalidateTags(['t']);
    expect(await loading).toBe(1);
    expect(await fn()).toBe(2);
  });

  it('keeps within its byte budget, and shrinks and restores it', async () => {
    const engine = makeEngine({ l1Bytes: 200_000 });
    const fn = engine.cached(async (i: number) => ({ i, text: 'x'.repeat(1000) }));
    for (let i = 0; i < 500; i++) await fn(i);
    expect(engine.l1.bytes).toBeLessThanOrEqual(200_000);
    expect(engine.l1.evictions).toBeGreaterThan(0);
    engine.l1.shrink(0.5);
    expect(engine.l1.bytes).toBeLessThanOrEqual(100_000);
    for (let i = 0; i < 500; i++) await fn(i);
    expect(engine.l1.bytes).toBeLessThanOrEqual(100_000);
    engine.l1.restore();
    for (let i = 0; i < 500; i++) await fn(i);
    expect(engine.l1.bytes).toBeGreaterThan(100_000);
  });

  it('caches synchronous functions synchronously (learnt from the first call)', () => {
    const engine = makeEngine();
    let n = 0;
    const sum = engine.cached((a: number, b: number) => (n++, { sum: a + b }));
    expect(sum(1, 2)).toEqual({ sum: 3 });
    const second = sum(1, 2);
    expect(second).toEqual({ sum: 3 });
    expect(sum(1, 2)).toBe(second);
    expect(n).toBe(2); // the first call only told us the function is sync
  });

  it('uses the key option, separates versions and names, and bypasses unkeyable calls with one warning', async () => {
    const lines: LogLine[] = [];
    const engine = makeEngine({}, { lines });
    let n = 0;
    const byId = engine.cached(async (user: { id: number; loadedAt: number }) => ({ n: ++n, id: user.id }), { key: (user: { id: number }) => user.id });
    const a = await byId({ id: 1, loadedAt: 1 });
    expect(await byId({ id: 1, loadedAt: 2 })).toBe(a);
    const cb = engine.cached(async (fn: () => number) => fn());
    expect(await cb(() => 5)).toBe(5);
    expect(await cb(() => 6)).toBe(6);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_024')).toHaveLength(1);
  });

  it('keeps the wrapped function’s name and length, and wraps a function once', () => {
    const engine = makeEngine();
    async function getUserPlans(_a: number, _b: string) {
      return 1;
    }
    const wrapped = engine.cached(getUserPlans);
    expect(wrapped.name).toBe('getUserPlans');
    expect(wrapped.length).toBe(2);
    expect(engine.cached(getUserPlans)).toBe(wrapped);
    expect(engine.cached(wrapped)).toBe(wrapped);
  });
});
