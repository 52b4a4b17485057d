import { ROOT_CONTEXT, TraceFlags, trace, type Context } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { bucketIndex, ExemplarStore, RING, seriesKey, type WithExemplars } from '../../src/telemetry/exemplars.js';
import { mergeExemplars, mergeSnapshots, toResourceMetrics, toSnapshot } from '../../src/telemetry/merge.js';
import { acceptsOpenMetrics, OpenMetricsSerializer, toOpenMetrics } from '../../src/telemetry/openmetrics.js';
import { DeltaReader, SeriesStore } from '../../src/telemetry/series.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const withSpan = (traceId: string, spanId: string, sampled = true): Context =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE });

let provider: MeterProvider | undefined;
afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

function setup(buckets: Record<string, number[]> = {}) {
  let now = 1_700_000_000_000;
  const reader = new DeltaReader();
  provider = new MeterProvider({ readers: [reader] });
  const exemplars = new ExemplarStore(buckets, () => now++);
  const meter = exemplars.wrap(provider.getMeter('test'));
  const store = new SeriesStore({ reader, staleAfterMs: 0 });
  const collect = async () => {
    const { resourceMetrics } = await store.collect();
    exemplars.attach(resourceMetrics);
    return resourceMetrics;
  };
  return { meter, exemplars, collect };
}

describe('bucketIndex', () => {
  it('puts a value in the first bucket whose upper bound is ≥ it (Prometheus `le`), or the overflow bucket', () => {
    const b = [0.005, 0.01, 0.1];
    expect([0, 0.005, 0.006, 0.01, 0.05, 0.1, 0.2, 99].map((v) => bucketIndex(b, v))).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
  });
});

describe('ExemplarStore', () => {
  it('keeps one exemplar per bucket per series: the latest sampled request in it', async () => {
    const { meter, collect } = setup();
    const h = meter.createHistogram('http.server.request.duration', { advice: { explicitBucketBoundaries: [0.01, 0.1] } });
    h.record(0.005, { route: '/a' }, withSpan(TRACE, '00f067aa0ba902b7'));
    h.record(0.006, { route: '/a' }, withSpan(TRACE, '00f067aa0ba902b8')); // same bucket: overwrites
    h.record(0.5, { route: '/a' }, withSpan('11111111111111111111111111111111', '2222222222222222'));
    h.record(0.05, { route: '/b' }, withSpan(TRACE, '3333333333333333', false)); // not sampled: no exemplar
    h.record(0.05, { route: '/b' }); // no span
    const rm = await collect();
    const points = rm.scopeMetrics[0]?.metrics[0]?.dataPoints as (WithExemplars & { attributes: Record<string, unknown> })[];
    const a = points.find((p) => p.attributes.route === '/a');
    expect(a?.exemplars).toEqual([
      { value: 0.006, traceId: TRACE, spanId: '00f067aa0ba902b8', timeMs: 1_700_000_000_001 },
      null,
      { value: 0.5, traceId: '11111111111111111111111111111111', spanId: '2222222222222222', timeMs: 1_700_000_000_002 },
    ]);
    expect(points.find((p) => p.attributes.route === '/b')?.exemplars).toBeUndefined();
  });

  it('between two collections keeps the last RING sampled recordings: the latest per bucket wins', async () => {
    const { meter, collect } = setup();
    const h = meter.createHistogram('d', { advice: { explicitBucketBoundaries: [1] } });
    h.record(0.5, { route: '/rare' }, withSpan(TRACE, '0000000000000001'));
    for (let i = 0; i < RING; i++) h.record(0.5, { route: '/busy' }, withSpan(TRACE, (i + 2).toString(16).padStart(16, '0')));
    const points = (await collect()).scopeMetrics[0]?.metrics[0]?.dataPoints as (WithExemplars & { attributes: Record<string, unknown> })[];
    expect(points.find((p) => p.attributes.route === '/rare')?.exemplars).toBeUndefined(); // overwritten in the ring
    expect(points.find((p) => p.attributes.route === '/busy')?.exemplars?.[0]?.spanId).toBe((RING + 1).toString(16).padStart(16, '0'));
    h.record(0.5, { route: '/rare' }, withSpan(TRACE, '00000000000000ff'));
    const again = (await collect()).scopeMetrics[0]?.metrics[0]?.dataPoints as (WithExemplars & { attributes: Record<string, unknown> })[];
    expect(again.find((p) => p.attributes.route === '/rare')?.exemplars?.[0]?.spanId).toBe('00000000000000ff');
  });

  it('keys a series by its attribute set, whatever the key order or value type', () => {
    expect(seriesKey({ a: 1, b: 'x' })).toBe(seriesKey({ b: 'x', a: 1 }));
    expect(seriesKey({ a: 1 })).not.toBe(seriesKey({ a: '1' }));
    expect(seriesKey({ a: 'x', b: 'y' })).not.toBe(seriesKey({ a: 'x\u0001b\u0000sy' }));
  });

  it('records against the configured buckets when a view overrides the advice', async () => {
    const { meter, exemplars } = setup({ d: [1, 2] });
    meter.createHistogram('d', { advice: { explicitBucketBoundaries: [0.1] } }).record(1.5, {}, withSpan(TRACE, '00f067aa0ba902b7'));
    expect(exemplars.size).toBe(1);
  });

  it('forgets the exemplars of series the collection no longer has (stale series)', async () => {
    const { meter, exemplars } = setup();
    meter.createHistogram('d', { advice: { explicitBucketBoundaries: [1] } }).record(0.5, { route: '/gone' }, withSpan(TRACE, '00f067aa0ba902b7'));
    expect(exemplars.size).toBe(1);
    exemplars.attach({ resource: {} as never, scopeMetrics: [] });
    expect(exemplars.size).toBe(0);
  });

  it('survives the cluster snapshot (JSON) and the merge keeps the newer exemplar of each bucket', async () => {
    const { meter, collect } = setup();
    const h = meter.createHistogram('d', { advice: { explicitBucketBoundaries: [1] } });
    h.record(0.5, {}, withSpan(TRACE, '00f067aa0ba902b7'));
    const leader = JSON.parse(JSON.stringify(toSnapshot((await collect()).scopeMetrics)));
    h.record(2, {}, withSpan('11111111111111111111111111111111', '2222222222222222'));
    h.record(0.7, {}, withSpan('33333333333333333333333333333333', '4444444444444444'));
    const follower = JSON.parse(JSON.stringify(toSnapshot((await collect()).scopeMetrics)));
    const merged = mergeSnapshots([{ snapshot: leader, slot: 0 }, { snapshot: follower, slot: 1 }]);
    const point = merged[0]?.metrics[0]?.dataPoints[0] as WithExemplars & { value: { count: number } };
    expect(point.value.count).toBe(1 + 3);
    expect(point.exemplars?.map((e) => e?.spanId)).toEqual(['4444444444444444', '2222222222222222']);
  });
});

