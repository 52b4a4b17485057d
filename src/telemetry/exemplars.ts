import { TraceFlags, context as otelContext, trace, type Attributes, type Context, type Histogram, type Meter, type MetricOptions } from '@opentelemetry/api';
import { DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * OpenMetrics exemplars for histograms: each bucket of each series keeps the trace of one recent
 * request that fell into it, so a dashboard can go from a slow bucket to its trace. The SDK records
 * none (sdk-metrics 3.x has no exemplar reservoir), so the histograms plugins create are wrapped, but
 * only while traces are on: with traces off plugins get the SDK's meter itself and nothing here runs.
 *
 * The hot path: after the SDK's own `record`, one `trace.getSpan` on the active context and a bit test;
 * only a request whose span is sampled (the ones the trace backend will have) goes on, to overwrite the
 * next entry of a fixed ring (allocated once). Finding its series and bucket (an attribute key, a map
 * lookup: ~1 µs, most of the cost) is left to the collection, which sorts the ring into one slot per
 * bucket per series. Series are capped like the SDK's (2000 per metric) and forgotten when stale.
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

/** A sampled recording not yet sorted into its series: the hot path only fills one of these. */
interface Recent {
  value: number;
  traceId: string;
  spanId: string;
  timeMs: number;
  attributes: Attributes | undefined;
}

interface Tracked {
  boundaries: number[];
  series: Map<string, (Exemplar | undefined)[]>;
  /** Ring of the latest sampled recordings, entries allocated once and overwritten. */
  ring: Recent[];
  /** Recordings offered so far; the ring holds the last RING of them. */
  offered: number;
  /** Recordings already sorted into `series`. */
  drained: number;
}

/**
 * Sampled recordings kept between two collections. More in one scrape interval overwrite the oldest,
 * which only matters for a bucket no later request of the interval reached (its exemplar stays the
 * previous one); at the default 10 % sampling that is 10 240 requests per interval per metric.
 */
export const RING = 1024;

/**
 * The series an attribute set belongs to, independent of key order: a string built in one pass (no
 * intermediate arrays, no JSON), the same at record time and when a collection's points are matched.
 */
export function seriesKey(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const k of keys) {
    const v = attributes[k];
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    // Length-prefixed, so that no value (a header-derived tenant, say) can imitate a separator.
    key += `${k.length}:${k}${typeof v === 'string' ? 's' : 'o'}${text.length}:${text}`;
  }
  return key;
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

  /**
   * The hot path: notes `value` if `ctx` (else the active context) holds a sampled span. No key, no
   * lookup, no allocation once the ring is full: the recording is sorted into its series at collection.
   */
  private offer(tracked: Tracked, value: number, attributes: Attributes | undefined, ctx: Context | undefined): void {
    const span = trace.getSpan(ctx ?? otelContext.active());
    if (span === undefined) return;
    const { traceId, spanId, traceFlags } = span.spanContext();
    if ((traceFlags & TraceFlags.SAMPLED) === 0) return;
    const i = tracked.offered++ % RING;
    const entry = tracked.ring[i];
    if (entry === undefined) tracked.ring[i] = { value, traceId, spanId, timeMs: this.clock(), attributes };
    else {
      entry.value = value;
      entry.traceId = traceId;
      entry.spanId = spanId;
      entry.timeMs = this.clock();
      entry.attributes = attributes;
    }
  }

  /** Sorts the recordings offered since the last collection into their series' bucket slots, oldest first. */
  private drain(tracked: Tracked): void {
    const from = Math.max(tracked.drained, tracked.offered - RING);
    for (let n = from; n < tracked.offered; n++) {
      const entry = tracked.ring[n % RING] as Recent;
      const key = entry.attributes === undefined ? '' : seriesKey(entry.attributes);
      entry.attributes = undefined; // the ring holds no request's attributes past a collection
      let slots = tracked.series.get(key);
      if (!slots) {
        if (tracked.series.size >= MAX_SERIES) continue;
        tracked.series.set(key, (slots = new Array<Exemplar | undefined>(tracked.boundaries.length + 1)));
      }
      const i = bucketIndex(tracked.boundaries, entry.value);
      slots[i] = { value: entry.value, traceId: entry.traceId, spanId: entry.spanId, timeMs: entry.timeMs };
    }
    tracked.drained = tracked.offered;
  }

  /** The meter plugins get while traces are on: the same meter, whose histograms also offer exemplars. */
  wrap(meter: Meter): Meter {
    const store = this;
    const wrapped = Object.create(meter) as Meter;
    wrapped.createHistogram = (name: string, options?: MetricOptions): Histogram => {
      const histogram = meter.createHistogram(name, options);
      const boundaries = store.configured[name] ?? options?.advice?.explicitBucketBoundaries ?? SDK_DEFAULT_BOUNDARIES;
      let tracked = store.metrics.get(name);
      if (!tracked) store.metrics.set(name, (tracked = { boundaries: [...boundaries], series: new Map(), ring: [], offered: 0, drained: 0 }));
      const own = tracked;
      return {
        record(value: number, attributes?: Attributes, ctx?: Context): void {
          histogram.record(value, attributes, ctx);
          store.offer(own, value, attributes, ctx);
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
        this.drain(tracked);
        const keys = seen.get(metric.descriptor.name) ?? new Set<string>();
        seen.set(metric.descriptor.name, keys);
        for (const point of metric.dataPoints) {
          const key = seriesKey(point.attributes);
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
    for (const tracked of this.metrics.values()) {
      this.drain(tracked);
      n += tracked.series.size;
    }
    return n;
  }
}
