import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import * as sc from './semconv.js';

/**
 * Node runtime metrics: event-loop delay and utilization, GC, V8 heap — from OpenTelemetry's own
 * runtime instrumentation (no module hooks involved) — plus process memory, which it does not report.
 */
export default definePlugin({
  name: 'runtime',
  description: 'Event loop delay and utilization, GC duration, V8 heap and process memory.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.use<Telemetry>('telemetry');
    const instrumentation = new RuntimeNodeInstrumentation({
      monitoringPrecision: options.eventLoopResolutionMs,
      // Never add process-level exception listeners: they would change the host's behaviour.
      captureUncaughtException: false,
      enabled: false,
    });
    instrumentation.setMeterProvider({ getMeter: () => telemetry.meter });
    instrumentation.enable();

    const memory = telemetry.meter.createObservableUpDownCounter(sc.METRIC_PROCESS_MEMORY_USAGE, {
      description: 'Resident set size of the process.',
      unit: 'By',
    });
    memory.addCallback((result) => result.observe(process.memoryUsage.rss()));

    return () => {
      instrumentation.disable();
    };
  },
});
