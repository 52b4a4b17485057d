import http from 'node:http';
import https from 'node:https';
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
}): () => void {
  const protos = [http.Server.prototype, https.Server.prototype] as unknown as { emit: Emit }[];
  const originals = protos.map((proto) => proto.emit);
  const body = JSON.stringify({ error: 'Service Unavailable', reason: 'the server is shedding load to stay within its memory budget' });
  const notReady = JSON.stringify({ error: 'Service Unavailable', status: 'not ready', reason: 'the server is shedding load to stay within its memory budget; it is alive and will be ready again when memory eases' });
  protos.forEach((proto, i) => {
    const original = originals[i]!;
    proto.emit = function emit(this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'request' && options.isShedding() && !options.isOwnServer(this)) {
        const request = args[0] as IncomingMessage;
        const response = args[1] as ServerResponse;
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
      return original.call(this, event, ...args);
    };
  });
  return () => protos.forEach((proto, i) => void (proto.emit = originals[i]!));
}
