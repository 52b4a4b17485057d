import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { addHistograms, attributesKey, cumulativePart, mergeSnapshots, toResourceMetrics, toSnapshot, type Snapshot } from '../../src/telemetry/merge.js';

const t0: [number, number] = [100, 0];
const t1: [number, number] = [200, 0];
const descriptor = (name: string) => ({ name, description: name, unit: '1', valueType: ValueType.DOUBLE });
const sum = (name: string, points: [Record<string, string>, number][], isMonotonic = true): MetricData => ({
  descriptor: descriptor(name),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.SUM,
  isMonotonic,
  dataPoints: points.map(([attributes, value]) => ({ startTime: t0, endTime: t1, attributes, value })),
});
const gauge = (name: string, value: number): MetricData => ({
  descriptor: descriptor(name),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.GAUGE,
  dataPoints: [{ startTime: t0, endTime: t1, attributes: { a: 'x' }, value }],
});
const histogram = (name: string, counts: number[], boundaries = [1, 2]): MetricData => ({
  descriptor: descriptor(name),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.HISTOGRAM,
  dataPoints: [
    {
      startTime: t0,
      endTime: t1,
      attributes: { route: '/a' },
      value: { buckets: { boundaries, counts }, count: counts.reduce((a, b) => a + b, 0), sum: 10, min: 0.5, max: 3 },
    },
  ],
});
const snap = (...metrics: MetricData[]): Snapshot => [{ scope: { name: 'scope' }, metrics }];
const find = (s: Snapshot, name: string) => s.flatMap((x) => x.metrics).find((m) => m.descriptor.name === name)!;

describe('mergeSnapshots', () => {
  it('adds counters and up-down counters with the same attributes, keeps others apart', () => {
    const merged = mergeSnapshots([
      { snapshot: snap(sum('requests', [[{ code: '200' }, 3], [{ code: '500' }, 1]]), sum('active', [[{}, 2]], false)), slot: 0 },
      { snapshot: snap(sum('requests', [[{ code: '200' }, 4]]), sum('active', [[{}, 5]], false)), slot: 1 },
    ]);
    const requests = find(merged, 'requests');
    expect(requests.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ code: '200' }, 7],
      [{ code: '500' }, 1],
    ]);
    expect(find(merged, 'active').dataPoints[0]!.value).toBe(7);
  });

  it('matches attribute sets whatever their key order', () => {
    expect(attributesKey({ a: 1, b: 'x' })).toBe(attributesKey({ b: 'x', a: 1 }));
    const merged = mergeSnapshots([{ snapshot: snap(sum('c', [[{ a: '1', b: '2' }, 1]])) }, { snapshot: snap(sum('c', [[{ b: '2', a: '1' }, 2]])) }]);
    expect(find(merged, 'c').dataPoints).toHaveLength(1);
    expect(find(merged, 'c').dataPoints[0]!.value).toBe(3);
  });

  it('adds histograms bucket by bucket, with min and max', () => {
    const merged = mergeSnapshots([{ snapshot: snap(histogram('d', [1, 2, 3])), slot: 0 }, { snapshot: snap(histogram('d', [4, 0, 1])), slot: 1 }]);
    const point = find(merged, 'd').dataPoints[0]!;
    expect(point.value).toEqual({ buckets: { boundaries: [1, 2], counts: [5, 2, 4] }, count: 11, sum: 20, min: 0.5, max: 3 });
  });

  it('keeps histograms with other buckets apart under the slot instead of adding them wrongly', () => {
    expect(addHistograms(histogram('d', [1, 1, 1]).dataPoints[0]!.value as never, histogram('d', [1, 1], [5]).dataPoints[0]!.value as never)).toBeUndefined();
    const merged = mergeSnapshots([{ snapshot: snap(histogram('d', [1, 1, 1])), slot: 0 }, { snapshot: snap(histogram('d', [1, 1], [5])), slot: 1 }]);
    const points = find(merged, 'd').dataPoints;
    expect(points).toHaveLength(2);
    expect(points[1]!.attributes).toEqual({ route: '/a', 'plandex_perf.process.slot': 1 });
  });

  it('gives gauges the slot label instead of summing them', () => {
    const merged = mergeSnapshots([{ snapshot: snap(gauge('p99', 0.02)), slot: 0 }, { snapshot: snap(gauge('p99', 0.5)), slot: 3 }]);
    expect(find(merged, 'p99').dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{ a: 'x', 'plandex_perf.process.slot': 0 }, 0.02],
      [{ a: 'x', 'plandex_perf.process.slot': 3 }, 0.5],
    ]);
  });

  it('drops a metric whose type clashes with the first one of that name', () => {
    const merged = mergeSnapshots([{ snapshot: snap(sum('x', [[{}, 1]])), slot: 0 }, { snapshot: snap(gauge('x', 9)), slot: 1 }]);
    expect(find(merged, 'x').dataPoints.map((p) => p.value)).toEqual([1]);
  });

  it('spans the earliest start and the latest end', () => {
    const late = sum('c', [[{}, 1]]);
    const early: MetricData = { ...late, dataPoints: [{ startTime: [50, 5], endTime: [300, 0], attributes: {}, value: 1 }] } as MetricData;
    const point = find(mergeSnapshots([{ snapshot: snap(late) }, { snapshot: snap(early) }]), 'c').dataPoints[0]!;
    expect([point.startTime, point.endTime]).toEqual([[50, 5], [300, 0]]);
  });

  it('leaves its inputs untouched', () => {
    const input = snap(sum('c', [[{}, 1]]), histogram('d', [1, 0, 0]));
    const copy = structuredClone(input);
    mergeSnapshots([{ snapshot: input }, { snapshot: input }]);
    expect(input).toEqual(copy);
  });
});