describe('mergeExemplars', () => {
  it('takes either side when the other has none, and the later one per bucket', () => {
    const e = (timeMs: number) => ({ value: 1, traceId: TRACE, spanId: String(timeMs), timeMs });
    expect(mergeExemplars(undefined, [e(1)])).toEqual([e(1)]);
    expect(mergeExemplars([e(5), null, e(1)], [e(2), e(3), null])).toEqual([e(5), e(3), e(1)]);
  });
});

describe('OpenMetrics', () => {
  it('is chosen only for an Accept that takes application/openmetrics-text', () => {
    expect(acceptsOpenMetrics(undefined)).toBe(false);
    expect(acceptsOpenMetrics('text/plain')).toBe(false);
    expect(acceptsOpenMetrics('*/*')).toBe(false);
    expect(acceptsOpenMetrics('application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3')).toBe(true);
    expect(acceptsOpenMetrics('application/openmetrics-text; q=0, text/plain')).toBe(false);
  });

  it('puts each exemplar on its bucket line, names counter families without _total, drops UNIT and ends with # EOF', async () => {
    const { meter, collect } = setup();
    meter.createHistogram('http.server.request.duration', { unit: 's', description: 'Duration.', advice: { explicitBucketBoundaries: [0.01, 0.1] } }).record(0.05, { route: '/a' }, withSpan(TRACE, '00f067aa0ba902b7'));
    meter.createCounter('requests', { description: 'Requests.' }).add(3);
    const rm = await collect();
    const text = new OpenMetricsSerializer().serialize(rm);
    const lines = text.split('\n');
    const buckets = lines.filter((l) => l.startsWith('http_server_request_duration_bucket'));
    expect(buckets).toHaveLength(3);
    expect(buckets[0]).not.toContain('#');
    expect(buckets[1]).toMatch(new RegExp(`le="0.1"} 1 # \\{trace_id="${TRACE}",span_id="00f067aa0ba902b7"\\} 0.05 1700000000.000$`));
    expect(buckets[2]).not.toContain('#');
    expect(lines).toContain('# TYPE requests counter');
    expect(lines).toContain('# HELP requests Requests.');
    expect(lines.some((l) => l.startsWith('requests_total'))).toBe(true);
    expect(lines.some((l) => l.startsWith('# UNIT'))).toBe(false);
    expect(lines.includes('')).toBe(true); // only the final newline
    expect(lines.indexOf('')).toBe(lines.length - 1);
    expect(lines.at(-2)).toBe('# EOF');
    // The Prometheus text of the same collection carries no exemplar.
    expect(new PrometheusSerializer().serialize(rm)).not.toContain('trace_id');
  });

  it('an exposition with no metrics is just # EOF', () => {
    expect(toOpenMetrics('# no registered metrics')).toBe('# EOF\n');
  });

  it('a collection with no exemplars gives the same samples as the Prometheus text', async () => {
    const { meter, collect } = setup();
    meter.createHistogram('d', { advice: { explicitBucketBoundaries: [1] } }).record(0.5);
    const rm = toResourceMetrics({ attributes: {} } as never, toSnapshot((await collect()).scopeMetrics));
    const samples = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples(new OpenMetricsSerializer().serialize(rm))).toEqual(samples(new PrometheusSerializer().serialize(rm)));
  });
});
