import { DataPointType, type DataPoint, type MetricData, type ResourceMetrics, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ATTR_PROCESS_SLOT } from './semconv.js';
import type { BucketExemplars, WithExemplars } from './exemplars.js';

/**
 * Pure functions behind the cluster view: one process's `collect()` result as plain JSON (a
 * `Snapshot`), and the merge of several into one. They follow the OpenTelemetry data model's rules for
 * spatial aggregation: sums (counters, up-down counters) and explicit-bucket histograms are additive, so
 * points with identical attributes are added; gauges are not (a sum of p99s means nothing), so each
 * process keeps its own point under a small slot label.
 */

/** The wire form of `ScopeMetrics[]`: JSON-safe (no Infinity: histogram min/max of an empty point are dropped). */
export interface SnapshotScope {
  scope: { name: string; version?: string; schemaUrl?: string };
  metrics: MetricData[];
}
export type Snapshot = SnapshotScope[];

export function toSnapshot(scopeMetrics: ScopeMetrics[]): Snapshot {
  return scopeMetrics.map(({ scope, metrics }) => ({
    scope: { name: scope.name, ...(scope.version ? { version: scope.version } : {}), ...(scope.schemaUrl ? { schemaUrl: scope.schemaUrl } : {}) },
    metrics: metrics.map((metric) => {
      if (metric.dataPointType !== DataPointType.HISTOGRAM) return metric;
      return {
        ...metric,
        dataPoints: metric.dataPoints.map((point) => {
          const { min, max, ...rest } = point.value;
          return { ...point, value: { ...rest, ...(Number.isFinite(min) ? { min } : {}), ...(Number.isFinite(max) ? { max } : {}) } };
        }),
      };
    }),
  }));
}

/** A stable key for an attribute set, independent of insertion order. */
export function attributesKey(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}

/** Monotonic data only: what a process that left still contributes (counters and histograms, not gauges or up-down counters). */
export function cumulativePart(snapshot: Snapshot): Snapshot {
  return snapshot
    .map(({ scope, metrics }) => ({
      scope,
      metrics: metrics.filter((m) => m.dataPointType === DataPointType.HISTOGRAM || (m.dataPointType === DataPointType.SUM && m.isMonotonic)),
    }))
    .filter((s) => s.metrics.length > 0);
}

export interface MergeInput {
  snapshot: Snapshot;
  /** Slot label value for this process's gauges; `undefined` leaves gauge attributes as they are. */
  slot?: number;
}

interface Accumulator {
  metric: MetricData;
  points: Map<string, DataPoint<unknown>>;
}

const earlier = (a: HrTime, b: HrTime): HrTime => (a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]) ? a : b);
const later = (a: HrTime, b: HrTime): HrTime => (earlier(a, b) === a ? b : a);

function sameShape(a: MetricData, b: MetricData): boolean {
  if (a.dataPointType !== b.dataPointType) return false;
  return a.dataPointType !== DataPointType.SUM || b.dataPointType !== DataPointType.SUM || a.isMonotonic === b.isMonotonic;
}

type HistogramValue = Extract<MetricData, { dataPointType: DataPointType.HISTOGRAM }>['dataPoints'][number]['value'];

/** Adds `b` into a copy of `a`, or returns undefined when the buckets differ (not addable). */
export function addHistograms(a: HistogramValue, b: HistogramValue): HistogramValue | undefined {
  const ab = a.buckets.boundaries;
  const bb = b.buckets.boundaries;
  if (ab.length !== bb.length || ab.some((x, i) => x !== bb[i]) || a.buckets.counts.length !== b.buckets.counts.length) return undefined;
  const min = a.min === undefined ? b.min : b.min === undefined ? a.min : Math.min(a.min, b.min);
  const max = a.max === undefined ? b.max : b.max === undefined ? a.max : Math.max(a.max, b.max);
  return {
    buckets: { boundaries: [...ab], counts: a.buckets.counts.map((c, i) => c + (b.buckets.counts[i] ?? 0)) },
    count: a.count + b.count,
    sum: a.sum === undefined || b.sum === undefined ? undefined : a.sum + b.sum,
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
  };
}

