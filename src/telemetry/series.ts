import {
  AggregationTemporality,
  DataPointType,
  MetricReader,
  type CollectionResult,
  type DataPoint,
  type MetricData,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { addHistograms, attributesKey } from './merge.js';

/**
 * Stale series, bounded memory.
 *
 * With cumulative temporality the SDK keeps every attribute set it ever saw, for the life of the
 * process: a route, pool or tenant that stopped reporting stays in memory and in every scrape. The SDK
 * has no expiry (its `aggregationCardinalityLimit` only folds new sets into `otel.metric.overflow` once
 * full). With *delta* temporality, though, it hands over each interval's accumulations and forgets them
 * (`DeltaMetricProcessor.collect()` swaps in an empty map). So the reader asks for deltas and this store
 * keeps the cumulative sums itself, one entry per series with the time it last changed; an entry quiet
 * for `staleAfterMs` is dropped.
 *
 * A series that comes back after being dropped is a *new* series: its counter starts again at its new
 * increments and a fresh start time, which Prometheus (and `rate()`/`increase()`) treat as a counter
 * reset. What is lost is at most the first increment after the return, which Prometheus cannot see
 * without a previous sample — hence a default long enough that a series active at least twice per
 * `staleAfterMs` is never dropped.
 *
 * What counts as quiet: a counter or histogram with no new recording; an observable instrument not
 * reported (it reports on every collection while its pool lives); a synchronous up-down counter with no
 * change *and* a value of 0 — one that holds a non-zero value is live state (connections held), and
 * restarting it from 0 would be wrong, not just reset.
 */

/** The SDK's default per-instrument cardinality limit, kept here: the store is the limit now. */
export const MAX_SERIES_PER_METRIC = 2000;
const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

/** Asks the SDK for deltas, so that it forgets each interval's attribute sets once they are handed over. */
export class DeltaReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Series {
  attributes: Attributes;
  startTime: HrTime;
  endTime: HrTime;
  value: unknown;
  lastChange: number;
}

interface Stream {
  scope: ScopeMetrics['scope'];
  metric: MetricData;
  series: Map<string, Series>;
}

/** The SDK passes its instrument descriptor, whose `type` (`OBSERVABLE_GAUGE`, …) its public type leaves out. */
const isObservable = (metric: MetricData): boolean => String((metric.descriptor as { type?: unknown }).type ?? '').startsWith('OBSERVABLE');

type HistogramValue = Parameters<typeof addHistograms>[0];
const copyHistogram = (v: HistogramValue): HistogramValue => ({ ...v, buckets: { boundaries: [...v.buckets.boundaries], counts: [...v.buckets.counts] } });

export interface SeriesStoreOptions {
  /** Where the deltas come from: a reader with delta temporality, registered on the MeterProvider. */
  reader: Pick<MetricReader, 'collect'>;
  /** `0` keeps every series for the life of the process (as the SDK's cumulative mode does). */
  staleAfterMs: number;
  /** Monotonic milliseconds; a parameter so the tests move time by hand. */
  now?: () => number;
  maxSeriesPerMetric?: number;
}

/**
 * The cumulative view over a delta reader. `collect()` has the reader's shape, so the metrics endpoint,
 * the cluster leader and followers use it as they used the Prometheus exporter's reader. Collections are
 * serialised (a scrape and the background fold never interleave their folds).
 */
export class SeriesStore {
  private readonly streams = new Map<string, Stream>();
  private resource: ResourceMetrics['resource'] | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly maxSeries: number;
  /** Series dropped as stale since start (for the docs' figures and the tests). */
  dropped = 0;

  constructor(private readonly options: SeriesStoreOptions) {
    this.now = options.now ?? (() => performance.now());
    this.maxSeries = options.maxSeriesPerMetric ?? MAX_SERIES_PER_METRIC;
  }

  /**
   * Folds the deltas in the background, so that without a scrape the SDK's own maps hold at most one
   * interval and stale series still go. Every quarter of `staleAfterMs`, at most once a minute, at least
   * once a second; nothing when series never go stale (the SDK's maps are then no bigger than before).
   */
  start(): void {
    if (this.options.staleAfterMs <= 0 || this.timer) return;
    const every = Math.min(60_000, Math.max(1000, this.options.staleAfterMs / 4));
    this.timer = setInterval(() => void this.run(false).catch(() => {}), every).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  collect(): Promise<CollectionResult> {
    return this.run(true) as Promise<CollectionResult>;
  }

  /** One collection: fold and prune, and build the view only for a scrape (not for the background fold). */
  private run(view: boolean): Promise<CollectionResult | undefined> {
    const run = this.chain.then(async () => {
      const { resourceMetrics, errors } = await this.options.reader.collect();
      this.fold(resourceMetrics);
      this.prune();
      return view ? { resourceMetrics: this.view(resourceMetrics.resource), errors } : undefined;
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Series held now (all metrics). */
  get size(): number {
    let n = 0;
    for (const stream of this.streams.values()) n += stream.series.size;
    return n;
  }

  /** Adds one collection's deltas. Exposed for the tests; `collect()` is the way in. */
  fold(delta: ResourceMetrics): void {
    this.resource = delta.resource;
    const now = this.now();
    for (const { scope, metrics } of delta.scopeMetrics) {
      for (const metric of metrics) {
        // No instrument here makes exponential histograms (no view asks for them); adding their
        // deltas would need rescaling, so they are left out rather than shown wrong.
        if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) continue;
        const key = `${scope.name}\u0000${scope.version ?? ''}\u0000${metric.descriptor.name}`;
        let stream = this.streams.get(key);
        if (!stream) this.streams.set(key, (stream = { scope, metric, series: new Map() }));
        stream.metric = { ...metric, dataPoints: [] } as MetricData; // the latest descriptor, without holding the SDK's points
        for (const point of metric.dataPoints as DataPoint<unknown>[]) this.add(stream, point, now);
      }
    }
  }

  private add(stream: Stream, point: DataPoint<unknown>, now: number): void {
    let id = attributesKey(point.attributes);
    let series = stream.series.get(id);
    if (!series && stream.series.size >= this.maxSeries) {
      id = attributesKey(OVERFLOW);
      series = stream.series.get(id);
      point = { ...point, attributes: OVERFLOW };
    }
    if (!series) {
      // Copied: the SDK's histogram point shares arrays with its accumulation.
      const value = stream.metric.dataPointType === DataPointType.HISTOGRAM ? copyHistogram(point.value as HistogramValue) : point.value;
      stream.series.set(id, { attributes: point.attributes, startTime: point.startTime, endTime: point.endTime, value, lastChange: now });
      return;
    }
    const { metric } = stream;
    if (metric.dataPointType === DataPointType.SUM) {
      // An observable instrument reports every live attribute set on each collection (a delta of 0
      // included): being reported is the sign of life. A synchronous one is reported only when recorded.
      series.lastChange = now;
      series.value = (series.value as number) + (point.value as number);
    } else if (metric.dataPointType === DataPointType.HISTOGRAM) {
      // Boundaries changed (a view differs after a restart of the provider): start over rather than add wrongly.
      series.value = addHistograms(series.value as HistogramValue, point.value as HistogramValue) ?? point.value;
      series.lastChange = now;
    } else {
      series.value = point.value;
      series.lastChange = now;
    }
    series.endTime = point.endTime;
  }

  /** Drops the series quiet for `staleAfterMs` (up-down counters only at 0). Exposed for the tests. */
  prune(): void {
    const { staleAfterMs } = this.options;
    if (staleAfterMs <= 0) return;
    const now = this.now();
    for (const [key, stream] of this.streams) {
      // A quiet synchronous up-down counter holding a value is live state (connections held); an
      // observable one that is no longer reported is gone (its pool closed), whatever its last value.
      const keepNonZero = stream.metric.dataPointType === DataPointType.SUM && !stream.metric.isMonotonic && !isObservable(stream.metric);
      for (const [id, series] of stream.series) {
        if (now - series.lastChange < staleAfterMs) continue;
        if (keepNonZero && series.value !== 0) continue;
        stream.series.delete(id);
        this.dropped++;
      }
      if (stream.series.size === 0) this.streams.delete(key);
    }
  }

  /** The cumulative view: fresh point objects, so a later fold never changes what a scrape is serialising. */
  view(resource = this.resource): ResourceMetrics {
    const scopes = new Map<string, ResourceMetrics['scopeMetrics'][number]>();
    for (const stream of this.streams.values()) {
      const { scope } = stream;
      const scopeKey = `${scope.name}\u0000${scope.version ?? ''}`;
      let entry = scopes.get(scopeKey);
      if (!entry) scopes.set(scopeKey, (entry = { scope, metrics: [] }));
      const dataPoints = [...stream.series.values()].map(({ attributes, startTime, endTime, value }) => ({ attributes, startTime, endTime, value }));
      entry.metrics.push({ ...stream.metric, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPoints } as MetricData);
    }
    return { resource: resource ?? ({ attributes: {} } as unknown as ResourceMetrics['resource']), scopeMetrics: [...scopes.values()] };
  }
}
