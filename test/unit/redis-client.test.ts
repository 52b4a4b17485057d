/**
 * The redis-client plugin under the real plugin host, in this process: its module hooks patch ioredis
 * and node-redis as they load, commands against the real Redis are recorded, and closing the host puts
 * every original method back. Plus the pure parts: command labels, error classes, the own-caller check.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginHost } from '../../src/host.js';
import { log } from '../../src/log.js';
import { unpatched } from '../../src/patch.js';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { s } from '../../src/schema.js';
import redisClient from '../../plugins/redis-client/index.js';
import { commandLabel } from '../../plugins/redis-client/commands.js';
import { classifyError } from '../../plugins/redis-client/recorder.js';
import { calledFromPreload } from '../../plugins/redis-client/node-redis.js';

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const reader = new Reader();
const provider = new MeterProvider({ readers: [reader] });
const fakeTelemetry = definePlugin({
  name: 'telemetry',
  description: 'test telemetry',
  schema: s.object({}),
  setup(ctx) {
    ctx.provide({ meter: provider.getMeter('test'), tracer: undefined } as unknown as Telemetry);
  },
});

function counts(metrics: ResourceMetrics): Map<string, number> {
  const out = new Map<string, number>();
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'db.client.operation.duration') continue;
      for (const point of metric.dataPoints) {
        const key = `${String(point.attributes['db.operation.name'])}${point.attributes['error.type'] ? ` ${String(point.attributes['error.type'])}` : ''}`;
        out.set(key, (out.get(key) ?? 0) + (point.value as { count: number }).count);
      }
    }
  }
  return out;
}

let redisUp = false;
beforeAll(async () => {
  log.setLevel('silent');
  redisUp = await new Promise<boolean>((resolve) => {
    const socket = net.connect(6379, '127.0.0.1', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
  if (!redisUp) console.warn('[redis-client] no Redis on 127.0.0.1:6379: the host test is skipped');
});
afterAll(() => provider.shutdown());

describe('redis-client under the plugin host', () => {
  it('patches ioredis and node-redis as they load, records their commands, and close restores every original', async (ctx) => {
    if (!redisUp) return ctx.skip('no Redis on 127.0.0.1:6379');
    const host = new PluginHost({ name: 'test', memoryBytes: 1024 ** 3, cpus: 2, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2 }, 1000);
    await host.start([fakeTelemetry, redisClient], new Map([['redis-client', { options: { maxClients: 10 } }]]));
    expect(host.status.get('redis-client')?.state).toBe('running');

    const require = createRequire(import.meta.url);
    const Redis = require('ioredis') as typeof import('ioredis').default;
    const { createClient } = require('redis') as typeof import('redis');
    const queueFile = require.resolve('@redis/client/dist/lib/client/commands-queue.js', { paths: [require.resolve('redis')] });
    const clientFile = require.resolve('@redis/client/dist/lib/client/index.js', { paths: [require.resolve('redis')] });
    const Queue = (require(queueFile) as { default: { prototype: Record<string, unknown> } }).default.prototype;
    const Client = (require(clientFile) as { default: { prototype: Record<string, unknown> } }).default.prototype;
    const methods = [
      [Redis.prototype as unknown as Record<string, unknown>, 'sendCommand'],
      [Redis.prototype as unknown as Record<string, unknown>, 'connect'],
      [Queue, 'addCommand'],
      [Client, 'connect'],
      [Client, 'sendCommand'],
    ] as const;
    const originals = methods.map(([proto, key]) => unpatched(proto[key]));
    for (const [i, [proto, key]] of methods.entries()) expect(proto[key], key).not.toBe(originals[i]);

    const io = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
    await io.connect();
    const nr = createClient({ url: 'redis://127.0.0.1:6379' });
    nr.on('error', () => {});
    await nr.connect();
    const key = `pperf-rc-unit-${process.pid}`;
    await io.set(key, '1');
    await io.get(key);
    await nr.get(key);
    await nr.get(key);
    await nr.sendCommand(['NOSUCHCOMMAND']).catch(() => {});
    await io.del(key);
    const before = counts((await reader.collect()).resourceMetrics);
    expect(before.get('SET')).toBe(1);
    expect(before.get('GET')).toBe(3);
    expect(before.get('DEL')).toBe(1);
    expect(before.get('_OTHER ERR')).toBe(1);

    await host.close(1000);
    for (const [i, [proto, key]] of methods.entries()) expect(proto[key], key).toBe(originals[i]);
    // Closed: commands still work, and nothing more is recorded.
    await io.get(key);
    await nr.get(key);
    const after = counts((await reader.collect()).resourceMetrics);
    expect(after.get('GET')).toBe(3);
    io.disconnect();
    nr.destroy();
  });
});

describe('redis-client pieces', () => {
  it('labels known commands in upper case, anything else _OTHER, Buffers included', () => {
    expect(commandLabel('get')).toBe('GET');
    expect(commandLabel('hGetAll')).toBe('HGETALL');
    expect(commandLabel(Buffer.from('SET'))).toBe('SET');
    expect(commandLabel('user:42')).toBe('_OTHER');
    expect(commandLabel('x'.repeat(100))).toBe('_OTHER');
    expect(commandLabel(undefined)).toBe('_OTHER');
  });

  it('classifies errors: the server’s prefix for replies, else the code, else the class', () => {
    class ReplyError extends Error {}
    class SimpleError extends Error {}
    class ErrorReply extends Error {}
    class WithParent extends ErrorReply {}
    class ClientOfflineError extends Error {}
    expect(classifyError(new ReplyError('WRONGTYPE Operation against a key'))).toEqual({ type: 'WRONGTYPE', reply: true });
    expect(classifyError(new SimpleError('ERR value is not an integer'))).toEqual({ type: 'ERR', reply: true });
    expect(classifyError(new WithParent('NOSCRIPT No matching script'))).toEqual({ type: 'NOSCRIPT', reply: true });
    expect(classifyError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toEqual({ type: 'ECONNREFUSED', reply: false });
    expect(classifyError(new ClientOfflineError('offline'))).toEqual({ type: 'ClientOfflineError', reply: false });
    expect(classifyError(new Error('Connection is closed.'))).toEqual({ type: '_OTHER', reply: false });
    // A reply whose message does not start with an upper-case prefix is named by its class.
    expect(classifyError(new ReplyError('weird'))).toEqual({ type: 'ReplyError', reply: false });
  });

  it('tells a caller in the preload’s files from the app’s, past node_modules frames', () => {
    const wrapper = (fn: () => boolean) => fn(); // stands in for src/patch.ts's pass-through frame
    const here = new URL(import.meta.url).pathname;
    const ownDir = here.slice(0, here.lastIndexOf('/') + 1);
    function probe(): boolean {
      return calledFromPreload(probe, ownDir);
    }
    expect(wrapper(() => probe())).toBe(true);
    expect(wrapper(() => probe.call(null))).toBe(true);
    expect(calledFromPreload(probe, '/nowhere/dist/')).toBe(false);
    expect(calledFromPreload(probe, undefined)).toBe(false);
  });
});
