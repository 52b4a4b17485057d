import { DataPointType, MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeltaReader, SeriesStore } from '../../src/telemetry/series.js';

const MIN = 60_000;
let provider: MeterProvider | undefined;
afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

/** A real MeterProvider on a delta reader, the store over it, and a clock the test moves. */
function setup(staleAfterMs: number, maxSeriesPerMetric?: number) {
  let t = 0;
  const reader = new DeltaReader();
  provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('test');
  const store = new SeriesStore({ reader, staleAfterMs, now: () => t, ...(maxSeriesPerMetric ? { maxSeriesPerMetric } : {}) });
  const points = async (name: string) => {
    const { resourceMetrics } = await store.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name) as MetricData | undefined;
    return metric?.dataPoints ?? [];
  };
  const values = async (name: string, attr: string) =>
    Object.fromEntries((await points(name)).map((p) => [String(p.attributes[attr]), typeof p.value === 'number' ? p.value : (p.value as { count: number }).count]));
  return { meter, store, points, values, advance: (ms: number) => void (t += ms) };
}

describe('SeriesStore', () => {
  it('adds deltas into cumulative values that Prometheus sees as counters', async () => {
    const { meter, values } = setup(30 * MIN);
    const requests = meter.createCounter('requests');
    requests.add(2, { route: '/a' });
    expect(await values('requests', 'route')).toEqual({ '/a': 2 });
    requests.add(3, { route: '/a' });
    requests.add(1, { route: '/b' });
    expect(await values('requests', 'route')).toEqual({ '/a': 5, '/b': 1 });
    expect(await values('requests', 'route')).toEqual({ '/a': 5, '/b': 1 }); // a scrape with nothing new changes nothing
  });

  it('adds histograms bucket by bucket, with count, sum, min and max', async () => {
    const { meter, points } = setup(30 * MIN);
    const h = meter.createHistogram('duration', { advice: { explicitBucketBoundaries: [0.1, 1] } });
    h.record(0.05);
    await points('duration');
    h.record(0.5);
    h.record(2);
    const [point] = await points('duration');
    expect(point?.value).toMatchObject({ count: 3, sum: 2.55, min: 0.05, max: 2, buckets: { boundaries: [0.1, 1], counts: [1, 1, 1] } });
  });

  it('drops a series quiet for staleAfterMs, keeps the active ones, and a returning one starts again (a reset)', async () => {
    const { meter, store, values, advance } = setup(10 * MIN);
    const requests = meter.createCounter('requests');
    requests.add(5, { route: '/old' });
    requests.add(1, { route: '/live' });
    await values('requests', 'route');
    for (let i = 0; i < 9; i++) {
      advance(MIN);
      requests.add(1, { route: '/live' });
      await values('requests', 'route');
    }
    expect(await values('requests', 'route')).toEqual({ '/old': 5, '/live': 10 }); // 9 min quiet: kept
    advance(MIN);
    requests.add(1, { route: '/live' });
    expect(await values('requests', 'route')).toEqual({ '/live': 11 }); // 10 min quiet: gone
    expect(store.dropped).toBe(1);
    requests.add(2, { route: '/old' });
    expect(await values('requests', 'route')).toEqual({ '/live': 11, '/old': 2 });
  });

  it('drops an observable gauge series its callback stopped reporting (a closed pool)', async () => {
    const { meter, values, advance } = setup(5 * MIN);
    const pools = new Map([['a', 3], ['b', 4]]);
    meter.createObservableGauge('pool.size').addCallback((r) => {
      for (const [name, v] of pools) r.observe(v, { pool: name });
    });
    expect(await values('pool.size', 'pool')).toEqual({ a: 3, b: 4 });
    pools.delete('b');
    advance(4 * MIN);
    expect(await values('pool.size', 'pool')).toEqual({ a: 3, b: 4 });
    advance(MIN);
    expect(await values('pool.size', 'pool')).toEqual({ a: 3 });
  });

  it('keeps an up-down counter that holds a value, however long it is quiet; drops it once it is back at 0', async () => {
    const { meter, values, advance } = setup(MIN);
    const held = meter.createUpDownCounter('connections');
    held.add(2, { pool: 'p' });
    held.add(1, { pool: 'q' });
    held.add(-1, { pool: 'q' });
    expect(await values('connections', 'pool')).toEqual({ p: 2, q: 0 });
    advance(10 * MIN);
    expect(await values('connections', 'pool')).toEqual({ p: 2 });
    held.add(-2, { pool: 'p' });
    expect(await values('connections', 'pool')).toEqual({ p: 0 });
    advance(MIN);
    expect(await values('connections', 'pool')).toEqual({});
  });

  it('drops an observable up-down counter its callback stopped reporting, even at a non-zero value', async () => {
    const { meter, values, advance } = setup(MIN);
    const pools = new Map([['a', 3], ['b', 4]]);
    meter.createObservableUpDownCounter('pool.connections').addCallback((r) => {
      for (const [name, v] of pools) r.observe(v, { pool: name });
    });
    expect(await values('pool.connections', 'pool')).toEqual({ a: 3, b: 4 });
    pools.delete('b');
    advance(MIN);
    expect(await values('pool.connections', 'pool')).toEqual({ a: 3 }); // a: unchanged but reported, kept
  });

  it('without any scrape, folds in the background (unref\'d timer) and still drops quiet series', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { meter, store, advance } = setup(4 * MIN);
      store.start();
      meter.createCounter('requests').add(1, { route: '/once' });
      vi.advanceTimersByTime(MIN); // every min(1 min, staleAfterMs / 4)
      await vi.waitFor(() => expect(store.size).toBe(1));
      advance(4 * MIN);
      vi.advanceTimersByTime(MIN);
      await vi.waitFor(() => expect(store.size).toBe(0));
      expect(store.dropped).toBe(1);
      store.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('with staleAfterMs 0 keeps every series', async () => {
    const { meter, values, advance } = setup(0);
    meter.createCounter('requests').add(1, { route: '/once' });
    await values('requests', 'route');
    advance(24 * 60 * MIN);
    expect(await values('requests', 'route')).toEqual({ '/once': 1 });
  });

  it('is bounded: past the per-metric limit new attribute sets go to otel.metric.overflow', async () => {
    const { meter, store, points } = setup(10 * MIN, 3);
    const requests = meter.createCounter('requests');
    for (const route of ['/a', '/b', '/c', '/d', '/e']) requests.add(1, { route });
    const got = await points('requests');
    expect(got.map((p) => p.attributes)).toEqual([{ route: '/a' }, { route: '/b' }, { route: '/c' }, { 'otel.metric.overflow': true }]);
    expect(got.at(-1)?.value).toBe(2);
    expect(store.size).toBe(4);
  });

  it('holds what the last staleAfterMs saw, not everything ever seen (many routes over time)', async () => {
    const { meter, store, values, advance } = setup(10 * MIN);
    const requests = meter.createCounter('requests');
    let route = 0;
    for (let minute = 0; minute < 120; minute++) {
      for (let i = 0; i < 50; i++) requests.add(1, { route: `/r${route++}` });
      await values('requests', 'route');
      advance(MIN);
    }
    // 6000 routes seen; 10 minutes' worth (500, one minute either side) held.
    expect(store.size).toBeGreaterThanOrEqual(450);
    expect(store.size).toBeLessThanOrEqual(550);
    expect(store.dropped).toBe(6000 - store.size);
  });

  it('returns fresh points: a later fold does not change a view being serialised', async () => {
    const { meter, store } = setup(10 * MIN);
    const h = meter.createHistogram('duration', { advice: { explicitBucketBoundaries: [1] } });
    h.record(0.5);
    const first = await store.collect();
    h.record(0.5);
    await store.collect();
    const metric = first.resourceMetrics.scopeMetrics[0]?.metrics[0];
    expect(metric?.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect((metric?.dataPoints[0]?.value as { count: number } | undefined)?.count).toBe(1);
  });
});
