import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Load shedding without touching the app: while `isShedding()` is true, a new request is answered with
 * 503 and `Retry-After` before the app's 'request' listener sees it. In-flight requests are left alone;
 * exempt paths (liveness checks) and the preload's own servers always pass.
 *
 * Readiness paths are the opposite of exempt: while shedding they answer 503 "not ready" themselves, so
 * a load balancer takes the host out of rotation instead of sending it traffic it can only refuse (the
 * host's own readiness handler would say "ready": it knows nothing of the budget). Otherwise they reach
 * the app untouched.
 */
export function installShedder(options: {
  isShedding: () => boolean;
  isExempt: (url: string) => boolean;
  isReadiness: (url: string) => boolean;
  isOwnServer: (server: unknown) => boolean;
  retryAfterSeconds: number;
  onShed: () => void;
  /** Hands over the https module once the host loads it (PluginContext.onBuiltinLoad); its servers are shed alike. */
  onHttps?: (fn: (https: unknown) => void) => void;
}): () => void {
  const patched: { proto: { emit: Emit }; original: Emit }[] = [];
  let removed = false;
  const body = JSON.stringify({ error: 'Service Unavailable', reason: 'the server is shedding load to stay within its memory budget' });
  const notReady = JSON.stringify({ error: 'Service Unavailable', status: 'not ready', reason: 'the server is shedding load to stay within its memory budget; it is alive and will be ready again when memory eases' });
  const install = (proto: { emit: Emit }): void => {
    if (removed) return;
    const original = proto.emit;
    patched.push({ proto, original });
    proto.emit = function emit(this: unknown, event: string | symbol): boolean {
      if (event === 'request' && options.isShedding() && !options.isOwnServer(this)) {
        const request = arguments[1] as IncomingMessage;
        const response = arguments[2] as ServerResponse;
        const url = request.url ?? '/';
        const readiness = options.isReadiness(url);
        if (readiness || !options.isExempt(url)) {
          try {
            const text = readiness ? notReady : body;
            response.writeHead(503, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(text),
              'retry-after': String(options.retryAfterSeconds),
            });
            response.end(text);
            request.resume(); // drain any body so the connection can be reused
            options.onShed();
            return true;
          } catch {
            // If answering fails, hand the request to the app as if nothing happened.
          }
        }
      }
      // `arguments`, not a rest parameter: every event of every server passes here, and this allocates nothing.
      // biome-ignore lint/complexity/noArguments: see above
      return original.apply(this, arguments as unknown as Parameters<Emit>);
    };
  };
  install(http.Server.prototype as unknown as { emit: Emit });
  options.onHttps?.((https) => install((https as typeof import('node:https')).Server.prototype as unknown as { emit: Emit }));
  return () => {
    removed = true;
    for (const { proto, original } of patched.splice(0)) proto.emit = original;
  };
}
