import { TraceFlags, context as otelContext, trace, type Attributes, type Context, type Histogram, type Meter, type MetricOptions } from '@opentelemetry/api';
import { DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { attributesKey } from './merge.js';

/**
 * OpenMetrics exemplars for histograms: each bucket of each series keeps the trace of one recent
 * request that fell into it, so a dashboard can go from a slow bucket to its trace. The SDK records
 * none (sdk-metrics 3.x has no exemplar reservoir), so the histograms plugins create are wrapped, but
 * only while traces are on: with traces off plugins get the SDK's meter itself and nothing here runs.
 *
 * The hot path: after the SDK's own `record`, one `trace.getSpan` on the active context and a bit test;
 * only requests whose span is sampled (the ones the trace backend will have) go on to find their
 * series and bucket, and overwrite that bucket's one slot in place. A slot is allocated once per bucket
 * per series, and series are capped like the SDK's (2000 per metric).
 */
export interface Exemplar {
  value: number;
  traceId: string;
  spanId: string;
  /** Wall-clock milliseconds (OpenMetrics wants a timestamp in seconds). */
  timeMs: number;
}

/** What a histogram point carries to the serialiser (and over the cluster wire): one per bucket, or null. */
export type BucketExemplars = (Exemplar | null)[];
export type WithExemplars = { exemplars?: BucketExemplars };

/** `@opentelemetry/sdk-metrics`' default boundaries, for a histogram created with no advice and no view. */
export const SDK_DEFAULT_BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const MAX_SERIES = 2000;

interface Tracked {
  boundaries: number[];
  series: Map<string, (Exemplar | undefined)[]>;
}

/** The bucket `value` falls into, as the SDK counts it: the first boundary ≥ value, or the overflow bucket. */
export function bucketIndex(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((boundaries[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ExemplarStore {
  private readonly metrics = new Map<string, Tracked>();

  constructor(
    /** Configured boundaries by instrument name (the `buckets` option), which win over a plugin's advice. */
    private readonly configured: Record<string, number[]>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records an exemplar for `value` if `ctx` (else the active context) holds a sampled span. */
  offer(name: string, value: number, attributes: Attributes | undefined, ctx: Context | undefined): void {
    const span = trace.getSpan(ctx ?? otelContext.active());
    if (span === undefined) return;
    const { traceId, spanId, traceFlags } = span.spanContext();
    if ((traceFlags & TraceFlags.SAMPLED) === 0) return;
    const tracked = this.metrics.get(name);
    if (!tracked) return;
    const key = attributesKey(attributes ?? {});
    let slots = tracked.series.get(key);
    if (!slots) {
      if (tracked.series.size >= MAX_SERIES) return;
      tracked.series.set(key, (slots = new Array<Exemplar | undefined>(tracked.boundaries.length + 1)));
    }
    const i = bucketIndex(tracked.boundaries, value);
    const slot = slots[i];
    if (slot === undefined) slots[i] = { value, traceId, spanId, timeMs: this.clock() };
    else {
      slot.value = value;
      slot.traceId = traceId;
      slot.spanId = spanId;
      slot.timeMs = this.clock();
    }
  }

  /** The meter plugins get while traces are on: the same meter, whose histograms also offer exemplars. */
  wrap(meter: Meter): Meter {
    const store = this;
    const wrapped = Object.create(meter) as Meter;
    wrapped.createHistogram = (name: string, options?: MetricOptions): Histogram => {
      const histogram = meter.createHistogram(name, options);
      const boundaries = store.configured[name] ?? options?.advice?.explicitBucketBoundaries ?? SDK_DEFAULT_BOUNDARIES;
      if (!store.metrics.has(name)) store.metrics.set(name, { boundaries: [...boundaries], series: new Map() });
      return {
        record(value: number, attributes?: Attributes, ctx?: Context): void {
          histogram.record(value, attributes, ctx);
          store.offer(name, value, attributes, ctx);
        },
      };
    };
    return wrapped;
  }

  /**
   * Puts each histogram point's exemplars on it (fresh copies: recording goes on while a scrape is
   * serialised) and forgets the exemplars of series the collection no longer has (stale, dropped).
   * Points whose boundaries are not the ones recorded against (a view this store did not know) get none.
   */
  attach(resourceMetrics: ResourceMetrics): void {
    const seen = new Map<string, Set<string>>();
    for (const { metrics } of resourceMetrics.scopeMetrics) {
      for (const metric of metrics) {
        if (metric.dataPointType !== DataPointType.HISTOGRAM) continue;
        const tracked = this.metrics.get(metric.descriptor.name);
        if (!tracked) continue;
        const keys = seen.get(metric.descriptor.name) ?? new Set<string>();
        seen.set(metric.descriptor.name, keys);
        for (const point of metric.dataPoints) {
          const key = attributesKey(point.attributes);
          keys.add(key);
          const slots = tracked.series.get(key);
          const bounds = point.value.buckets.boundaries;
          if (!slots || bounds.length !== tracked.boundaries.length || bounds.some((b, i) => b !== tracked.boundaries[i])) continue;
          (point as WithExemplars).exemplars = Array.from(slots, (e) => (e ? { ...e } : null));
        }
      }
    }
    for (const [name, tracked] of this.metrics) {
      const keys = seen.get(name);
      for (const key of tracked.series.keys()) if (!keys?.has(key)) tracked.series.delete(key);
    }
  }

  /** Series with at least one exemplar slot (for the tests). */
  get size(): number {
    let n = 0;
    for (const tracked of this.metrics.values()) n += tracked.series.size;
    return n;
  }
}
