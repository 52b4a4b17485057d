import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess } from '../fixtures/cache-helpers.js';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

const COUNT = 'db_client_operation_duration_count';
const CLIENTS = 'plandex_perf_redis_clients';
const esm = path.join(root, 'test/fixtures/redis-client-app.mjs');
const cjs = path.join(root, 'test/fixtures/redis-client-app.cjs');

let redisUp = false;
beforeAll(async () => {
  redisUp = await new Promise<boolean>((resolve) => {
    const socket = net.connect(6379, '127.0.0.1', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
  if (!redisUp) console.warn('[redis-client] no Redis on 127.0.0.1:6379: the tests against it are skipped');
});

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

async function start(script: string, lib: string, url: string, env: Record<string, string> = {}): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  const app = await startApp({
    script,
    env: { REDIS_LIB: lib, REDIS_URL: url, REDIS_KEY_PREFIX: `pperf-rc-${process.pid}-${metricsPort}`, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env },
  });
  apps.push(app);
  return { app, metricsPort };
}

async function run(app: App, n: number): Promise<{ errors: string[] }> {
  const { status, body } = await get(`${app.url}/run?n=${n}`);
  expect(status, body).toBe(200);
  return JSON.parse(body) as { errors: string[] };
}

const op = (name: string, extra: Record<string, string> = {}) => ({ db_system_name: 'redis', db_operation_name: name, ...extra });
const cases = [
  { name: 'ioredis, ESM', script: esm, lib: 'ioredis', library: 'ioredis' },
  { name: 'ioredis, CommonJS', script: cjs, lib: 'ioredis', library: 'ioredis' },
  { name: 'node-redis v6 (redis), ESM', script: esm, lib: 'redis', library: 'node-redis' },
  { name: 'node-redis v6 (redis), CommonJS', script: cjs, lib: 'redis', library: 'node-redis' },
  { name: 'node-redis v5 (@redis/client), ESM', script: esm, lib: '@redis/client', library: 'node-redis' },
  // v4 ships @redis/client 1.x, installed here nested under the `redis-v4` alias (npm:redis@4): the hook must find that copy too.
  { name: 'node-redis v4 (redis@4, nested @redis/client 1.x), ESM', script: esm, lib: 'redis-v4', library: 'node-redis' },
  { name: 'node-redis v4 (redis@4, nested @redis/client 1.x), CommonJS', script: cjs, lib: 'redis-v4', library: 'node-redis' },
];

describe('Redis client metrics (redis-client plugin)', () => {
  it.for(cases)('$name: exact counts by command, a reply error by its prefix, the client as ready, no key in any label', async ({ script, lib, library }, ctx) => {
    if (!redisUp) return ctx.skip('no Redis on 127.0.0.1:6379');
    const { app, metricsPort } = await start(script, lib, 'redis://127.0.0.1:6379');
    expect((await run(app, 5)).errors).toHaveLength(1); // the INCR of a non-number
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, COUNT, op('EXEC')) >= 1 ? l : undefined;
    });
    // 5 SET + the one in MULTI; 5 GET + the one in MULTI + 2 pipelined.
    expect(sumSamples(lines, COUNT, op('SET'))).toBe(6);
    expect(sumSamples(lines, COUNT, op('GET'))).toBe(8);
    expect(sumSamples(lines, COUNT, op('MULTI'))).toBe(1);
    expect(sumSamples(lines, COUNT, op('EXEC'))).toBe(1);
    expect(sumSamples(lines, COUNT, op('INCR'))).toBe(1);
    expect(sumSamples(lines, COUNT, op('INCR', { error_type: 'ERR', db_response_status_code: 'ERR' }))).toBe(1);
    expect(lines.filter((l) => l.startsWith(`${COUNT}{`) && l.includes('db_operation_name="SET"')).every((l) => !l.includes('error_type'))).toBe(true);
    expect(sumSamples(lines, CLIENTS, { plandex_perf_redis_client_library: library, plandex_perf_redis_client_state: 'ready' })).toBe(1);
    expect(sumSamples(lines, CLIENTS, { plandex_perf_redis_client_library: library, plandex_perf_redis_client_state: 'closed' })).toBe(0);
    expect(lines.some((l) => /pperf-rc-|value-\d|key:\d/.test(l))).toBe(false);
  });

  it('leaves the preload’s own Redis clients (the cache’s store and bus) out', async (ctx) => {
    if (!redisUp) return ctx.skip('no Redis on 127.0.0.1:6379');
    const { app, metricsPort } = await start(esm, 'ioredis', 'redis://127.0.0.1:6379', { PLANDEX_PERF_CACHE_L2: 'redis://127.0.0.1:6379', PLANDEX_PERF_CACHE_KEY_PREFIX: `pperf-rc-own-${process.pid}` });
    await run(app, 2);
    // The cache connects during the preload's set-up, before the app runs; its bus subscribes right after.
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, COUNT, op('SET'))).toBe(3);
    // The cache's client is node-redis: its handshake (HELLO) and its bus (SUBSCRIBE) would show here.
    expect(lines.some((l) => l.includes('plandex_perf_redis_client_library="node-redis"'))).toBe(false);
    expect(sumSamples(lines, COUNT, op('HELLO')) + sumSamples(lines, COUNT, op('SUBSCRIBE'))).toBe(0);
  });

  describe('against a private redis-server that stops', () => {
    let redis: RedisProcess | undefined;
    afterAll(async () => redis?.kill());

    it.for([
      { lib: 'ioredis', library: 'ioredis', errorType: 'MaxRetriesPerRequestError' },
      { lib: 'redis', library: 'node-redis', errorType: 'ClientOfflineError' },
    ])('$lib: a command while it is down counts an error; the client is reported connecting', async ({ lib, library, errorType }, ctx) => {
      if (!fs.existsSync('/usr/bin/redis-server')) return ctx.skip('/usr/bin/redis-server is not installed (apt-get install redis-server)');
      redis = new RedisProcess(await freePort());
      await redis.start();
      const { app, metricsPort } = await start(esm, lib, redis.url);
      expect((await run(app, 1)).errors).toHaveLength(1);
      await redis.kill();
      await waitFor(async () => sumSamples(await scrape(metricsPort), CLIENTS, { plandex_perf_redis_client_library: library, plandex_perf_redis_client_state: 'connecting' }) === 1 || undefined);
      const { errors } = await run(app, 1);
      expect(errors.length).toBeGreaterThanOrEqual(4); // SET, GET, INCR, MULTI… all refused
      const lines = await scrape(metricsPort);
      // Every command of the second run failed, and counts: SET ×2, GET ×4 (1 + 1 in MULTI + 2 pipelined), INCR, MULTI, EXEC.
      // ioredis fails them all from its offline queue; node-redis refuses single commands before its queue
      // (disableOfflineQueue) and fails the MULTI and the pipeline, which do queue, with the socket's error.
      const failed = (name: string) => sumSamples(lines, COUNT, op(name)) - sumSamples(lines, COUNT, op(name, { error_type: 'ERR' }));
      expect(sumSamples(lines, COUNT, op('SET', { error_type: errorType }))).toBeGreaterThanOrEqual(1);
      expect(sumSamples(lines, COUNT, op('GET', { error_type: errorType }))).toBeGreaterThanOrEqual(1);
      expect({ SET: failed('SET') - 2, GET: failed('GET') - 4, INCR: failed('INCR'), MULTI: failed('MULTI') - 1, EXEC: failed('EXEC') - 1 }).toEqual({ SET: 2, GET: 4, INCR: 1, MULTI: 1, EXEC: 1 });
      redis = undefined;
    });

    it('node-redis v4: the client is reported connecting while it is down, back to ready after; commands v4 refuses before its queue are not counted (README)', async (ctx) => {
      if (!fs.existsSync('/usr/bin/redis-server')) return ctx.skip('/usr/bin/redis-server is not installed (apt-get install redis-server)');
      const port = await freePort();
      redis = new RedisProcess(port);
      await redis.start();
      const { app, metricsPort } = await start(esm, 'redis-v4', redis.url);
      expect((await run(app, 1)).errors).toHaveLength(1);
      const before = await scrape(metricsPort);
      await redis.kill();
      await waitFor(async () => sumSamples(await scrape(metricsPort), CLIENTS, { plandex_perf_redis_client_library: 'node-redis', plandex_perf_redis_client_state: 'connecting' }) === 1 || undefined);
      const { errors } = await run(app, 1);
      expect(errors.length).toBeGreaterThanOrEqual(4);
      const during = await scrape(metricsPort);
      // The single commands were refused before the queue: no sample for them, failed or not. The MULTI
      // queues, so its SET and the pipeline's GETs fail from the queue and count (as on v5+).
      expect(sumSamples(during, COUNT, op('INCR'))).toBe(sumSamples(before, COUNT, op('INCR')));
      expect(sumSamples(during, COUNT, op('SET'))).toBe(sumSamples(before, COUNT, op('SET')) + 1);
      expect(sumSamples(during, COUNT, op('GET'))).toBe(sumSamples(before, COUNT, op('GET')) + 3);
      expect(sumSamples(during, COUNT, op('EXEC'))).toBeGreaterThan(sumSamples(before, COUNT, op('EXEC')));
      redis = new RedisProcess(port);
      await redis.start();
      await waitFor(async () => sumSamples(await scrape(metricsPort), CLIENTS, { plandex_perf_redis_client_library: 'node-redis', plandex_perf_redis_client_state: 'ready' }) === 1 || undefined);
      expect((await run(app, 1)).errors).toHaveLength(1); // only the INCR of a non-number again
      expect(sumSamples(await scrape(metricsPort), COUNT, op('SET'))).toBe(sumSamples(during, COUNT, op('SET')) + 2);
      await redis.kill();
      redis = undefined;
    });
  });
});
