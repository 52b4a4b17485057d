import fs from 'node:fs';
import path from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Meter } from '@opentelemetry/api';
import os from 'node:os';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { definePlugin, type Telemetry } from '../plugin.js';
import { owningPackage } from '../attach.js';
import { log } from '../log.js';
import { fromOtelEnv, otelEnvNames, schema, whenInvalid } from './schema.js';
import { MetricsEndpoint, processRole } from './cluster.js';
import type { Tracing } from './tracing.js';
import { bucketViews } from './buckets.js';
import { ExemplarStore } from './exemplars.js';
import { DeltaReader, SeriesStore } from './series.js';

/**
 * The app's name: the nearest package.json (with a name) above the main module, then the working
 * directory's. An app started as `cd src && node index.js` is still itself, not `unknown_service:node`.
 */
function hostPackageName(): string | undefined {
  const main = process.argv[1];
  if (main) {
    try {
      const owner = owningPackage(fs.realpathSync(path.resolve(main)));
      if (owner) return owner.name;
    } catch {
      // `node -e`, a missing file: fall through to the working directory.
    }
  }
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    return typeof pkg.name === 'string' ? pkg.name : undefined;
  } catch {
    return undefined;
  }
}

const UNMATCHED_BUCKETS_AFTER_MS = 60_000;

/** The same meter, noting the name of each histogram created (for PPERF_WRN_065); nothing per measurement. */
function namesHistograms(meter: Meter, names: Set<string>): Meter {
  const named = Object.create(meter) as Meter;
  named.createHistogram = (name, options) => {
    names.add(name);
    return meter.createHistogram(name, options);
  };
  return named;
}

/**
 * The core telemetry plugin: one MeterProvider whose delta reader feeds our series store (served as
 * Prometheus text, or OpenMetrics with exemplars), and a tracer only when traces are configured. Every capability plugin depends on it; `OTEL_SDK_DISABLED=true` switches it and them off.
 */
export default definePlugin({
  name: 'telemetry',
  description: 'OpenTelemetry SDK set-up: the Prometheus endpoint, the resource, and traces when configured.',
  schema,
  fromEnv: fromOtelEnv,
  fromEnvNames: otelEnvNames,
  offBy: (env) => (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' ? 'OTEL_SDK_DISABLED=true' : undefined),
  whenInvalid,
  setup(ctx, options) {
    // OTEL_RESOURCE_ATTRIBUTES plus a few process facts: no cloud metadata probes, no network at start-up,
    // and not the command line (process detector), which may carry secrets into every scrape.
    const detected = detectResources({ detectors: [envDetector] });
    // Precedence as the spec has it: OTEL_SERVICE_NAME (or config) > OTEL_RESOURCE_ATTRIBUTES > our default.
    const resource = resourceFromAttributes({
      'service.name': hostPackageName() ?? 'unknown_service:node',
      'host.name': os.hostname(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
    })
      .merge(detected)
      .merge(resourceFromAttributes(options.serviceName ? { 'service.name': options.serviceName } : {}));

    const readers = [];
    let endpoint: MetricsEndpoint | undefined;
    let series: SeriesStore | undefined;
    const serviceName = String(resource.attributes['service.name'] ?? 'unknown_service:node');
    if (options.metricsExporter === 'prometheus') {
      // Deltas from the SDK, cumulated by our store, so that series that went quiet can be dropped (series.ts).
      const reader = new DeltaReader();
      readers.push(reader);
      series = new SeriesStore({ reader, staleAfterMs: options.staleSeriesAfterMs });
      endpoint = new MetricsEndpoint({
        host: options.metricsHost,
        port: options.metricsPort,
        path: options.metricsPath,
        serviceName,
        cluster: options.cluster,
        clusterScrapeTimeoutMs: options.clusterScrapeTimeoutMs,
        staleSeriesAfterMs: options.staleSeriesAfterMs,
        reader: series,
        log,
      });
    }
    const provider = new MeterProvider({ resource, readers, views: bucketViews(options.buckets) });
    endpoint?.start();
    series?.start();
    // A bucket list for a name no histogram has does nothing: say so once, when the plugins had time to create theirs.
    const histograms = new Set<string>();
    const configured = Object.keys(options.buckets);
    const unmatched = configured.length === 0 ? undefined : setTimeout(() => {
      const names = configured.filter((name) => !histograms.has(name));
      if (names.length > 0) log.warn('PPERF_WRN_065', `telemetry.buckets names ${names.map((n) => `"${n}"`).join(', ')}, which no histogram has; those boundaries apply to nothing`, { histograms: [...histograms] });
    }, UNMATCHED_BUCKETS_AFTER_MS).unref();

    // Synchronous unless traces are on, so that under `-r` the plugins after this one set up before the
    // app's first module runs.
    const finish = (tracing: Tracing | undefined) => {
      const meter = namesHistograms(provider.getMeter('@plandex-perf/register'), histograms);
      // Exemplars only while traces are on: otherwise plugins get the SDK's meter itself, and nothing runs per request.
      const exemplars = tracing && endpoint && options.exemplars ? new ExemplarStore(options.buckets) : undefined;
      if (endpoint) endpoint.exemplars = exemplars;
      const telemetry: Telemetry = {
        meter: exemplars ? exemplars.wrap(meter) : meter,
        serviceName,
        tracer: tracing?.tracer,
        enterContext: (c) => tracing?.enter(c),
        isOwnServer: (s) => s === endpoint?.server.server,
        addRoute: (path, handler) => {
          if (!endpoint) return false;
          endpoint.server.addRoute(path, handler);
          return true;
        },
        metricsHost: options.metricsHost,
        staleSeriesAfterMs: options.staleSeriesAfterMs,
        processInfo: () => endpoint?.info() ?? { pid: process.pid, role: processRole(), metrics: 'none', processes: 1 },
        metricsAddress: () => {
          const address = endpoint?.server.server.address();
          return address && typeof address === 'object' ? { host: options.metricsHost, port: address.port } : undefined;
        },
        flush: async (timeoutMs) => {
          await Promise.all([tracing?.flush(timeoutMs), endpoint?.flush(timeoutMs)]);
        },
      };
      ctx.provide(telemetry);

      return async () => {
        series?.stop();
        clearTimeout(unmatched);
        await endpoint?.close(options.shutdownFlushMs);
        await tracing?.shutdown();
        await provider.shutdown();
      };
    };
    if (options.tracesExporter === 'none') return finish(undefined);
    return import('./tracing.js')
      .then(({ startTracing }) => startTracing(options, resource))
      .then((tracing) => {
        log.info(`traces on: ${options.tracesExporter}, sample ratio ${options.tracesSampleRatio}`);
        // Spans wait in a buffer: they are the one thing lost at exit without a flush.
        ctx.flushOnExit((ms) => tracing.flush(ms), options.shutdownFlushMs);
        return finish(tracing);
      });
  },
});
