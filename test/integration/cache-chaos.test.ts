import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { createRedisStore } from '../../plugins/cache/stores.js';
import { CLOSED } from '../../plugins/cache/breaker.js';
import type { Engine } from '../../plugins/cache/engine.js';
import { freePort } from '../e2e/helpers.js';
import { makeEngine, RedisProcess, runPrefix, sleep, type LogLine } from '../fixtures/cache-helpers.js';

/**
 * Chaos (bentocache's chaos helpers, with a real server): a redis-server of our own is killed, restarted,
 * paused and resumed under load. The app must see no error and no call slower than 200 ms; the breaker
 * must open and close again by itself; the bus must flush L1 after reconnecting.
 */
const REDIS_BIN = '/usr/bin/redis-server';

describe('cache under Redis failure', () => {
  const engines: Engine[] = [];
  let redis: RedisProcess | undefined;

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await redis?.kill();
  });

  it('kill -9, restart, SIGSTOP and SIGCONT during load: no failed call, bounded latency, breaker opens and closes', async (ctx) => {
    if (!fs.existsSync(REDIS_BIN)) return ctx.skip(`${REDIS_BIN} is not installed (apt-get install redis-server)`);
    redis = new RedisProcess(await freePort());
    await redis.start();
    const lines: LogLine[] = [];
    const store = await createRedisStore({ url: redis.url, connectTimeoutMs: 200, table: '', onError: () => {} });
    const engine = makeEngine(
      { keyPrefix: runPrefix('chaos'), commandTimeoutMs: 50, breakerThreshold: 3, breakerCooldownMs: 200, l1MaxTtl: 30, leaseWaitMs: 100 },
      { store, lines },
    );
    engines.push(engine);
    const fn = engine.cached(async (k: number) => {
      await sleep(1);
      return { k, at: Date.now() };
    }, { name: 'chaos', ttl: 400 });

    let calls = 0;
    let failures = 0;
    let slowest = 0;
    const slow: number[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const t0 = performance.now();
        try {
          await fn(Math.floor(Math.random() * 200));
        } catch {
          failures++;
        }
        const ms = performance.now() - t0;
        calls++;
        slowest = Math.max(slowest, ms);
        if (ms >= 200) slow.push(Math.round(ms));
        await sleep(2);
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, worker));

    await sleep(700);
    const hitsBeforeKill = engine.stats.l2Hit;
    redis.signal('SIGKILL');
    await sleep(1000);
    const openedAfterKill = engine.l2!.breaker.opened;
    await redis.start();
    await sleep(1300);
    const hitsAfterRestart = engine.stats.l2Hit;
    redis.signal('SIGSTOP');
    await sleep(1000);
    const openedAfterPause = engine.l2!.breaker.opened;
    redis.signal('SIGCONT');
    await sleep(1500);
    running = false;
    await load;

    expect(failures).toBe(0);
    expect(slow, `calls of 200 ms or more (slowest ${Math.round(slowest)} ms)`).toEqual([]);
    expect(calls).toBeGreaterThan(1000);
    expect(hitsBeforeKill).toBeGreaterThan(0);
    expect(openedAfterKill).toBeGreaterThanOrEqual(1);
    expect(hitsAfterRestart).toBeGreaterThan(hitsBeforeKill); // L2 serves again after the restart
    expect(openedAfterPause).toBeGreaterThan(openedAfterKill);
    expect(engine.l2!.state).toBe(CLOSED);
    expect(lines.some((l) => l.code === 'PPERF_WRN_020')).toBe(true);
    expect(lines.some((l) => l.code === 'PPERF_WRN_022')).toBe(true); // the bus reconnected and flushed L1
    console.log(`[cache chaos] ${calls} calls, 0 failed, slowest ${slowest.toFixed(1)} ms, breaker opened ${engine.l2!.breaker.opened} times`);
  }, 30_000);

  it('a Redis that is down at start-up costs nothing: L1 and the origin serve at once', async (ctx) => {
    if (!fs.existsSync(REDIS_BIN)) return ctx.skip(`${REDIS_BIN} is not installed`);
    const port = await freePort(); // nothing listens here
    const t0 = performance.now();
    const store = await createRedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200, table: '', onError: () => {} });
    expect(performance.now() - t0).toBeLessThan(500);
    const engine = makeEngine({ keyPrefix: runPrefix('down'), commandTimeoutMs: 50 }, { store });
    engines.push(engine);
    let n = 0;
    const fn = engine.cached(async () => ++n, { name: 'down' });
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      expect(await fn()).toBe(1);
      expect(performance.now() - t).toBeLessThan(100);
    }
  });
});
