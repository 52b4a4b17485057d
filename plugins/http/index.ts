import { performance } from 'node:perf_hooks';
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { requestScope, type HttpRequestScope } from '../../src/request-scope.js';
import { boundedLabel } from '../../src/bounded.js';
import { pathPatternMatcher } from '../../src/paths.js';
import { AttributeSets } from '../../src/attribute-sets.js';
import { schema } from './schema.js';
import { RouteMatcher } from './routes.js';
import { ExpressRoutes, expressHandled, type ExpressRequest } from './express.js';
import { RequestAttributes, parseAttributeSpecs } from './attributes.js';
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
const kParams = Symbol('plandex-perf.http.params');
type Tagged = IncomingMessage & { [kStart]?: number; [kRoute]?: string; [kSpan]?: Span; [kScope]?: HttpRequestScope<IncomingMessage>; [kParams]?: unknown };

/**
 * HTTP server metrics from Node's own diagnostics channels: no module patching, so ESM and CommonJS
 * hosts are measured alike, whatever framework sits on top. The route comes from the framework when it
 * knows one (Express's matched route and the routers it is mounted through, Fastify's `routeOptions.url`),
 * else from configured templates. See README.md for the route on each path, excluded paths, the unmatched
 * bucket and the extra attributes.
 */
export default definePlugin({
  name: 'http',
  description: 'HTTP server request duration by method, status and route, from node:diagnostics_channel.',
  dependsOn: ['telemetry'],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const tracer = telemetry.tracer;
    const duration = telemetry.meter.createHistogram(sc.METRIC_HTTP_SERVER_REQUEST_DURATION, {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const matcher = new RouteMatcher(options.routes);
    const boundRoute = boundedLabel('routes', options.maxRoutes);
    const express = new ExpressRoutes();
    const isExcluded = options.exclude.length > 0 ? pathPatternMatcher(options.exclude) : undefined;
    const excludedRequests =
      isExcluded && options.countExcluded
        ? telemetry.meter.createCounter(sc.METRIC_HTTP_SERVER_EXCLUDED_REQUESTS, { description: 'HTTP server requests left out of the metrics and traces by http.exclude.', unit: '{request}' })
        : undefined;
    // A tenant gone quiet for the stale-series time has left /metrics; its place goes to the next one.
    const extra = new RequestAttributes(parseAttributeSpecs(options.attributes), options.maxAttributeValues, { forgetAfterMs: telemetry.staleSeriesAfterMs });
    if (process.env.OTEL_EXCLUDED_HTTP_URLS !== undefined) {
      ctx.log.once('http:otel-excluded', 'warn', 'PPERF_WRN_060', 'OTEL_EXCLUDED_HTTP_URLS is not read (not in the OpenTelemetry specification); set PLANDEX_PERF_HTTP_EXCLUDE instead');
    }

    /**
     * `final`: the response has finished, so a framework's router that found no route has had its chance
     * and the request is `ROUTE_UNMATCHED`; during the request (the request scope's `route()`) it may yet.
     * Configured templates are the route list of a server without a router: a request none matches is
     * unmatched too, so scanners on a plain `node:http` server stay one bounded, visible series.
     */
    const routeOf = (request: ChannelMessage['request'] & Tagged, final: boolean): string | undefined => {
      const known = request[kRoute];
      if (known !== undefined) return known;
      let expressRoute: string | undefined;
      try {
        expressRoute = express.routeOf(request);
      } catch (error) {
        ctx.log.once('http:express', 'error', 'PPERF_ERR_INSTRUMENTATION', 'reading the Express route failed; the request is recorded without it', { error });
      }
      if (expressRoute !== undefined) return expressRoute;
      const template = matcher.empty ? undefined : matcher.match(request.url ?? '/');
      if (template !== undefined) return template;
      return final && (!matcher.empty || expressHandled(request)) ? sc.ROUTE_UNMATCHED : undefined;
    };
    const currentRoute = (request: ChannelMessage['request'] & Tagged): string | undefined => routeOf(request, false);

    /** A route parameter: Fastify's (kept by its hook), Express's `req.params`, else from the matched template. */
    const paramOf = (request: ChannelMessage['request'] & Tagged, route: string | undefined, name: string): unknown => {
      const params = request[kParams] ?? request.params;
      if (params !== null && typeof params === 'object') return Object.hasOwn(params, name) ? (params as Record<string, unknown>)[name] : undefined;
      return route === undefined ? undefined : matcher.param(route, request.url ?? '/', name);
    };

    // One frozen object per route, method, status and scheme: hashed once by the metrics SDK (src/attribute-sets.ts).
    const attributeSets = new AttributeSets(requestAttributes);

    const onStart = (message: unknown): void => {
      const { request, server } = message as ChannelMessage;
      if (telemetry.isOwnServer(server)) return;
      if (isExcluded?.(request.url ?? '/')) {
        excludedRequests?.add(1);
        return;
      }
      (request as Tagged)[kStart] = performance.now();
      if (requestScope.enabled) (request as Tagged)[kScope] = requestScope.open(request, currentRoute);
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
        const rawRoute = routeOf(request, true);
        const scheme = (request.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
        // The unmatched bucket takes no place among the bounded routes: it must stay visible past the bound.
        const route = rawRoute === undefined || rawRoute === sc.ROUTE_UNMATCHED ? rawRoute : boundRoute(rawRoute);
        let attributes: Attributes;
        if (extra.empty) {
          attributes = attributeSets.get(route, method, status, scheme);
        } else {
          attributes = requestAttributes(route, method, status, scheme);
          extra.read({ headers: request.headers, param: (name) => paramOf(tagged, rawRoute, name) }, attributes);
        }
        duration.record((performance.now() - started) / 1000, attributes);
        tagged[kScope]?.finish(route); // runs the end-of-request checks, then the scope lets go of the request
        const span = tagged[kSpan];
        if (span) {
          span.setAttributes(attributes);
          // The conventions name a span `{method} {http.route}` for a real template only: unmatched stays `{method}`.
          if (route !== undefined && route !== sc.ROUTE_UNMATCHED) span.updateName(`${method} ${route}`);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      } catch (error) {
        ctx.log.once('http:finish', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording an HTTP request failed', { error });
      }
    };

    const unwatchFastify = watchFastify(
      (raw, route, params) => {
        (raw as Tagged)[kRoute] = route;
        if (extra.usesParams && params !== undefined) (raw as Tagged)[kParams] = params;
      },
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

/** The attributes of one finished request, without the configured extra ones. */
function requestAttributes(route: string | undefined, method: string, status: number, scheme: string): Attributes {
  const attributes: Attributes = {
    [sc.ATTR_HTTP_REQUEST_METHOD]: method,
    [sc.ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
    [sc.ATTR_URL_SCHEME]: scheme,
  };
  if (route !== undefined) attributes[sc.ATTR_HTTP_ROUTE] = route;
  if (status >= 500) attributes[sc.ATTR_ERROR_TYPE] = String(status);
  return attributes;
}

function methodOf(method: string | undefined): string {
  return method !== undefined && sc.KNOWN_METHODS.has(method) ? method : sc.OTHER;
}