describe('cumulativePart (what a process that left still contributes)', () => {
  it('keeps counters and histograms, drops gauges and up-down counters', () => {
    const part = cumulativePart(snap(sum('requests', [[{}, 1]]), sum('active', [[{}, 1]], false), gauge('p99', 1), histogram('d', [1, 0, 0])));
    expect(part.flatMap((s) => s.metrics.map((m) => m.descriptor.name))).toEqual(['requests', 'd']);
    expect(cumulativePart(snap(gauge('p99', 1)))).toEqual([]);
  });
});

describe('toSnapshot', () => {
  it('survives JSON: an empty histogram has no Infinity min/max', () => {
    const empty = histogram('d', [0, 0, 0]);
    (empty.dataPoints[0]!.value as { min?: number; max?: number }).min = Infinity;
    (empty.dataPoints[0]!.value as { min?: number; max?: number }).max = -Infinity;
    const wire = JSON.parse(JSON.stringify(toSnapshot([{ scope: { name: 's', version: '1' }, metrics: [empty] }]))) as Snapshot;
    expect(find(wire, 'd').dataPoints[0]!.value).toEqual({ buckets: { boundaries: [1, 2], counts: [0, 0, 0] }, count: 0, sum: 10 });
    expect(wire[0]!.scope).toEqual({ name: 's', version: '1' });
  });

  it('merged output serialises with the SDK serializer as one series per attribute set', () => {
    const merged = mergeSnapshots([{ snapshot: snap(sum('http.requests', [[{ code: '200' }, 3]])), slot: 0 }, { snapshot: snap(sum('http.requests', [[{ code: '200' }, 4]])), slot: 1 }]);
    const text = new PrometheusSerializer().serialize(toResourceMetrics(resourceFromAttributes({ 'service.name': 'app' }), merged));
    expect(text).toContain('http_requests_total{code="200",otel_scope_name="scope"} 7');
    expect(text.match(/^http_requests_total/gm)).toHaveLength(1);
  });
});
