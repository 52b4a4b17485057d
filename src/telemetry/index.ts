import fs from 'node:fs';
import path from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import os from 'node:os';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { definePlugin, type Telemetry } from '../plugin.js';
import { log } from '../log.js';
import { fromOtelEnv, schema } from './schema.js';
import { MetricsEndpoint, processRole } from './cluster.js';
import type { Tracing } from './tracing.js';

function hostPackageName(): string | undefined {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    return typeof pkg.name === 'string' ? pkg.name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The core telemetry plugin: one MeterProvider with a Prometheus reader, and a tracer only when traces
 * are configured. Every capability plugin depends on it; `OTEL_SDK_DISABLED=true` switches it and them off.
 */
export default definePlugin({
  name: 'telemetry',
  description: 'OpenTelemetry SDK set-up: the Prometheus endpoint, the resource, and traces when configured.',
  schema,
  fromEnv: fromOtelEnv,
  async setup(ctx, options) {
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
    const serviceName = String(resource.attributes['service.name'] ?? 'unknown_service:node');
    if (options.metricsExporter === 'prometheus') {
      const exporter = new PrometheusExporter({ preventServerStart: true });
      readers.push(exporter);
      endpoint = new MetricsEndpoint({
        host: options.metricsHost,
        port: options.metricsPort,
        path: options.metricsPath,
        serviceName,
        cluster: options.cluster,
        clusterScrapeTimeoutMs: options.clusterScrapeTimeoutMs,
        reader: exporter,
        log,
      });
    }
    const provider = new MeterProvider({ resource, readers });
    endpoint?.start();

    let tracing: Tracing | undefined;
    if (options.tracesExporter !== 'none') {
      const { startTracing } = await import('./tracing.js');
      tracing = await startTracing(options, resource);
      log.info(`traces on: ${options.tracesExporter}, sample ratio ${options.tracesSampleRatio}`);
    }

    const telemetry: Telemetry = {
      meter: provider.getMeter('@plandex-perf/register'),
      serviceName,
      tracer: tracing?.tracer,
      enterContext: (c) => tracing?.enter(c),
      isOwnServer: (s) => s === endpoint?.server.server,
      addRoute: (path, handler) => {
        if (!endpoint) return false;
        endpoint.server.addRoute(path, handler);
        return true;
      },
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
      await endpoint?.close(options.shutdownFlushMs);
      await tracing?.shutdown();
      await provider.shutdown();
    };
  },
});
