import diagnostics from 'node:diagnostics_channel';
import { normalizeRoute } from './route-template.js';
import { ROUTE_UNMATCHED } from './semconv.js';

interface FastifyRequestLike {
  raw?: object;
  is404?: boolean;
  routeOptions?: { url?: unknown };
  params?: unknown;
}
interface FastifyLike {
  addHook?: (name: 'onRequest', hook: (request: FastifyRequestLike, reply: unknown, done: () => void) => void) => unknown;
}

/**
 * Fastify knows its route before any hook runs (`request.routeOptions.url`), but its handler channel fires
 * only when the handler does: a request answered by an `onRequest`/`preHandler` hook or by schema validation
 * never reaches it. So each Fastify instance, as it is created (`fastify.initialization` channel), gets one
 * `onRequest` hook, ahead of the app's own, that hands the route (and the parsed route parameters, which
 * live on Fastify's request, not on the raw one) to `setRoute`. Hooks cannot be removed from Fastify: after
 * close the hook does nothing. Not-found requests (`is404`: the router ran and matched nothing) get
 * `ROUTE_UNMATCHED`.
 */
export function watchFastify(setRoute: (raw: object, route: string, params: unknown) => void, onError: (error: unknown) => void): () => void {
  let active = true;
  const onRequest = (request: FastifyRequestLike, _reply: unknown, done: () => void): void => {
    if (active && request.raw) {
      const url = request.routeOptions?.url;
      if (request.is404 === true) setRoute(request.raw, ROUTE_UNMATCHED, undefined);
      else if (typeof url === 'string') setRoute(request.raw, normalizeRoute(url), request.params);
    }
    done();
  };
  const onInit = (message: unknown): void => {
    try {
      (message as { fastify?: FastifyLike }).fastify?.addHook?.('onRequest', onRequest);
    } catch (error) {
      onError(error);
    }
  };
  // Fastify (and Nest on Fastify) publishes its matched route on this tracing channel: kept for instances
  // created before the preload ran.
  const onHandler = (message: unknown): void => {
    const { request, route } = message as { request?: FastifyRequestLike; route?: { url?: unknown } };
    const url = route?.url ?? request?.routeOptions?.url;
    if (request?.raw && typeof url === 'string') setRoute(request.raw, request.is404 === true ? ROUTE_UNMATCHED : normalizeRoute(url), request.params);
  };
  diagnostics.subscribe('fastify.initialization', onInit);
  diagnostics.subscribe('tracing:fastify.request.handler:start', onHandler);
  return () => {
    active = false;
    diagnostics.unsubscribe('fastify.initialization', onInit);
    diagnostics.unsubscribe('tracing:fastify.request.handler:start', onHandler);
  };
}
