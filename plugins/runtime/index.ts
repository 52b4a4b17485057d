import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import { loopDelay } from '../../src/loop-delay.js';
import { onGc, type GcKind } from '../../src/gc.js';
import * as sc from './semconv.js';

/** Distinct active-resource types reported; past this, new types are not added (they are Node's handle kinds, a few dozen at most). */
const MAX_RESOURCE_TYPES = 64;
/** OpenTelemetry's runtime instrumentation buckets for `v8js.gc.duration`, kept so dashboards see the same series. */
const GC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Node runtime metrics under the names and attributes of OpenTelemetry's runtime instrumentation
 * (`nodejs.eventloop.*`, `v8js.*`) plus process memory. Implemented here on `perf_hooks` and `v8` rather
 * than through `@opentelemetry/instrumentation-runtime-node`, whose base class brings
 * `@opentelemetry/instrumentation` (require-in-the-middle, import-in-the-middle, debug) into the preload for
 * a plugin that hooks no module: ~130 kB of source parsed at every start. Nothing runs per request: the
 * figures are read at scrape time, the event-loop delay comes from the shared sampler, GC pauses from the
 * shared observer, each with attribute objects built once.
 */
export default definePlugin({
  name: 'runtime',
  description: 'Event loop delay and utilization, GC duration, V8 heap and process memory.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    const meter = ctx.need<Telemetry>('telemetry').meter;

    const delay = loopDelay.open(options.eventLoopResolutionMs);
    const gauge = (name: string, description: string) => meter.createObservableGauge(name, { description, unit: 's' });
    const delayGauges = {
      min: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_MIN, 'Event loop minimum delay.'),
      max: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_MAX, 'Event loop maximum delay.'),
      mean: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_MEAN, 'Event loop mean delay.'),
      stddev: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_STDDEV, 'Event loop standard deviation delay.'),
      p50: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_P50, 'Event loop 50 percentile delay.'),
      p90: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_P90, 'Event loop 90 percentile delay.'),
      p99: gauge(sc.METRIC_NODEJS_EVENTLOOP_DELAY_P99, 'Event loop 99 percentile delay.'),
    };
    // Since the previous scrape, as OpenTelemetry's collector reports it. A scrape that comes less than 5
    // ticks after the previous one (two scrapers, a retry) repeats the last figures rather than dropping
    // the gauges, which would read as a series that went away; the first scrape takes what there is.
    let lastDelay: ReturnType<typeof delay.take>;
    meter.addBatchObservableCallback((batch) => {
      const d = (lastDelay = delay.take(lastDelay ? 5 : 1) ?? lastDelay);
      if (!d) return;
      for (const key of Object.keys(delayGauges) as (keyof typeof delayGauges)[]) batch.observe(delayGauges[key], d[key] / 1e9);
    }, Object.values(delayGauges));

    const utilization = meter.createObservableGauge(sc.METRIC_NODEJS_EVENTLOOP_UTILIZATION, { description: 'Event loop utilization', unit: '1' });
    let lastElu = performance.eventLoopUtilization();
    utilization.addCallback((result) => {
      const now = performance.eventLoopUtilization();
      result.observe(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
    });
    const loopTime = meter.createObservableCounter(sc.METRIC_NODEJS_EVENTLOOP_TIME, { description: 'Cumulative duration of time the event loop has been in each state.', unit: 's' });
    const active = { [sc.ATTR_NODEJS_EVENTLOOP_STATE]: 'active' };
    const idle = { [sc.ATTR_NODEJS_EVENTLOOP_STATE]: 'idle' };
    loopTime.addCallback((result) => {
      const elu = performance.eventLoopUtilization();
      result.observe(elu.active / 1e3, active);
      result.observe(elu.idle / 1e3, idle);
    });

    const gcDuration = meter.createHistogram(sc.METRIC_V8JS_GC_DURATION, {
      description: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
      unit: 's',
      advice: { explicitBucketBoundaries: GC_BUCKETS },
    });
    const byKind: Record<GcKind, Attributes> = {
      major: { [sc.ATTR_V8JS_GC_TYPE]: 'major' },
      minor: { [sc.ATTR_V8JS_GC_TYPE]: 'minor' },
      incremental: { [sc.ATTR_V8JS_GC_TYPE]: 'incremental' },
      weakcb: { [sc.ATTR_V8JS_GC_TYPE]: 'weakcb' },
    };
    const offGc = onGc((kind, durationMs) => gcDuration.record(durationMs / 1000, byKind[kind]));

    const spaceSize = meter.createObservableUpDownCounter(sc.METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE, { description: 'Total heap memory size pre-allocated for a heap space.', unit: 'By' });
    const spaceUsed = meter.createObservableGauge(sc.METRIC_V8JS_MEMORY_HEAP_USED, { description: 'Heap Memory size allocated.', unit: 'By' });
    const spaceAvailable = meter.createObservableGauge(sc.METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE, { description: 'Heap space available size.', unit: 'By' });
    const spacePhysical = meter.createObservableGauge(sc.METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE, { description: 'Committed size of a heap space.', unit: 'By' });
    const spaceAttributes = new Map<string, Attributes>(); // V8's space names: a fixed handful
    meter.addBatchObservableCallback((batch) => {
      for (const space of v8.getHeapSpaceStatistics()) {
        let attributes = spaceAttributes.get(space.space_name);
        if (!attributes) spaceAttributes.set(space.space_name, (attributes = { [sc.ATTR_V8JS_HEAP_SPACE_NAME]: space.space_name }));
        batch.observe(spaceSize, space.space_size, attributes);
        batch.observe(spaceUsed, space.space_used_size, attributes);
        batch.observe(spaceAvailable, space.space_available_size, attributes);
        batch.observe(spacePhysical, space.physical_space_size, attributes);
      }
    }, [spaceSize, spaceUsed, spaceAvailable, spacePhysical]);

    const resources = meter.createObservableGauge(sc.METRIC_V8JS_RESOURCE_ACTIVE, { description: 'Count of the active resources that are currently keeping the event loop alive.', unit: '{resource}' });
    const knownTypes = new Map<string, Attributes>(); // once seen, a type is reported (0 when gone), as OpenTelemetry does
    resources.addCallback((result: ObservableResult) => {
      const counts = new Map<string, number>();
      for (const type of process.getActiveResourcesInfo()) {
        counts.set(type, (counts.get(type) ?? 0) + 1);
        if (!knownTypes.has(type) && knownTypes.size < MAX_RESOURCE_TYPES) knownTypes.set(type, { [sc.ATTR_V8JS_RESOURCE_TYPE]: type });
      }
      for (const [type, attributes] of knownTypes) result.observe(counts.get(type) ?? 0, attributes);
    });

    const memory = meter.createObservableUpDownCounter(sc.METRIC_PROCESS_MEMORY_USAGE, { description: 'Resident set size of the process.', unit: 'By' });
    memory.addCallback((result) => result.observe(process.memoryUsage.rss()));

    return () => {
      delay.close();
      offGc();
    };
  },
});
