import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, get, root, scrape, startApp, sumSamples, waitFor, type App } from './helpers.js';

const script = path.join(root, 'test/fixtures/http-client-app.mjs');
const COUNT = 'http_client_request_duration_count';

/** The upstream the app calls: /ok answers 200, /fail 500; every request is counted here too. */
let upstream: http.Server;
let upstreamPort = 0;
const received: string[] = [];
beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    received.push(req.url ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.writeHead(req.url?.startsWith('/fail') ? 500 : 200).end('{}'));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => upstream.close(resolve)));

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function start(env: Record<string, string> = {}): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  app = await startApp({ script, env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  return { app, metricsPort };
}

async function call(app: App, via: 'fetch' | 'undici' | 'get', to: string): Promise<string> {
  return (await get(`${app.url}/${via}?to=${encodeURIComponent(to)}`)).body;
}

describe('outbound HTTP (http-client plugin)', () => {
  it('counts fetch and http.get requests by host, port, method and status; refused connections by error type', async () => {
    const { app, metricsPort } = await start();
    const refusedPort = await freePort();
    const ok = `http://127.0.0.1:${upstreamPort}/ok?token=secret-value`;
    const fail = `http://127.0.0.1:${upstreamPort}/fail/42`;
    const refused = `http://127.0.0.1:${refusedPort}/nothing`;
    for (let i = 0; i < 3; i++) expect(await call(app, 'fetch', ok)).toBe('200');
    expect(await call(app, 'fetch', fail)).toBe('500');
    expect(await call(app, 'fetch', refused)).toBe('ECONNREFUSED');
    for (let i = 0; i < 2; i++) expect(await call(app, 'get', ok)).toBe('200');
    expect(await call(app, 'get', fail)).toBe('500');
    expect(await call(app, 'get', refused)).toBe('ECONNREFUSED');

    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, COUNT) >= 9 ? l : undefined;
    });
    const at = { server_address: '127.0.0.1', server_port: String(upstreamPort), http_request_method: 'GET' };
    expect(sumSamples(lines, COUNT)).toBe(9);
    expect(sumSamples(lines, COUNT, { ...at, http_response_status_code: '200' })).toBe(5);
    expect(sumSamples(lines, COUNT, { ...at, http_response_status_code: '500', error_type: '500' })).toBe(2);
    expect(sumSamples(lines, COUNT, { server_address: '127.0.0.1', server_port: String(refusedPort), error_type: 'ECONNREFUSED' })).toBe(2);
    // A refused request has no status; a 200 has no error type.
    const refusedSeries = lines.filter((l) => l.startsWith(`${COUNT}{`) && l.includes(`server_port="${refusedPort}"`));
    expect(refusedSeries).toHaveLength(1);
    expect(refusedSeries[0]).not.toContain('http_response_status_code');
    expect(lines.find((l) => l.startsWith(`${COUNT}{`) && l.includes('http_response_status_code="200"'))).not.toContain('error_type');
    // Never a path or a query string.
    expect(lines.some((l) => /\/ok|\/fail|secret-value|\/nothing/.test(l))).toBe(false);
    // Buckets suited to clients: the first bound is 1 ms.
    expect(lines.some((l) => l.startsWith('http_client_request_duration_bucket{') && l.includes('le="0.001"'))).toBe(true);
    // The app's inbound requests are the http plugin's, not counted here twice.
    expect(sumSamples(lines, 'http_server_request_duration_count')).toBe(9);
  });

  it('counts the undici package’s own requests (its copy from npm, not the bundled one fetch uses) alike', async () => {
    const { app, metricsPort } = await start();
    const refusedPort = await freePort();
    for (let i = 0; i < 2; i++) expect(await call(app, 'undici', `http://127.0.0.1:${upstreamPort}/ok?token=secret-value`)).toBe('200');
    expect(await call(app, 'undici', `http://127.0.0.1:${upstreamPort}/fail/7`)).toBe('500');
    expect(await call(app, 'undici', `http://127.0.0.1:${refusedPort}/nothing`)).toBe('ECONNREFUSED');
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, COUNT) >= 4 ? l : undefined;
    });
    const at = { server_address: '127.0.0.1', server_port: String(upstreamPort), http_request_method: 'GET' };
    expect(sumSamples(lines, COUNT)).toBe(4);
    expect(sumSamples(lines, COUNT, { ...at, http_response_status_code: '200' })).toBe(2);
    expect(sumSamples(lines, COUNT, { ...at, http_response_status_code: '500', error_type: '500' })).toBe(1);
    expect(sumSamples(lines, COUNT, { server_address: '127.0.0.1', server_port: String(refusedPort), error_type: 'ECONNREFUSED' })).toBe(1);
    expect(lines.some((l) => /\/ok|\/fail|secret-value|\/nothing/.test(l))).toBe(false);
  });

  it('keeps hosts bounded: over maxHosts they are _OTHER, without a port', async () => {
    const { app, metricsPort } = await start({ PLANDEX_PERF_HTTP_CLIENT_MAX_HOSTS: '1', PLANDEX_PERF_HTTP_CLIENT_IGNORE_HOSTS: 'ignored.localhost' });
    expect(await call(app, 'fetch', `http://127.0.0.1:${upstreamPort}/ok`)).toBe('200');
    expect(await call(app, 'get', `http://localhost:${upstreamPort}/ok`)).toBe('200');
    expect(await call(app, 'fetch', `http://localhost:${upstreamPort}/ok`)).toBe('200');
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, COUNT) >= 3 ? l : undefined;
    });
    expect(sumSamples(lines, COUNT, { server_address: '127.0.0.1' })).toBe(1);
    expect(sumSamples(lines, COUNT, { server_address: '_OTHER' })).toBe(2);
    expect(lines.filter((l) => l.startsWith(`${COUNT}{`) && l.includes('server_address="_OTHER"')).every((l) => !l.includes('server_port'))).toBe(true);
    expect(app.stderr()).toContain('PPERF_WRN_002');
  });

  it('does not measure ignored hosts', async () => {
    const { app, metricsPort } = await start({ PLANDEX_PERF_HTTP_CLIENT_IGNORE_HOSTS: 'localhost' });
    expect(await call(app, 'fetch', `http://localhost:${upstreamPort}/ok`)).toBe('200');
    expect(await call(app, 'get', `http://LOCALHOST:${upstreamPort}/ok`)).toBe('200');
    expect(await call(app, 'get', `http://127.0.0.1:${upstreamPort}/ok`)).toBe('200');
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return sumSamples(l, COUNT) >= 1 ? l : undefined;
    });
    expect(sumSamples(lines, COUNT)).toBe(1);
    expect(sumSamples(lines, COUNT, { server_address: '127.0.0.1' })).toBe(1);
  });

  it('does not measure the preload’s own requests (the trace exporter’s)', async () => {
    const collected: string[] = [];
    const collector = http.createServer((req, res) => {
      collected.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const collectorPort = (collector.address() as AddressInfo).port;
    try {
      const { app, metricsPort } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_TRACES_SAMPLER_ARG: '1' });
      expect(await call(app, 'fetch', `http://127.0.0.1:${upstreamPort}/ok`)).toBe('200');
      expect(await call(app, 'get', `http://127.0.0.1:${upstreamPort}/ok`)).toBe('200');
      // The batch processor exports on its schedule (5 s unless OTEL_BSP_SCHEDULE_DELAY is honoured).
      await waitFor(() => collected.includes('/v1/traces'), 12_000);
      const lines = await scrape(metricsPort);
      expect(sumSamples(lines, COUNT, { server_port: String(upstreamPort) })).toBe(2);
      expect(sumSamples(lines, COUNT, { server_port: String(collectorPort) })).toBe(0);
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });

  it('is off with the plugin disabled: no series', async () => {
    const { app, metricsPort } = await start({ PLANDEX_PERF_DISABLE: 'http-client' });
    expect(await call(app, 'fetch', `http://127.0.0.1:${upstreamPort}/ok`)).toBe('200');
    const lines = await scrape(metricsPort);
    expect(lines.some((l) => l.startsWith('http_client_request_duration'))).toBe(false);
  });
});
