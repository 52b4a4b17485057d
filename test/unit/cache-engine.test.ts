import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeEngine, type LogLine } from '../fixtures/cache-helpers.js';
import { currentTrace, tableTag } from '../../plugins/cache/trace.js';
import type { Store } from '../../plugins/cache/stores.js';
import { encode } from '../../plugins/cache/codec.js';

/**
 * The engine on fake time: the engine's clock is injected (`now`) and timers are vitest's, so TTLs, grace,
 * soft and hard timeouts are exact and no test races the wall clock.
 */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const fake = (options: Parameters<typeof makeEngine>[0] = {}, extra: Parameters<typeof makeEngine>[1] = {}) => makeEngine(options, { now: () => Date.now(), ...extra });

/**
 * A 30 ms load of a function tagged `t`, with `t` invalidated 5 ms into it: what the load returned, and what
 * the next call returns once it has had time to load (1 again when the interrupted result was stored).
 */
async function interruptedLoad(engine: ReturnType<typeof makeEngine>): Promise<{ loaded: number; next: number }> {
  let n = 0;
  const fn = engine.cached(async () => {
    await sleep(30);
    return ++n;
  }, { tags: ['t'] });
  const loading = fn();
  await tick(5);
  await engine.invalidateTags(['t']);
  await tick(25);
  const loaded = await loading;
  const next = fn();
  await tick(30);
  return { loaded, next: await next };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('cache engine (L1 only)', () => {
  it('serves repeated calls from L1 with the same frozen value', async () => {
    const engine = fake();
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
    await tick(60_000);
    await getPlans(1);
    expect(calls).toBe(3); // the TTL ended
  });

  it('single flight: 100 concurrent calls for one key make one origin call', async () => {
    const engine = fake();
    let calls = 0;
    const slow = engine.cached(async (id: string) => {
      calls++;
      await sleep(30);
      return { id };
    });
    const all = Promise.all(Array.from({ length: 100 }, () => slow('k')));
    await tick(30);
    const results = await all;
    expect(calls).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(engine.stats.coalesced).toBe(99);
  });

  it('shares an origin error with the waiters and caches nothing', async () => {
    const engine = fake();
    let calls = 0;
    const failing = engine.cached(async () => {
      calls++;
      await sleep(10);
      throw new Error('db down');
    });
    const settled = Promise.allSettled([failing(), failing(), failing()]);
    await tick(10);
    expect((await settled).every((s) => s.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
    const again = failing();
    const checked = expect(again).rejects.toThrow('db down');
    await tick(10);
    await checked;
    expect(calls).toBe(2);
  });

  it('stale-while-revalidate: within grace the old value is served at once and one refresh runs', async () => {
    const engine = fake();
    let version = 0;
    const fn = engine.cached(async () => {
      await sleep(20);
      return { version: ++version };
    }, { ttl: 50, grace: '5s' });
    const first = fn();
    await tick(20);
    expect(await first).toEqual({ version: 1 });
    await tick(51);
    const served = await Promise.all([fn(), fn(), fn()]); // no time passes: served at once
    expect(served.map((v) => v.version)).toEqual([1, 1, 1]);
    await tick(20);
    expect(await fn()).toEqual({ version: 2 });
    expect(version).toBe(2);
    expect(engine.stats.l1Stale).toBe(3);
  });

  it('stale-if-error: the old value is served when the origin throws', async () => {
    const engine = fake();
    let fail = false;
    const fn = engine.cached(async () => {
      if (fail) throw new Error('origin down');
      return 'fresh';
    }, { ttl: 30, staleIfError: '5s' });
    expect(await fn()).toBe('fresh');
    fail = true;
    await tick(31);
    expect(await fn()).toBe('fresh');
    expect(engine.stats.originErrors).toBe(1);
  });

  it('soft timeout: a slow origin is not awaited when a stale value is at hand, and still refills the cache', async () => {
    const engine = fake();
    let delay = 0;
    let n = 0;
    const fn = engine.cached(async () => {
      await sleep(delay);
      return ++n;
    }, { ttl: 30, staleIfError: '5s', softTimeout: 40 });
    const first = fn();
    await tick(0);
    expect(await first).toBe(1);
    delay = 200;
    await tick(31);
    const slow = fn();
    await tick(40);
    expect(await slow).toBe(1); // after exactly the soft timeout
    await tick(160);
    expect(await fn()).toBe(2); // the slow call finished and was stored
  });

  it('hard timeout: a coded error when nothing stale is cached', async () => {
    const engine = fake();
    const fn = engine.cached(async () => {
      await sleep(300);
      return 1;
    }, { hardTimeout: 50 });
    const call = expect(fn()).rejects.toMatchObject({ code: 'PPERF_ERR_CACHE_TIMEOUT' });
    await tick(50);
    await call;
    await tick(250);
  });

  it('negative caching: empty results are cached only when negativeTtl is set', async () => {
    const engine = fake();
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
    await tick(1000);
    await negative();
    expect(b).toBe(2);
  });

  it('invalidates by arguments and by tag (static or from the arguments)', async () => {
    const engine = fake();
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

  it('stamps invalidations with the injected clock, not the process clock', async () => {
    // The injected time is a day ahead of Date.now(): an invalidation stamped by Date.now() would look
    // older than the load it interrupts, and the load's stale result would be stored.
    const { loaded, next } = await interruptedLoad(makeEngine({}, { now: () => Date.now() + 86_400_000 }));
    expect(loaded).toBe(1);
    expect(next).toBe(2);
  });

  it('stamps invalidations with the exact wall clock (`wallNow`) when one is given beside the coarse `now`', async () => {
    const run = async (wallAhead: number) => (await interruptedLoad(makeEngine({}, { now: () => Date.now(), wallNow: () => Date.now() + wallAhead }))).next;
    expect(await run(0)).toBe(2); // stamped after the load began: its result is not stored
    expect(await run(-60_000)).toBe(1); // stamped (by this clock) before the load began: stored
  });

  it('does not store a result whose key or tag was invalidated while it was loading', async () => {
    const { loaded, next } = await interruptedLoad(fake());
    expect(loaded).toBe(1);
    expect(next).toBe(2);
  });

  it('keeps within its byte budget, and shrinks and restores it', async () => {
    const engine = fake({ l1Bytes: 200_000 });
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
    const engine = fake();
    let n = 0;
    const sum = engine.cached((a: number, b: number) => (n++, { sum: a + b }));
    expect(sum(1, 2)).toEqual({ sum: 3 });
    const second = sum(1, 2);
    expect(second).toEqual({ sum: 3 });
    expect(sum(1, 2)).toBe(second);
    expect(n).toBe(2); // the first call only told us the function is sync
  });

  it('uses the key option (a function or paths) and bypasses unkeyable calls with one warning', async () => {
    const lines: LogLine[] = [];
    const engine = fake({}, { lines });
    let n = 0;
    const byId = engine.cached(async (user: { id: number; loadedAt: number }) => ({ n: ++n, id: user.id }), { key: (user: { id: number }) => user.id });
    const a = await byId({ id: 1, loadedAt: 1 });
    expect(await byId({ id: 1, loadedAt: 2 })).toBe(a);
    const byPath = engine.cached(async (user: { id: number; loadedAt: number }, _page: number) => ({ n: ++n, id: user.id }), { key: ['0.id'] });
    const b = await byPath({ id: 1, loadedAt: 1 }, 1);
    expect(await byPath({ id: 1, loadedAt: 2 }, 2)).toBe(b);
    const deep = engine.cached(async (x: unknown) => ({ n: ++n, x: typeof x }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await deep(cyclic);
    await deep(cyclic);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_024')).toHaveLength(1);
  });

  it('keeps the wrapped function’s name and length, and wraps a function once', () => {
    const engine = fake();
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

describe('keys that work on real functions', () => {
  class Pool {
    query() {}
  }

  it('caches getUserPlans(pool, userId, limit): the pool is left out of the key, logged once', async () => {
    const lines: LogLine[] = [];
    const engine = fake({}, { lines });
    let n = 0;
    const getUserPlans = engine.cached(async (_pool: Pool, userId: number, limit: number) => ({ userId, limit, n: ++n }));
    const a = await getUserPlans(new Pool(), 7, 20);
    expect(await getUserPlans(new Pool(), 7, 20)).toBe(a);
    expect((await getUserPlans(new Pool(), 7, 10)).n).toBe(2);
    expect(lines.filter((l) => l.level === 'info' && /argument 0 \(Pool\) left out of the key/.test(l.message))).toHaveLength(1);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_024')).toHaveLength(0);
  });

  it('never serves a call made with a transaction handle from the cache', async () => {
    const engine = fake({}, { inTransaction: (client) => (client as { inTx?: boolean }).inTx === true });
    let n = 0;
    const getUser = engine.cached(async (_db: unknown, id: number) => ({ id, n: ++n }));
    const db = Object.assign(() => {}, { client: {}, raw() {} });
    const trx = Object.assign(() => {}, { isTransaction: true, raw() {} });
    const first = await getUser(db, 1);
    expect(await getUser(db, 1)).toBe(first);
    expect((await getUser(trx, 1)).n).toBe(2); // knex's transaction: the origin, every time
    expect((await getUser({ inTx: true, query() {} }, 1)).n).toBe(3); // a pg client the tracker saw BEGIN on
    expect(await getUser(db, 1)).toBe(first); // and it did not replace the cached value
  });
});

describe('a function that is not a data loader is left untouched', () => {
  it('returns a function, a class instance or a stream: runs as itself from then on, once warned', async () => {
    const lines: LogLine[] = [];
    const engine = fake({}, { lines });
    let calls = 0;
    class Conn {
      n = ++calls;
    }
    const factory = engine.cached(async () => new Conn());
    const a = await factory();
    const b = await factory();
    const c = await factory();
    expect(new Set([a, b, c]).size).toBe(3);
    expect(Object.isFrozen(a)).toBe(false);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_040')).toHaveLength(1);
    expect(lines.find((l) => l.code === 'PPERF_WRN_040')!.message).toMatch(/untouched from now on/);
  });

  it('called with a callback: the callback is called, the function is untouched', async () => {
    const lines: LogLine[] = [];
    const engine = fake({}, { lines });
    const withCallback = engine.cached((id: number, done: (error: null, value: number) => void) => void setTimeout(() => done(null, id * 2), 1));
    const results: number[] = [];
    withCallback(2, (_e, v) => results.push(v));
    withCallback(3, (_e, v) => results.push(v));
    await tick(1);
    expect(results).toEqual([4, 6]);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_040')).toHaveLength(1);
  });

  it('a result with a class instance inside is neither frozen nor cached', async () => {
    const lines: LogLine[] = [];
    const engine = fake({}, { lines });
    class Money {
      constructor(public cents: number) {}
    }
    let n = 0;
    const fn = engine.cached(async () => ({ total: new Money(++n) }));
    const a = await fn();
    expect(Object.isFrozen(a)).toBe(false);
    expect((await fn()).total.cents).toBe(2);
    expect(lines.filter((l) => l.code === 'PPERF_WRN_041')).toHaveLength(1);
  });

  it('classes and generators are not wrapped at all', () => {
    const engine = fake();
    class Service {}
    function* gen() {}
    expect(engine.cached(Service as never)).toBe(Service);
    expect(engine.cached(gen)).toBe(gen);
  });
});

describe('the wrapper never changes the function', () => {
  it('copies every own property, string and symbol keys, with their descriptors', () => {
    const engine = fake();
    async function plugin(_fastify: unknown, _opts: unknown) {}
    Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
    Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: 'my-plugin', enumerable: false });
    (plugin as unknown as { autoPrefix: string }).autoPrefix = '/api';
    const wrapped = engine.cached(plugin) as typeof plugin & Record<string | symbol, unknown>;
    expect(wrapped).not.toBe(plugin);
    expect(wrapped[Symbol.for('skip-override')]).toBe(true);
    expect(wrapped[Symbol.for('fastify.display-name')]).toBe('my-plugin');
    expect(wrapped.autoPrefix).toBe('/api');
    expect(Reflect.ownKeys(wrapped).sort((a, b) => String(a).localeCompare(String(b)))).toEqual(Reflect.ownKeys(plugin).sort((a, b) => String(a).localeCompare(String(b))));
  });

  it('keeps its kind: an async function stays an AsyncFunction without prototype; a plain one keeps its prototype', () => {
    const engine = fake();
    const asyncWrapped = engine.cached(async function load() {});
    expect(asyncWrapped.constructor.name).toBe('AsyncFunction');
    expect(Object.prototype.hasOwnProperty.call(asyncWrapped, 'prototype')).toBe(false);
    const arrow = engine.cached((x: number) => x);
    expect(Object.prototype.hasOwnProperty.call(arrow, 'prototype')).toBe(false);
    function legacy(this: unknown, x: number) {
      return x;
    }
    const legacyWrapped = engine.cached(legacy);
    expect(legacyWrapped.prototype).toBe(legacy.prototype);
  });
});

describe('dependencies recorded while the origin runs', () => {
  it('tables reported in the origin’s async context become tags; a write to one drops the entry', async () => {
    const engine = fake();
    let n = 0;
    const getPlans = engine.cached(async (id: number) => {
      await sleep(1);
      currentTrace()?.addTags([tableTag('plans'), tableTag('users')]); // what the pg hook does for a query
      return { id, n: ++n };
    });
    const first = getPlans(1);
    await tick(1);
    const a = await first;
    expect(await getPlans(1)).toBe(a);
    engine.tablesWritten(['contexts']);
    expect(await getPlans(1)).toBe(a);
    engine.tablesWritten(['users']); // synchronous: the very next call misses
    const again = getPlans(1);
    await tick(1);
    expect((await again).n).toBe(2);
  });

  it('a load that read a table written meanwhile is not stored; one read in a transaction is not either', async () => {
    const engine = fake();
    let n = 0;
    let taint = false;
    const fn = engine.cached(async () => {
      currentTrace()?.addTags([tableTag('t')]);
      if (taint) currentTrace()?.taint('transaction');
      await sleep(10);
      return ++n;
    });
    const loading = fn();
    await tick(5);
    engine.tablesWritten(['t']);
    await tick(5);
    expect(await loading).toBe(1);
    const second = fn();
    await tick(10);
    expect(await second).toBe(2);
    expect(await fn()).toBe(2); // stored this time
    engine.tablesWritten('all');
    taint = true;
    const third = fn();
    await tick(10);
    expect(await third).toBe(3);
    const fourth = fn();
    await tick(10);
    expect(await fourth).toBe(4); // the tainted result was not kept
  });

  it('an outer cached function inherits the tags and tables of the inner ones it used, hit or miss', async () => {
    const engine = fake();
    let inner = 0;
    let outer = 0;
    const getUser = engine.cached(async (id: number) => {
      currentTrace()?.addTags([tableTag('users')]);
      return { id, v: ++inner };
    }, { tags: ['user'] });
    const getPage = engine.cached(async (id: number) => ({ user: await getUser(id), v: ++outer }));
    await getUser(1); // the inner entry is cached first: the outer call hits it
    const page = await getPage(1);
    expect(await getPage(1)).toBe(page);
    engine.tablesWritten(['users']);
    expect((await getPage(1)).v).toBe(2);
    await engine.invalidateTags(['user']);
    expect((await getPage(1)).v).toBe(3);
  });
});

describe('the invalidation bus', () => {
  it('still sends when L2 is failing and its breaker is open (an invalidation is never silenced by slow reads)', async () => {
    const sent: string[] = [];
    const hang = () => new Promise<never>(() => {});
    const store: Store = {
      kind: 'redis',
      getMany: hang,
      set: hang,
      delete: hang,
      busTransport: () => ({ maxBytes: 65_536, connected: true, listen() {}, send: async (text: string) => void sent.push(text), close() {} }),
      close: async () => {},
    };
    const engine = fake({ commandTimeoutMs: 10, breakerThreshold: 1, breakerCooldownMs: 60_000 }, { store });
    const get = engine.cached(async (id: number) => ({ id }), { ttl: '1m' });
    const pending = get(1);
    await tick(20); // the L2 read times out: the breaker opens
    await pending;
    expect(engine.snapshot().l2?.breaker).toBe('open');
    engine.tagsWritten(['@pg:users|id=1']);
    await tick(1);
    expect(sent.map((text) => JSON.parse(text).t)).toEqual([['@pg:users|id=1']]);
  });
});

describe('leases after an invalidation', () => {
  it('an instance that holds the L2 entry invalid computes at once instead of polling out leaseWaitMs', async () => {
    vi.useRealTimers(); // the poll sleeps with node:timers/promises
    const now = Date.now();
    const old = encode({ value: { id: 1, version: 1 }, created: now - 1000, expires: now + 60_000, grace: now + 60_000, stale: now + 60_000, tags: ['t'] }, 0);
    const store: Store = {
      kind: 'redis',
      getMany: async (keys: string[]) => keys.map((key) => (key.includes(':tag:') ? undefined : old)),
      set: async () => {},
      delete: async () => {},
      lease: async () => false, // another instance holds the lease and is computing
      release: async () => {},
      close: async () => {},
    };
    const engine = fake({ leaseWaitMs: 5000, commandTimeoutMs: 1000 }, { store });
    let calls = 0;
    const get = engine.cached(async (id: number) => ({ id, version: 1 + ++calls }), { ttl: '1m', tags: ['t'] });
    engine.tagsWritten(['t']); // received after the lease holder started: its entry could be either
    const t0 = performance.now();
    expect(await get(1)).toEqual({ id: 1, version: 2 });
    expect(calls).toBe(1);
    // Polling it out would take leaseWaitMs (5 s); the first poll (25 ms) decides, with room for a loaded machine.
    expect(performance.now() - t0).toBeLessThan(2500);
  });
});

describe('L2 reads race writes safely', () => {
  it('an L2 entry whose tag a write drops during the second round trip (tag times) is not served', async () => {
    vi.useRealTimers();
    const now = Date.now();
    const old = encode({ value: { v: 1 }, created: now - 1000, expires: now + 60_000, grace: now + 60_000, stale: now + 60_000, tags: ['@pg:plans|user_id=abc'] }, 0);
    let release = (): void => {};
    let secondRounds = 0;
    const store: Store = {
      kind: 'redis',
      async getMany(keys: string[]) {
        if (keys.some((key) => !key.includes(':tag:'))) return keys.map((key) => (key.includes(':tag:') ? undefined : old));
        secondRounds++;
        await new Promise<void>((resolve) => (release = resolve));
        return keys.map(() => undefined); // the write's tag time has not reached L2 yet
      },
      set: async () => {},
      delete: async () => {},
      close: async () => {},
    };
    const engine = fake({ commandTimeoutMs: 5000, leaseMs: 0 }, { store });
    let calls = 0;
    const get = engine.cached(async (id: number) => ({ v: 1 + ++calls, id }), { ttl: '1m' });
    const result = get(1);
    while (secondRounds === 0) await new Promise((resolve) => setImmediate(resolve));
    engine.tagsWritten(['@pg:plans|user_id=abc']); // the write ends while the tag times are on their way
    release();
    expect(await result).toEqual({ v: 2, id: 1 });
    expect(calls).toBe(1);
  });
});

describe('single flight and writes', () => {
  it('a call after a write does not join a load that started before it (it would get the replaced value)', async () => {
    const engine = fake();
    const pending: ((v: number) => void)[] = [];
    let version = 1;
    const get = engine.cached(
      async (id: number) => {
        currentTrace()?.addTags(['@pg:t|id=1']); // as the table tracker records the query's rows
        const seen = version; // the row as the query reads it
        await new Promise<number>((resolve) => pending.push(resolve));
        return { id, version: seen };
      },
      { ttl: '1m' },
    );
    const before = get(1);
    await tick(5);
    version = 2;
    engine.tagsWritten(['@pg:t|id=1']); // the write returns to the app
    await tick(1);
    const after = get(1);
    await tick(0);
    expect(pending.length).toBe(2); // a second load, not a join
    for (const resolve of pending) resolve(0);
    expect(await before).toEqual({ id: 1, version: 1 });
    expect(await after).toEqual({ id: 1, version: 2 });
    expect(await get(1)).toEqual({ id: 1, version: 2 }); // the later load was kept, the earlier one not
    expect(pending.length).toBe(2);
  });
});
