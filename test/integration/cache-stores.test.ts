import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import net from 'node:net';
import { createPostgresStore, createRedisStore, type Store } from '../../plugins/cache/stores.js';
import { decode } from '../../plugins/cache/codec.js';
import { argsKey, l2Key } from '../../plugins/cache/keys.js';
import type { Engine } from '../../plugins/cache/engine.js';
import { cleanPostgres, cleanRedis, makeEngine, runPrefix, sleep } from '../fixtures/cache-helpers.js';

/**
 * One conformance suite for every L2 store (bentocache's driver suite): the store itself (get, set, TTL,
 * delete) and the cache through it (serialization round-trips, compression, TTL, invalidation by key and
 * by tag). With `none`, the "reader" is the writer itself: the same checks hold for L1 alone.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379 }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
  });
}

const storeOptions = (url: string) => ({ url, connectTimeoutMs: 1000, table: 'pperf_cache_test', onError: () => {} });

interface Kind {
  name: 'redis' | 'postgres' | 'none';
  url: () => string;
  available: () => Promise<boolean>;
  create: (url: string) => Promise<Store> | undefined;
}

const kinds: Kind[] = [
  { name: 'redis', url: () => REDIS_URL, available: () => reachable(REDIS_URL), create: (url) => createRedisStore(storeOptions(url)) },
  { name: 'postgres', url: () => inject('databaseUrl'), available: async () => true, create: (url) => createPostgresStore(storeOptions(url)) },
  { name: 'none', url: () => '', available: async () => true, create: () => undefined },
];

for (const kind of kinds) {
  describe(`L2 conformance: ${kind.name}`, () => {
    const prefix = runPrefix(kind.name);
    const stores: Store[] = [];
    const engines: Engine[] = [];
    let available = true;

    beforeAll(async () => {
      available = await kind.available();
      if (!available) console.warn(`[cache conformance] ${kind.name} is not reachable at ${kind.url()}: its suite is skipped`);
    });

    afterAll(async () => {
      await Promise.all(engines.map((e) => e.close()));
      if (!available) return;
      if (kind.name === 'redis') await cleanRedis(kind.url(), prefix);
      if (kind.name === 'postgres') await cleanPostgres(kind.url(), 'pperf_cache_test', prefix);
    });

    async function pair(): Promise<{ writer: Engine; reader: Engine; store: Store | undefined }> {
      const open = async (): Promise<Store | undefined> => {
        const store = await kind.create(kind.url());
        if (store) stores.push(store);
        return store;
      };
      const writerStore = await open();
      const writer = makeEngine({ keyPrefix: prefix, commandTimeoutMs: 2000, l1MaxTtl: 0 }, { store: writerStore });
      engines.push(writer);
      if (!writerStore) return { writer, reader: writer, store: undefined };
      const reader = makeEngine({ keyPrefix: prefix, commandTimeoutMs: 2000, l1MaxTtl: 0 }, { store: await open() });
      engines.push(reader);
      return { writer, reader, store: writerStore };
    }

    it('store: set, getMany, TTL and delete', async (ctx) => {
      if (!available || kind.name === 'none') return ctx.skip(kind.name === 'none' ? 'no store behind "none"' : 'store not reachable');
      const store = await kind.create(kind.url());
      stores.push(store!);
      const key = `${prefix}:raw:a`;
      await store!.set(key, 'one', 10_000);
      await store!.set(`${key}:short`, 'two', 100);
      expect(await store!.getMany([key, `${key}:short`, `${key}:missing`])).toEqual(['one', 'two', undefined]);
      await sleep(200);
      expect(await store!.getMany([`${key}:short`])).toEqual([undefined]);
      await store!.delete([key]);
      expect(await store!.getMany([key])).toEqual([undefined]);
      await store!.close();
    });

    it('round-trips Date, BigInt, Buffer, Map, Set and large (compressed) values', async (ctx) => {
      if (!available) return ctx.skip('store not reachable');
      const { writer, reader, store } = await pair();
      let calls = 0;
      const make = () => ({ at: new Date('2026-03-04T05:06:07Z'), big: 12345678901234567890n, buf: Buffer.from([0, 1, 255]), map: new Map([[1, { a: 'b' }]]), set: new Set([1, 2]), text: 'row '.repeat(5000) });
      const origin = async (id: number) => (calls++, { id, ...make() });
      const w = writer.cached(origin, { name: 'roundtrip' });
      const r = reader.cached(origin, { name: 'roundtrip' });
      const written = await w(7);
      await sleep(100); // L2 writes are in the background
      const read = await r(7);
      expect(read).toEqual(written);
      expect(read.at).toBeInstanceOf(Date);
      expect(Buffer.isBuffer(read.buf)).toBe(true);
      expect(read.big).toBe(12345678901234567890n);
      expect(read.map.get(1)).toEqual({ a: 'b' });
      expect(calls).toBe(1);
      if (store) {
        expect(reader.stats.l2Hit).toBe(1);
        const [raw] = await store.getMany([l2Key(prefix, 'roundtrip:1', argsKey([7]))]);
        expect(raw).toBeDefined();
        expect(Buffer.from(raw!, 'base64')[1]! & 1).toBe(1); // deflated
        expect(raw!.length).toBeLessThan(5000);
        expect(decode(raw!)?.value).toEqual(written);
      }
    });

    it('expires entries after their TTL', async (ctx) => {
      if (!available) return ctx.skip('store not reachable');
      const { writer, reader } = await pair();
      let n = 0;
      const origin = async () => ++n;
      const w = writer.cached(origin, { name: 'ttl', ttl: 150 });
      const r = reader.cached(origin, { name: 'ttl', ttl: 150 });
      expect(await w()).toBe(1);
      await sleep(50);
      expect(await r()).toBe(1);
      await sleep(250);
      expect(await r()).toBe(2);
    });

    it('invalidates by arguments and by tag for every reader', async (ctx) => {
      if (!available) return ctx.skip('store not reachable');
      const { writer, reader } = await pair();
      let n = 0;
      const origin = async (id: number) => ({ id, n: ++n });
      const options = { name: 'inv', tags: ['plans'] };
      const w = writer.cached(origin, options);
      const r = reader.cached(origin, options);
      await w(1);
      await w(2);
      await sleep(100);
      const before = await r(1);
      await writer.invalidate('inv', 1);
      reader.l1.clear(); // without a bus (postgres), another instance sees L2 changes once its L1 entry is gone
      expect((await r(1)).n).toBeGreaterThan(before.n);
      const two = await r(2);
      await writer.invalidateTags(['plans']);
      reader.l1.clear();
      expect((await r(2)).n).toBeGreaterThan(two.n);
    });
  });
}
