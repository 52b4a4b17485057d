/**
 * The leader's bookkeeping with real followers over loopback, in one process: the collect functions
 * and "is this pid alive" are parameters, so departures, reconnects, timeouts and hand-overs are
 * exercised without spawning or killing anything.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { Follower, dialHost } from '../../src/telemetry/follower.js';
import { Leader } from '../../src/telemetry/leader.js';
import type { Snapshot } from '../../src/telemetry/merge.js';
import { isLocal } from '../../src/telemetry/wire.js';

const counter = (value: number, gaugeValue = 1): Snapshot => [
  {
    scope: { name: 's' },
    metrics: [
      { descriptor: { name: 'requests', description: '', unit: '', valueType: ValueType.INT }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: [{ startTime: [1, 0], endTime: [2, 0], attributes: {}, value }] },
      { descriptor: { name: 'heap', description: '', unit: '', valueType: ValueType.INT }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: [{ startTime: [1, 0], endTime: [2, 0], attributes: {}, value: gaugeValue }] },
    ] as MetricData[],
  },
];
const resource = resourceFromAttributes({ 'service.name': 'app' });
const valueOf = (rm: { scopeMetrics: { metrics: MetricData[] }[] }, name: string, attributes?: Record<string, unknown>): number[] =>
  rm.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: unknown }[])
    .filter((p) => !attributes || Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
    .map((p) => p.value as number);
const total = (rm: Parameters<typeof valueOf>[0]) => valueOf(rm, 'requests').reduce((a, b) => a + b, 0);

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function setup(options: { own?: () => Snapshot; timeoutMs?: number; alive?: Set<number>; inherited?: { term: string; data: Snapshot }; staleAfterMs?: number; now?: () => number } = {}) {
  const alive = options.alive ?? new Set<number>();
  const leader = new Leader({
    serviceName: 'app',
    collectOwn: async () => ({ resource, scopeMetrics: options.own?.() ?? counter(10) }),
    timeoutMs: options.timeoutMs ?? 500,
    maxFollowers: 3,
    isAlive: (pid) => alive.has(pid),
    inherited: options.inherited,
    ...(options.staleAfterMs === undefined ? {} : { staleAfterMs: options.staleAfterMs }),
    ...(options.now ? { now: options.now } : {}),
    debug: () => {},
  });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => leader.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const port = (server.address() as AddressInfo).port;
  const follow = async (pid: number, collect: () => Promise<Snapshot>, extra: { service?: string; identity?: string; inherit?: { term: string; data: Snapshot } } = {}) => {
    alive.add(pid);
    const follower = new Follower({
      host: '127.0.0.1',
      port,
      hello: { service: extra.service ?? 'app', pid, ppid: 1, identity: extra.identity ?? `${pid}:0`, role: 'process' },
      collect,
      onLost: () => {},
      handshakeTimeoutMs: 1000,
    });
    const result = await follower.connect(extra.inherit);
    return { follower, result };
  };
  return { leader, follow, alive, port };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('Leader', () => {
  it('sums itself and its followers, one slot per process for gauges', async () => {
    const { leader, follow } = await setup();
    const a = await follow(101, async () => counter(5, 2));
    const b = await follow(102, async () => counter(7, 3));
    expect(a.result).toMatchObject({ kind: 'following', welcome: { slot: 1 } });
    expect(b.result).toMatchObject({ kind: 'following', welcome: { slot: 2 } });
    const rm = await leader.collect();
    expect(total(rm)).toBe(22);
    expect(valueOf(rm, 'heap')).toEqual([1, 2, 3]);
    expect(valueOf(rm, 'plandex_perf.cluster.processes', { 'plandex_perf.cluster.process.state': 'answered' })).toEqual([3]);
  });

  it('alone, returns exactly its own collect result (output unchanged for a single process)', async () => {
    const { leader } = await setup();
    const rm = await leader.collect();
    expect(rm.scopeMetrics).toEqual(counter(10));
  });

  it('refuses another service and fills no slot for it', async () => {
    const { follow } = await setup();
    const other = await follow(103, async () => counter(1), { service: 'billing' });
    expect(other.result).toEqual({ kind: 'taken', reason: 'held by the metrics of another service (app)' });
  });

  it('bounds the followers', async () => {
    const { follow } = await setup();
    for (const pid of [1, 2, 3]) expect((await follow(pid, async () => counter(0))).result.kind).toBe('following');
    expect((await follow(4, async () => counter(0))).result).toMatchObject({ kind: 'taken' });
  });

  it('keeps the counts of a follower that left, and frees its slot', async () => {
    const { leader, follow, alive } = await setup();
    const a = await follow(101, async () => counter(5));
    expect(total(await leader.collect())).toBe(15);
    a.follower.baseline = undefined;
    await a.follower.close(0);
    alive.delete(101);
    await settle();
    let rm = await leader.collect();
    expect(total(rm)).toBe(15);
    expect(valueOf(rm, 'heap')).toEqual([1]);
    expect(valueOf(rm, 'plandex_perf.cluster.departures')).toEqual([1]);
    const b = await follow(102, async () => counter(1));
    expect(b.result).toMatchObject({ welcome: { slot: 1 } });
    rm = await leader.collect();
    expect(total(rm)).toBe(16);
  });

  it('drops a retired series once no live process has reported it for staleAfterMs; keeps one still reported', async () => {
    const byRoute = (routes: Record<string, number>): Snapshot => [
      {
        scope: { name: 's' },
        metrics: [
          {
            descriptor: { name: 'requests', description: '', unit: '', valueType: ValueType.INT },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: Object.entries(routes).map(([route, value]) => ({ startTime: [1, 0], endTime: [2, 0], attributes: { route }, value })),
          },
        ] as MetricData[],
      },
    ];
    let t = 0;
    const { leader, follow, alive } = await setup({ own: () => byRoute({ '/a': 10 }), staleAfterMs: 60_000, now: () => t });
    const a = await follow(101, async () => byRoute({ '/a': 5, '/b': 3 }));
    await leader.collect();
    a.follower.baseline = undefined;
    await a.follower.close(0);
    alive.delete(101);
    await settle();
    const route = async (r: string) => valueOf(await leader.collect(), 'requests', { route: r });
    expect(await route('/a')).toEqual([15]);
    expect(await route('/b')).toEqual([3]);
    t += 59_000;
    expect(await route('/b')).toEqual([3]);
    t += 1_000;
    expect(await route('/b')).toEqual([]); // retired, reported by no live process for 60 s: dropped
    expect(await route('/a')).toEqual([15]); // the leader still reports /a: the retired 5 stays in the sum
    t += 3_600_000;
    expect(await route('/a')).toEqual([15]);
  });

  it('a graceful leave sends its last counts', async () => {
    const { leader, follow } = await setup();
    let n = 5;
    const a = await follow(101, async () => counter(n));
    expect(total(await leader.collect())).toBe(15);
    n = 9;
    await a.follower.close(500);
    await settle();
    expect(total(await leader.collect())).toBe(19);
  });

  it('takes a pushed snapshot (a flush on a signal the host handles) as the latest', async () => {
    const { leader, follow } = await setup({ timeoutMs: 100 });
    let n = 5;
    let hang = false;
    const a = await follow(101, () => (hang ? new Promise<Snapshot>(() => {}) : Promise.resolve(counter(n))));
    expect(total(await leader.collect())).toBe(15);
    n = 8;
    await a.follower.push(500);
    await settle();
    hang = true;
    expect(total(await leader.collect())).toBe(18);
  });

  it('does not count twice a process that reconnects (same identity)', async () => {
    const { leader, follow } = await setup();
    let n = 5;
    const first = await follow(101, async () => counter(n));
    expect(total(await leader.collect())).toBe(15);
    await first.follower.close(0);
    await settle();
    n = 6;
    await follow(101, async () => counter(n));
    expect(total(await leader.collect())).toBe(16);
  });

  it('uses the last snapshot of a follower that does not answer in time, and counts the timeout', async () => {
    const { leader, follow } = await setup({ timeoutMs: 100 });
    let hang = false;
    await follow(101, () => (hang ? new Promise<Snapshot>(() => {}) : Promise.resolve(counter(5))));
    expect(total(await leader.collect())).toBe(15);
    hang = true;
    const started = Date.now();
    const rm = await leader.collect();
    expect(Date.now() - started).toBeLessThan(400);
    expect(total(rm)).toBe(15);
    expect(valueOf(rm, 'plandex_perf.cluster.scrape.timeouts')).toEqual([1]);
    expect(valueOf(rm, 'plandex_perf.cluster.processes', { 'plandex_perf.cluster.process.state': 'timed_out' })).toEqual([1]);
  });

  it('hands its totals to the heir, which a next leader takes over once', async () => {
    const { leader, follow, alive } = await setup();
    const heir = await follow(101, async () => counter(5));
    const other = await follow(102, async () => counter(1));
    const gone = await follow(103, async () => counter(100));
    await leader.collect();
    await gone.follower.close(0);
    alive.delete(103);
    await leader.collect();
    await settle();
    // Own 10 + the departed 100: not the live followers' own counts.
    const baseline = heir.follower.baseline!;
    expect(baseline.term).toBe(leader.term);
    expect(baseline.data.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.dataPoints[0]!.value])).toEqual([['requests', 110]]);
    expect(other.follower.baseline).toBeUndefined();

    // The heir leads next: 110 inherited + its own 5 + the other follower's 1 = the old total.
    const next = await setup({ own: () => counter(5), inherited: baseline });
    await next.follow(102, async () => counter(1));
    // A second copy of the same hand-over (from another follower) is ignored.
    await next.follow(104, async () => counter(0), { inherit: baseline });
    await settle();
    const rm = await next.leader.collect();
    expect(total(rm)).toBe(116);
    expect(valueOf(rm, 'plandex_perf.cluster.handovers')).toEqual([1]);
  });

  it('ignores a hand-over of its own term (a follower that came back)', async () => {
    const { leader, follow } = await setup();
    await follow(101, async () => counter(0), { inherit: { term: leader.term, data: counter(1000) } });
    await settle();
    expect(total(await leader.collect())).toBe(10);
  });
});

describe('wire helpers', () => {
  it('accepts loopback and same-host connections only', () => {
    expect(isLocal('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(isLocal('::ffff:127.0.0.5', '::ffff:127.0.0.1')).toBe(true);
    expect(isLocal('::1', '::1')).toBe(true);
    expect(isLocal('10.0.0.5', '10.0.0.5')).toBe(true);
    expect(isLocal('10.0.0.6', '10.0.0.5')).toBe(false);
    expect(isLocal(undefined, '127.0.0.1')).toBe(false);
  });

  it('dials loopback for a wildcard bind', () => {
    expect(dialHost('0.0.0.0')).toBe('127.0.0.1');
    expect(dialHost('::')).toBe('::1');
    expect(dialHost('[::1]')).toBe('::1');
    expect(dialHost('10.0.0.5')).toBe('10.0.0.5');
  });
});
