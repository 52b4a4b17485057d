import diagnostics from 'node:diagnostics_channel';
import { context } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import { Targets, errorAttributes, errorTypeOf, methodIndex, responseAttributes, type Target } from './targets.js';
import { boundedLabel } from '../../src/bounded.js';
import * as sc from './semconv.js';

/** Set on a request when it starts; cleared when recorded, so an error after the response is not counted twice. */
const kStart = Symbol('plandex-perf.http-client.start');
const kTarget = Symbol('plandex-perf.http-client.target');
interface Tagged {
  [kStart]?: number;
  [kTarget]?: Target;
}

interface NodeRequest extends Tagged {
  method?: string;
  host?: string;
  protocol?: string;
  getHeader?(name: string): unknown;
}
interface UndiciRequest extends Tagged {
  method?: string;
  origin?: unknown;
}

/**
 * Outbound HTTP from Node's own diagnostics channels: `fetch` and undici (`undici:request:*`), and
 * `node:http`/`node:https` clients (`http.client.*`). Nothing is patched. The duration runs until the
 * response headers arrive (both channels report the response there), so a slow body download is not in it.
 */
export default definePlugin({
  name: 'http-client',
  description: 'Outbound HTTP request duration (fetch, undici, node:http and https) by host, method and status, from node:diagnostics_channel.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const duration = telemetry.meter.createHistogram(sc.METRIC_HTTP_CLIENT_REQUEST_DURATION, {
      description: 'Duration of outbound HTTP requests, until the response headers arrive.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const targets = new Targets(options.maxHosts, new Set(options.ignoreHosts.map((h) => h.toLowerCase())), () =>
      ctx.log.once('bounded:http-client-hosts', 'warn', 'PPERF_WRN_002', `more than ${options.maxHosts} distinct outbound HTTP hosts; the rest are recorded as _OTHER`),
    );
    const boundError = boundedLabel('outbound HTTP error types', 50);
    // The preload's own requests (the trace exporter's) run with tracing suppressed, as the SDK's span
    // processors do for every export; without traces there is no such request, and no context to read.
    const own = telemetry.tracer ? () => isTracingSuppressed(context.active()) : () => false;

    const start = (request: Tagged, target: Target): void => {
      if (target.ignored || own()) return;
      request[kTarget] = target;
      request[kStart] = performance.now();
    };
    const finish = (request: Tagged, status: number | undefined, error: unknown, method: unknown): void => {
      const started = request[kStart];
      const target = request[kTarget];
      if (started === undefined || target === undefined) return;
      request[kStart] = undefined;
      try {
        const m = methodIndex(method);
        const attributes =
          status !== undefined && status >= 100 && status <= 599 ? responseAttributes(target, m, status) : errorAttributes(target, m, boundError(errorTypeOf(error)));
        duration.record((performance.now() - started) / 1000, attributes);
      } catch (failure) {
        ctx.log.once('http-client:record', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording an outbound HTTP request failed', { error: failure });
      }
    };

    const onNodeStart = (message: unknown): void => {
      const request = (message as { request: NodeRequest }).request;
      const header = request.getHeader?.('host');
      const authority = typeof header === 'string' ? header : request.host;
      if (typeof authority !== 'string') return;
      start(request, targets.forAuthority(request.protocol ?? 'http:', authority));
    };
    const onNodeResponse = (message: unknown): void => {
      const { request, response } = message as { request: NodeRequest; response: { statusCode?: number } };
      finish(request, response.statusCode, undefined, request.method);
    };
    const onNodeError = (message: unknown): void => {
      const { request, error } = message as { request: NodeRequest; error: unknown };
      finish(request, undefined, error, request.method);
    };
    const onUndiciCreate = (message: unknown): void => {
      const request = (message as { request: UndiciRequest }).request;
      const origin = request.origin;
      if (origin === undefined || origin === null) return;
      start(request, targets.forOrigin(typeof origin === 'string' ? origin : String(origin)));
    };
    const onUndiciHeaders = (message: unknown): void => {
      const { request, response } = message as { request: UndiciRequest; response: { statusCode?: number } };
      finish(request, response.statusCode, undefined, request.method);
    };
    const onUndiciError = (message: unknown): void => {
      const { request, error } = message as { request: UndiciRequest; error: unknown };
      finish(request, undefined, error, request.method);
    };

    const subscriptions: [string, (message: unknown) => void][] = [
      ['http.client.request.start', onNodeStart],
      ['http.client.response.finish', onNodeResponse],
      ['http.client.request.error', onNodeError],
      ['undici:request:create', onUndiciCreate],
      ['undici:request:headers', onUndiciHeaders],
      ['undici:request:error', onUndiciError],
    ];
    for (const [name, fn] of subscriptions) diagnostics.subscribe(name, fn);
    return () => {
      for (const [name, fn] of subscriptions) diagnostics.unsubscribe(name, fn);
    };
  },
});