function addPoint(metric: MetricData, into: DataPoint<unknown>, point: DataPoint<unknown>): DataPoint<unknown> | undefined {
  let value: unknown;
  if (metric.dataPointType === DataPointType.SUM) value = (into.value as number) + (point.value as number);
  else if (metric.dataPointType === DataPointType.HISTOGRAM) value = addHistograms(into.value as HistogramValue, point.value as HistogramValue);
  else value = point.value; // a gauge without slot label (one process): the later wins
  if (value === undefined) return undefined;
  const sum: DataPoint<unknown> & WithExemplars = { startTime: earlier(into.startTime, point.startTime), endTime: later(into.endTime, point.endTime), attributes: into.attributes, value };
  // Exemplars: the newer of each bucket's, whichever process recorded it (both are real traces).
  const exemplars = mergeExemplars((into as WithExemplars).exemplars, (point as WithExemplars).exemplars);
  if (exemplars) sum.exemplars = exemplars;
  return sum;
}

/** Keeps the newer exemplar of each bucket. */
export function mergeExemplars(a: BucketExemplars | undefined, b: BucketExemplars | undefined): BucketExemplars | undefined {
  if (!a) return b;
  if (!b || a.length !== b.length) return a;
  return a.map((x, i) => {
    const y = b[i] ?? null;
    if (!x) return y;
    return y && y.timeMs > x.timeMs ? y : x;
  });
}

const additive = (m: MetricData): boolean => m.dataPointType === DataPointType.SUM || m.dataPointType === DataPointType.HISTOGRAM;

/**
 * Merges snapshots: additive points with the same scope, name and attributes are added; non-additive
 * points (gauges, exponential histograms) get `plandex_perf.process.slot` when the input has a slot.
 * The first descriptor seen wins; a metric whose type differs from it is dropped, and a histogram with
 * other buckets keeps its own series under the slot label instead of being added wrongly.
 */
export function mergeSnapshots(inputs: MergeInput[]): Snapshot {
  const scopes = new Map<string, { scope: SnapshotScope['scope']; metrics: Map<string, Accumulator> }>();
  for (const { snapshot, slot } of inputs) {
    for (const { scope, metrics } of snapshot) {
      const scopeKey = `${scope.name}\u0000${scope.version ?? ''}`;
      let entry = scopes.get(scopeKey);
      if (!entry) scopes.set(scopeKey, (entry = { scope, metrics: new Map() }));
      for (const metric of metrics) {
        let acc = entry.metrics.get(metric.descriptor.name);
        if (!acc) entry.metrics.set(metric.descriptor.name, (acc = { metric, points: new Map() }));
        // Same code runs in every process, so a type clash means two instruments share a name: the
        // first wins, as in the serializer's own conflict rule.
        if (!sameShape(acc.metric, metric)) continue;
        for (const point of metric.dataPoints as DataPoint<unknown>[]) {
          const attributes = slot !== undefined && !additive(metric) ? { ...point.attributes, [ATTR_PROCESS_SLOT]: slot } : point.attributes;
          const key = attributesKey(attributes);
          const existing = acc.points.get(key);
          if (!existing) {
            acc.points.set(key, { ...point, attributes });
            continue;
          }
          const sum = addPoint(acc.metric, existing, point);
          if (sum) acc.points.set(key, sum);
          else if (slot !== undefined) {
            // Histograms with other buckets (a view differs): kept apart rather than added wrongly.
            const own = { ...attributes, [ATTR_PROCESS_SLOT]: slot };
            acc.points.set(attributesKey(own), { ...point, attributes: own });
          }
        }
      }
    }
  }
  return [...scopes.values()].map(({ scope, metrics }) => ({
    scope,
    metrics: [...metrics.values()].map(({ metric, points }) => ({ ...metric, dataPoints: [...points.values()] }) as MetricData),
  }));
}

/** The merged view as the serializer takes it. */
export function toResourceMetrics(resource: ResourceMetrics['resource'], snapshot: Snapshot): ResourceMetrics {
  return { resource, scopeMetrics: snapshot.map(({ scope, metrics }) => ({ scope, metrics })) };
}
