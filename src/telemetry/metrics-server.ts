import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HEADER_PROCESS } from './semconv.js';

/**
 * Our own small server for the Prometheus endpoint, instead of the exporter's: it is unref'd (a host
 * that would exit is never kept alive by it), its sockets are unref'd too, and listening is a result to
 * act on (lead, follow, or log a coded line) rather than an error event nobody listens to.
 */
export type RouteHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface MetricsServer {
  server: http.Server;
  addRoute(path: string, handler: RouteHandler): void;
  /**
   * Listens with `exclusive: true`: a `node:cluster` worker binds by itself instead of sharing its
   * primary's handle, so exactly one process of a cluster (the leader) holds the port.
   */
  listen(): Promise<{ ok: true; port: number } | { ok: false; error: NodeJS.ErrnoException }>;
  /** Set by the leader: the cluster handshake arrives as an HTTP Upgrade on this same port. */
  onUpgrade: ((request: http.IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  close(): Promise<void>;
}

export function createMetricsServer(options: {
  host: string;
  port: number;
  path: string;
  /** This scrape, serialised in the format the `Accept` header asks for (when it can be served). */
  render: (accept: string | undefined) => Promise<{ body: string; contentType: string; varies?: boolean }>;
  /** Value of the `x-plandex-perf-process` header: which process answered (and, for /debug, was profiled). */
  describeProcess: () => string;
}): MetricsServer {
  const routes = new Map<string, RouteHandler>();
  const server = http.createServer((request, response) => {
    const pathname = (request.url ?? '/').split('?', 1)[0] ?? '/';
    response.setHeader(HEADER_PROCESS, options.describeProcess());
    if (request.method === 'GET' && pathname === options.path) {
      options.render(request.headers.accept).then(
        ({ body, contentType, varies }) => {
          // Only while the format depends on Accept (exemplars on), so the plain answer stays as it was.
          response.writeHead(200, varies ? { 'content-type': contentType, vary: 'accept' } : { 'content-type': contentType });
          response.end(body);
        },
        (error: unknown) => {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end(`# failed to export metrics: ${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
      return;
    }
    const handler = routes.get(pathname);
    if (handler) {
      try {
        handler(request, response);
      } catch (error) {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
      }
      return;
    }
    response.statusCode = 404;
    response.end(`Not found. Metrics are at ${options.path}\n`);
  });
  server.on('connection', (socket) => socket.unref());
  const metrics: MetricsServer = {
    server,
    onUpgrade: undefined,
    addRoute: (path, handler) => void routes.set(path, handler),
    listen: () =>
      new Promise((resolve) => {
        const onError = (error: NodeJS.ErrnoException): void => {
          server.removeListener('listening', onListening);
          resolve({ ok: false, error });
        };
        const onListening = (): void => {
          server.removeListener('error', onError);
          resolve({ ok: true, port: (server.address() as AddressInfo).port });
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen({ port: options.port, host: options.host, exclusive: true });
        server.unref();
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (metrics.onUpgrade) metrics.onUpgrade(request, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  // A late error (after listening) must not become an uncaught 'error' event in the host.
  server.on('error', () => {});
  return metrics;
}
