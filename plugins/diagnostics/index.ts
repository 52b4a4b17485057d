import type { IncomingMessage, ServerResponse } from 'node:http';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import type { HeapBudget } from '../heap-budget/index.js';
import type { CachePlugin } from '../cache/index.js';
import type { PgInstrumentation } from '../pg/index.js';
import { loopDelay } from '../../src/loop-delay.js';
import { decideAccess, failureKey, isTrustedCaller, shouldServe } from './access.js';
import { AuthFailureLog } from './auth-log.js';
import { WRN_AUTH_FAILED, WRN_NOT_SERVED } from './codes.js';
import { FailureLimiter } from './rate-limit.js';
import { sendJson, sendRetry } from './respond.js';
import { createHandlers, type Handler } from './routes.js';
import { GcStats, LoopStats } from './runtime-stats.js';
import { schema } from './schema.js';
import * as sc from './semconv.js';

/**
 * On-demand diagnostics on the metrics server: a CPU profile, a heap snapshot and a JSON snapshot of the
 * runtime. Nothing runs until asked, except a GC observer and an event-loop delay histogram for the
 * snapshot. Access: loopback on a loopback-bound server, a bearer token otherwise.
 */
export default definePlugin({
  name: 'diagnostics',
  description: 'On-demand CPU profile, heap snapshot and a JSON runtime snapshot on the metrics server (`/debug/*`), loopback or token only, rate-limited.',
  dependsOn: ['telemetry'],
  // Read per request for the snapshot, when they run; the order they bring is harmless.
  optionalDependsOn: ['heap-budget', 'pg', 'cache'],
  schema,
  // A snapshot needs ~8 × the used heap in extra memory (README): off where memory is that short.
  profileDefaults: (profile) => ({ heapSnapshot: !profile.constrained && profile.memoryBytes > 4 * 2 ** 30 }),
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const boundHost = telemetry.metricsHost;
    if (!shouldServe(boundHost, options.token)) {
      ctx.log.warn(WRN_NOT_SERVED, `diagnostics routes are not served: the metrics server listens on ${boundHost}, off loopback, and no token is set`, {
        fix: 'set PLANDEX_PERF_DIAGNOSTICS_TOKEN (16+ characters), or bind the metrics server to 127.0.0.1',
      });
      return;
    }

    const gc = new GcStats();
    gc.start();
    // One event-loop delay sampler for the process: heap-budget's when it runs (it starts before this
    // plugin: see the test on builtin order), else one of our own.
    const loop = new LoopStats(loopDelay.open());
    const inFlight = new Set<AbortController>();
    let closed = false;
    const requests = telemetry.meter.createCounter(sc.METRIC_DIAGNOSTICS_REQUESTS, { description: 'Requests to the diagnostics routes, by route and status.', unit: '{request}' });
    const authFailures = telemetry.meter.createCounter(sc.METRIC_DIAGNOSTICS_AUTH_FAILURES, {
      description: 'Requests refused for a missing or wrong token, or unchecked with 429 while their address backs off, by reason.',
      unit: '{request}',
    });
    const limiter = new FailureLimiter(options.authFailures, options.authBackoffSeconds * 1000);
    const failureLog = new AuthFailureLog((message, fields) => ctx.log.warn(WRN_AUTH_FAILED, message, fields));

    const handlers = createHandlers(ctx, options, {
      gc,
      loop,
      heapBudget: () => ctx.use<HeapBudget>('heap-budget'),
      pg: () => ctx.use<PgInstrumentation>('pg'),
      cache: () => ctx.use<CachePlugin>('cache'),
      runtimeInfo: () => ctx.runtimeInfo(),
    }, inFlight);

    const guarded = (route: sc.Route, handler: Handler) => (request: IncomingMessage, response: ServerResponse): void => {
      response.once('finish', () => requests.add(1, { [sc.ATTR_HTTP_ROUTE]: route, [sc.ATTR_HTTP_RESPONSE_STATUS_CODE]: response.statusCode }));
      if (closed) return sendJson(response, 503, { error: 'Service Unavailable', reason: 'shutting down' });
      if (request.method !== 'GET') return sendJson(response, 405, { error: 'Method Not Allowed', reason: 'use GET' }, { allow: 'GET' });
      const remoteAddress = request.socket.remoteAddress;
      // Callers let in without a token never fail, so never back off either.
      const key = isTrustedCaller(boundHost, remoteAddress) ? undefined : failureKey(remoteAddress);
      if (key !== undefined) {
        const backoff = limiter.check(key);
        if (!backoff.ok) {
          authFailures.add(1, { [sc.ATTR_AUTH_FAILURE_REASON]: 'backoff' });
          failureLog.record(key, 'backing off', true);
          return sendRetry(response, 429, `too many failed token checks from ${key}; wait before trying again`, backoff.retryAfterSeconds);
        }
      }
      const access = decideAccess({ boundHost, remoteAddress, token: options.token, authorization: request.headers.authorization });
      if (!access.allowed) {
        if (key !== undefined) limiter.fail(key);
        authFailures.add(1, { [sc.ATTR_AUTH_FAILURE_REASON]: access.denial });
        failureLog.record(key ?? 'unknown', access.reason, false);
        return sendJson(response, 401, { error: 'Unauthorized', reason: access.reason }, { 'www-authenticate': 'Bearer realm="plandex-perf diagnostics"' });
      }
      try {
        handler(request, response);
      } catch (error) {
        ctx.log.debug(`diagnostics route ${route} threw`, { error });
        sendJson(response, 500, { error: 'Internal Server Error', reason: error instanceof Error ? error.message : String(error) });
      }
    };

    const stop = (): void => {
      closed = true;
      for (const controller of inFlight) controller.abort();
      gc.stop();
      loop.stop();
      failureLog.flush();
    };
    for (const [route, handler] of handlers) {
      if (!telemetry.addRoute(route, guarded(route, handler))) {
        ctx.log.info('diagnostics routes are not served: no metrics server runs (OTEL_METRICS_EXPORTER=none)');
        stop();
        return;
      }
    }
    ctx.log.debug(`diagnostics at ${[...handlers.keys()].join(', ')} on the metrics server${options.token ? ' (token set)' : ' (loopback only)'}`);
    return stop;
  },
});
