import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { requestScope, type HttpRequestScope } from '../../src/request-scope.js';
import { boundedLabel } from '../../src/bounded.js';
import { schema } from './schema.js';
import { RouteMatcher } from './routes.js';
import { ExpressRoutes, type ExpressRequest } from './express.js';
import { watchFastify } from './fastify.js';
import * as sc from './semconv.js';

interface ChannelMessage {
  request: IncomingMessage & ExpressRequest;
  response: ServerResponse;
  server: unknown;
}

const kStart = Symbol('plandex-perf.http.start');
const kRoute = Symbol('plandex-perf.http.route');
const kSpan = Symbol('plandex-perf.http.span');
const kScope = Symbol('plandex-perf.http.scope');
type Tagged = IncomingMessage & { [kStart]?: number; [kRoute]?: string; [kSpan]?: Span; [kScope]?: HttpRequestScope<IncomingMessage> };

/**
 * HTTP server metrics from Node's own diagnostics channels: no module patching, so ESM and CommonJS
 * hosts are measured alike, whatever framework sits on top. The route comes from the framework when it
 * knows one (Express's matched route and the routers it is mounted through, Fastify's `routeOptions.url`),
 * else from configured templates. See README.md for the route on each path.
 */
export default definePlugin({
  name: 'http',
  description: 'HTTP server request duration by method, status and route, from node:diagnostics_channel.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.use<Telemetry>('telemetry');
    const tracer = telemetry.tracer;
    const duration = telemetry.meter.createHistogram(sc.METRIC_HTTP_SERVER_REQUEST_DURATION, {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const matcher = new RouteMatcher(options.routes);
    const boundRoute = boundedLabel('routes', options.maxRoutes);
    const express = new ExpressRoutes();

    const routeOf = (request: ChannelMessage['request'] & Tagged): string | undefined => {
      const known = request[kRoute];
      if (known !== undefined) return known;
      let expressRoute: string | undefined;
      try {
        expressRoute = express.routeOf(request);
      } catch (error) {
        ctx.log.once('http:express', 'error', 'PPERF_ERR_INSTRUMENTATION', 'reading the Express route failed; the request is recorded without it', { error });
      }
      if (expressRoute !== undefined) return expressRoute;
      return (matcher.empty ? undefined : matcher.match(request.url ?? '/')) ?? sc.ROUTE_UNMATCHED;
    };

    const onStart = (message: unknown): void => {
      const { request, server } = message as ChannelMessage;
      if (telemetry.isOwnServer(server)) return;
      (request as Tagged)[kStart] = performance.now();
      if (requestScope.enabled) (request as Tagged)[kScope] = requestScope.open(request, routeOf);
      if (tracer) {
        const parent = propagation.extract(ROOT_CONTEXT, request.headers);
        const span = tracer.startSpan(
          methodOf(request.method),
          { kind: SpanKind.SERVER, attributes: { [sc.ATTR_HTTP_REQUEST_METHOD]: methodOf(request.method), 'url.path': (request.url ?? '/').split('?', 1)[0] } },
          parent,
        );
        (request as Tagged)[kSpan] = span;
        telemetry.enterContext(trace.setSpan(parent, span));
      }
    };

    const onFinish = (message: unknown): void => {
      const { request, response } = message as ChannelMessage;
      const tagged = request as Tagged;
      const started = tagged[kStart];
      if (started === undefined) return;
      try {
        const status = response.statusCode;
        const method = methodOf(request.method);
        const rawRoute = routeOf(request);
        const attributes: Attributes = {
          [sc.ATTR_HTTP_REQUEST_METHOD]: method,
          [sc.ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
          [sc.ATTR_URL_SCHEME]: (request.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http',
        };
        const route = rawRoute === undefined ? undefined : boundRoute(rawRoute);
        if (route !== undefined) attributes[sc.ATTR_HTTP_ROUTE] = route;
        if (status >= 500) attributes[sc.ATTR_ERROR_TYPE] = String(status);
        duration.record((performance.now() - started) / 1000, attributes);
        tagged[kScope]?.finish(route); // runs the end-of-request checks, then the scope lets go of the request
        const span = tagged[kSpan];
        if (span) {
          span.setAttributes(attributes);
          if (route !== undefined) span.updateName(`${method} ${route}`);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      } catch (error) {
        ctx.log.once('http:finish', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording an HTTP request failed', { error });
      }
    };

    const unwatchFastify = watchFastify(
      (raw, route) => void ((raw as Tagged)[kRoute] = route),
      (error) => ctx.log.once('http:fastify', 'error', 'PPERF_ERR_INSTRUMENTATION', 'could not add the route hook to a Fastify instance', { error }),
    );
    diagnostics.subscribe('http.server.request.start', onStart);
    diagnostics.subscribe('http.server.response.finish', onFinish);
    return () => {
      diagnostics.unsubscribe('http.server.request.start', onStart);
      diagnostics.unsubscribe('http.server.response.finish', onFinish);
      unwatchFastify();
    };
  },
});

function methodOf(method: string | undefined): string {
  return method !== undefined && sc.KNOWN_METHODS.has(method) ? method : '_OTHER';
}
