import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { log } from '../log.js';

/**
 * Our own small server for the Prometheus endpoint, instead of the exporter's: it is unref'd (a host
 * that would exit is never kept alive by it), its sockets are unref'd too, and a taken port is a coded
 * log line rather than an error event nobody listens to.
 */
export type RouteHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export function startMetricsServer(
  exporter: PrometheusExporter,
  options: { host: string; port: number; path: string },
): { server: http.Server; close: () => Promise<void>; addRoute: (path: string, handler: RouteHandler) => void } {
  const routes = new Map<string, RouteHandler>();
  const server = http.createServer((request, response) => {
    const pathname = (request.url ?? '/').split('?', 1)[0] ?? '/';
    if (request.method === 'GET' && pathname === options.path) {
      exporter.getMetricsRequestHandler(request, response);
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
  server.on('error', (error: NodeJS.ErrnoException) => {
    const where = `${options.host}:${options.port}`;
    if (error.code === 'EADDRINUSE') {
      log.error('PPERF_ERR_METRICS_PORT_IN_USE', `metrics endpoint ${where} is in use; metrics are not served, the host runs on`);
    } else {
      log.error('PPERF_ERR_METRICS_LISTEN', `metrics endpoint ${where} failed to listen`, { error });
    }
  });
  server.listen(options.port, options.host, () => {
    const { port } = server.address() as AddressInfo;
    log.info(`metrics at http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}${options.path}`);
  });
  server.unref();
  return {
    server,
    addRoute: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
