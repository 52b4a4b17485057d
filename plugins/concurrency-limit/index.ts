import { performance } from 'node:perf_hooks';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import { GradientLimit, type LimitChange } from './limit.js';
import { installGate } from './gate.js';
import { pathMatcher } from '../../src/paths.js';
import * as sc from './semconv.js';

/** Limit changes are logged at debug at most this often; the lines in between are counted, not lost. */
const LOG_EVERY_MS = 1000;

export default definePlugin({
  name: 'concurrency-limit',
  description: 'Adaptive concurrency limit on incoming HTTP requests (Gradient2/Envoy-style, from latency): a short bounded queue, then 503 + Retry-After. Off by default.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    if (!options.enabled) return; // off: nothing patched, nothing measured
    const telemetry = ctx.need<Telemetry>('telemetry');
    const now = () => performance.now();
    const limiter = new GradientLimit(options, now);

    let lastLogAt = Number.NEGATIVE_INFINITY;
    let unlogged = 0;
    const logChange = (change: LimitChange): void => {
      const at = now();
      if (at - lastLogAt < LOG_EVERY_MS) return void unlogged++;
      lastLogAt = at;
      ctx.log.debug(`concurrency limit ${change.from} → ${change.to}${change.probe ? ' (measuring no-load latency)' : ''}`, {
        windowLatencyMs: Math.round(change.windowLatencyMs * 100) / 100,
        baselineMs: Math.round(change.baselineMs * 100) / 100,
        gradient: Math.round(change.gradient * 1000) / 1000,
        changesNotLogged: unlogged,
      });
      unlogged = 0;
    };

    const meter = telemetry.meter;
    const rejected = meter.createCounter(sc.METRIC_REJECTED, { description: 'Requests answered 503 by the concurrency limit.', unit: '{request}' });
    const wait = meter.createHistogram(sc.METRIC_QUEUE_WAIT, {
      description: 'Time requests waited in the queue before being admitted, refused or abandoned by their client.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.QUEUE_WAIT_BUCKETS },
    });
    const reasonAttrs = Object.fromEntries(sc.REASONS.map((r) => [r, { [sc.ATTR_REASON]: r }]));
    const outcomeAttrs = Object.fromEntries(sc.OUTCOMES.map((r) => [r, { [sc.ATTR_OUTCOME]: r }]));

    const gate = installGate(ctx, {
      limiter,
      now,
      queueRatio: options.queueRatio,
      maxQueueWaitMs: options.maxQueueWaitMs,
      retryAfterSeconds: options.retryAfterSeconds,
      notReadyMs: options.notReadyMs,
      isExempt: pathMatcher(options.exemptPaths),
      isReadiness: pathMatcher(options.readinessPaths),
      isOwnServer: telemetry.isOwnServer,
      onChange: logChange,
      onReject: (reason) => rejected.add(1, reasonAttrs[reason]),
      onWait: (seconds, outcome) => wait.record(seconds, outcomeAttrs[outcome]),
    });

    const limitGauge = meter.createObservableGauge(sc.METRIC_LIMIT, { description: 'Requests allowed to run at once.', unit: '{request}' });
    const inFlight = meter.createObservableGauge(sc.METRIC_IN_FLIGHT, { description: 'Requests admitted and not yet finished.', unit: '{request}' });
    const queued = meter.createObservableGauge(sc.METRIC_QUEUED, { description: 'Requests waiting for a slot.', unit: '{request}' });
    const baseline = meter.createObservableGauge(sc.METRIC_BASELINE, { description: 'The no-load latency the limit is measured against (median of a low-concurrency window).', unit: 's' });
    const observe = meter.addBatchObservableCallback.bind(meter);
    observe(
      (batch) => {
        batch.observe(limitGauge, limiter.limit);
        batch.observe(inFlight, limiter.inFlight);
        batch.observe(queued, gate.queued());
        const b = limiter.baselineMs;
        if (b !== undefined) batch.observe(baseline, b / 1000);
      },
      [limitGauge, inFlight, queued, baseline],
    );
    ctx.log.info(`concurrency limit on: starts at ${limiter.limit}, between ${options.minLimit} and ${options.maxLimit}`);

    return () => gate.close();
  },
});
