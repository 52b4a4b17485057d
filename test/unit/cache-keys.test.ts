import { describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import knex from 'knex';
import Fastify, { type FastifyRequest } from 'fastify';
import { makeEngine } from '../fixtures/cache-helpers.js';
import { argsKey, functionKey, l2Key, MAX_ARG_TEXT, scan, UnkeyableError } from '../../plugins/cache/keys.js';
import { classifyArg, DATA, HANDLE, CALLBACK, keyFromPaths, notDataReason } from '../../plugins/cache/args.js';
import { parseDuration } from '../../plugins/cache/duration.js';

describe('cache keys', () => {
  it('is stable across object key order and spells out Dates, BigInts, Buffers, Maps and Sets', () => {
    expect(argsKey([{ a: 1, b: 'x' }])).toBe(argsKey([{ b: 'x', a: 1 }]));
    expect(argsKey([new Date(5)])).toBe(argsKey([new Date(5)]));
    expect(argsKey([new Date(5)])).not.toBe(argsKey([new Date(6)]));
    expect(argsKey([10n])).not.toBe(argsKey([10]));
    expect(argsKey([Buffer.from('ab')])).not.toBe(argsKey([Buffer.from('ac')]));
    expect(argsKey([new Map([[1, 'a'], [2, 'b']])])).toBe(argsKey([new Map([[2, 'b'], [1, 'a']])]));
    expect(argsKey([new Set([1, 2])])).toBe(argsKey([new Set([2, 1])]));
    expect(argsKey([{ a: undefined }])).toBe(argsKey([{}]));
  });

  it('never gives two different argument lists the same key', () => {
    const lists: unknown[][] = [[], ['a,b'], ['a', 'b'], ['ab'], [1], ['1'], [true], ['T'], [null], [undefined], [[1, 2]], [[1], [2]], [{ a: 1 }], [{ a: '1' }], ['1:a'], ['', 'a'], [new Map()], [new Set()], [{}], [[]]];
    const keys = lists.map((args) => argsKey(args));
    expect(new Set(keys).size).toBe(lists.length);
  });

  it('keeps class instances apart from plain objects with the same fields', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    expect(argsKey([new Point(1)])).not.toBe(argsKey([{ x: 1 }]));
  });

  it('hashes long argument text so L1 keys stay small', () => {
    const key = argsKey(['x'.repeat(1000)]);
    expect(key.length).toBeLessThanOrEqual(MAX_ARG_TEXT);
    expect(key).toMatch(/^#[0-9a-f]{32}$/);
  });

  it('refuses nested functions, symbols and cycles', () => {
    expect(() => argsKey([[() => 1]])).toThrow(UnkeyableError);
    expect(() => argsKey([Symbol('s')])).toThrow(UnkeyableError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => argsKey([cycle])).toThrow(UnkeyableError);
  });

  it('builds pperf:<fn>:<version>:<128-bit hash> and shortens long identities', () => {
    expect(l2Key('pperf', functionKey('src/plans.js#getUserPlans', '3'), 'n1,')).toMatch(/^pperf:src\/plans\.js#getUserPlans:3:[0-9a-f]{32}$/);
    expect(functionKey('x'.repeat(500), '1').length).toBeLessThan(110);
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(1200)).toBe(1200);
    expect(parseDuration('120')).toBe(120);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});

describe('connection handles and contexts are left out of the key', () => {
  it('pg.Pool, pg.Client, knex, IncomingMessage, class instances and objects with methods are handles; data is data', async () => {
    const pool = new pg.Pool({ max: 1 });
    const client = new pg.Client({});
    const db = knex({ client: 'pg', connection: {} });
    const request = new http.IncomingMessage(new net.Socket());
    try {
      for (const handle of [pool, client, db, request, { log() {}, user: 1 }, new (class Ctx {})()]) expect(classifyArg(handle, false)).toBe(HANDLE);
      for (const data of [1, 'a', null, undefined, [1, 2], { id: 1 }, new Date(0), new Map(), new Set(), Buffer.from('x'), Object.create(null)]) expect(classifyArg(data, false)).toBe(DATA);
      expect(classifyArg(() => 1, true)).toBe(CALLBACK);
      expect(classifyArg(function done() {}, true)).toBe(CALLBACK);
      expect(classifyArg(db, true)).toBe(HANDLE); // a function with properties is not a callback
    } finally {
      await pool.end();
      await db.destroy();
    }
  });

  it('keys getUserPlans(pool, userId, limit) by its data only, and says which arguments it left out', () => {
    const a = new pg.Pool();
    const b = new pg.Pool();
    const key = argsKey([a, 7, 20]);
    expect(scan.handles).toBe(0b1);
    expect(argsKey([b, 7, 20])).toBe(key);
    expect(argsKey([a, 8, 20])).not.toBe(key);
    expect(argsKey([7, 20])).not.toBe(key); // positions stay apart
    argsKey([1, 2]);
    expect(scan.handles).toBe(0);
    void a.end();
    void b.end();
  });

  it('leaves a Fastify request out of the key: two requests for the same id share one entry', async () => {
    const engine = makeEngine();
    let calls = 0;
    const getPlan = engine.cached(async (request: FastifyRequest, id: number) => ({ id, calls: ++calls, route: request.routeOptions.url }), { ttl: '1m' });
    const app = Fastify();
    const seen: FastifyRequest[] = [];
    app.get('/plans/:id', async (request) => {
      seen.push(request);
      return getPlan(request, Number((request.params as { id: string }).id));
    });
    try {
      const first = (await app.inject('/plans/7?a=1')).json();
      const second = (await app.inject('/plans/7?b=2')).json();
      const other = (await app.inject('/plans/8')).json();
      expect(first).toEqual({ id: 7, calls: 1, route: '/plans/:id' });
      expect(second).toEqual(first); // the second request, a different object, hit the first's entry
      expect(other).toEqual({ id: 8, calls: 2, route: '/plans/:id' });
      expect(seen[0]).not.toBe(seen[1]);
      expect(classifyArg(seen[0], false)).toBe(HANDLE);
      expect(argsKey([seen[0], 7])).toBe(argsKey([seen[1], 7]));
      expect(scan.handles).toBe(0b1);
    } finally {
      await app.close();
    }
  });

  it('picks key arguments by position or path', () => {
    const pick = keyFromPaths([1, '0.id']);
    expect(pick({ id: 5, at: 1 }, 'x')).toEqual(['x', 5]);
    expect(keyFromPaths(['0.user.id'])(null)).toEqual([undefined]);
  });

  it('tells data results from what a data loader does not return', () => {
    expect(notDataReason([{ id: 1 }])).toBeUndefined();
    expect(notDataReason(null)).toBeUndefined();
    expect(notDataReason(() => 1)).toMatch(/function/);
    expect(notDataReason(new (class Thing {})())).toMatch(/class instance \(Thing\)/);
    expect(notDataReason(new net.Socket())).toMatch(/stream/);
  });
});
