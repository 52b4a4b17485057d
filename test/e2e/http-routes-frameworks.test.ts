import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, root, scrape, startApp, waitFor, type App } from './helpers.js';

// http.route on real Express 4 and 5 and Fastify 5 apps, started as a user starts them
// (`node --import <built package> app`): the matched template on every path, never a raw value.
const fixture = (name: string): string => path.join(root, 'test/fixtures', name);

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function start(script: string): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  app = await startApp({ script, env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) } });
  return { app, metricsPort };
}

type Request = [method: string, path: string, status: number];

async function send(app: App, requests: Request[]): Promise<void> {
  for (const [method, url, status] of requests) {
    const response = await fetch(`${app.url}${url}`, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
      body: method === 'POST' ? '{}' : undefined,
    });
    await response.arrayBuffer();
    expect(response.status, `${method} ${url}`).toBe(status);
  }
}

/** Every `http_server_request_duration_count` series as `METHOD status route` (`-` for no route) → count. */
function requestSeries(lines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) {
    if (!line.startsWith('http_server_request_duration_count{')) continue;
    const label = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1];
    const key = `${label('http_request_method')} ${label('http_response_status_code')} ${label('http_route') ?? '-'}`;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

async function seriesAfter(metricsPort: number, total: number): Promise<{ series: Record<string, number>; lines: string[] }> {
  const lines = await waitFor(async () => {
    const l = await scrape(metricsPort);
    return Object.values(requestSeries(l)).reduce((a, b) => a + b, 0) >= total ? l : undefined;
  });
  return { series: requestSeries(lines), lines };
}

const emails = ['ann@example.com', 'bob.smith@example.org', 'c%40example.net'];

function expressRequests(asyncRoutes: boolean): Request[] {
  return [
    ['GET', '/', 200],
    ['POST', '/api/v2/links', 400], // next(err) → the app's error handler, outside both routers
    ['GET', '/api/v2/links/lnk-81723', 200],
    ['GET', '/api/v2/boom', 500], // a synchronous throw
    ...(asyncRoutes ? [['GET', '/api/v2/async-boom', 500] as Request] : []), // a rejected promise
    ...emails.map((e): Request => ['GET', `/accounts/${e}/profile`, 200]),
    ['PUT', `/accounts/${emails[0]}/profile`, 400],
    ['GET', `/accounts/${emails[1]}/orders/9917`, 200],
    ['GET', `/accounts/${emails[1]}/orders/9917/`, 200],
    ['GET', `/accounts/${emails[2]}/orders/4410/lines/3`, 200],
    ['GET', '/users', 200],
    ['GET', '/users/', 200],
    ['GET', '/v1/items/it-1', 200],
    ['GET', '/legacy/items/it-2', 200],
    ['GET', '/about', 200],
    ['GET', '/about-us', 200],
    ['GET', '/r2024/info', 200],
    ['GET', `/nope/${emails[0]}`, 404],
  ];
}

function expressSeries(asyncRoutes: boolean): Record<string, number> {
  return {
    'GET 200 /': 1,
    'POST 400 /api/v2/links': 1,
    'GET 200 /api/v2/links/:linkId': 1,
    'GET 500 /api/v2/boom': 1,
    ...(asyncRoutes ? { 'GET 500 /api/v2/async-boom': 1 } : {}),
    'GET 200 /accounts/:email/profile': 3,
    'PUT 400 /accounts/:email/profile': 1,
    'GET 200 /accounts/:email/orders/:orderId': 2,
    'GET 200 /accounts/:email/orders/:orderId/lines/:line': 1,
    'GET 200 /users': 2,
    'GET 200 /v1/items/:itemId': 1,
    'GET 200 /legacy/items/:itemId': 1,
    'GET 200 /about': 1,
    'GET 200 /about-us': 1,
    'GET 200 /{regexp}/info': 1,
    'GET 404 _UNMATCHED': 1,
  };
}

/** The label sets of every sample (sample values and numbers like a pid could contain any digits). */
function labelText(lines: string[]): string {
  return lines.map((line) => /\{.*\}/.exec(line)?.[0] ?? '').join('\n');
}

/** No value from a request path may reach a label: e-mails, ids, the regexp mount's match. */
function expectNoRawValues(lines: string[]): void {
  const text = labelText(lines);
  // (`@` itself appears in the scope name, `@plandex-perf/register`.)
  for (const raw of [...emails, 'example.', 'c%40', 'lnk-81723', '9917', '4410', 'it-1', 'it-2', 'r2024', '/nope']) {
    expect(text, raw).not.toContain(raw);
  }
}

describe.each([
  { name: 'Express 4 (CommonJS)', script: 'express4-routes-server.cjs', asyncRoutes: false },
  { name: 'Express 5 (ESM)', script: 'express5-routes-server.mjs', asyncRoutes: true },
])('http.route on $name', ({ script, asyncRoutes }) => {
  it('is the matched template on normal, next(err), thrown, rejected and 404 paths, through nested and parameterised mounts', async () => {
    const { app, metricsPort } = await start(fixture(script));
    const requests = expressRequests(asyncRoutes);
    await send(app, requests);
    const { series, lines } = await seriesAfter(metricsPort, requests.length);
    expect(series).toEqual(expressSeries(asyncRoutes));
    expectNoRawValues(lines);
  });

  it('keeps one series for a parameterised mount under many distinct values', async () => {
    const { app, metricsPort } = await start(fixture(script));
    const requests = Array.from({ length: 150 }, (_, i): Request => ['GET', `/accounts/user${i}@example.com/profile`, 200]);
    await send(app, requests);
    const { series, lines } = await seriesAfter(metricsPort, requests.length);
    expect(series).toEqual({ 'GET 200 /accounts/:email/profile': 150 });
    expect(labelText(lines)).not.toContain('example.com');
    expect(app.stderr()).not.toContain('PPERF_WRN_002');
  });
});

describe('http.route on Fastify 5 (CommonJS)', () => {
  it('is the route when a hook or schema validation answers, and _UNMATCHED for 404', async () => {
    const { app, metricsPort } = await start(fixture('fastify-routes-server.cjs'));
    const requests: Request[] = [
      ['GET', `/private/${emails[0]}`, 401], // onRequest hook
      ['GET', `/private/${emails[1]}`, 401],
      ['POST', '/links', 400], // body schema
      ['GET', '/api/orders/9917', 200],
      ['GET', '/api/orders/locked', 423], // preHandler hook under a prefix
      ['GET', `/nope/${emails[0]}`, 404],
    ];
    await send(app, requests);
    const { series, lines } = await seriesAfter(metricsPort, requests.length);
    expect(series).toEqual({
      'GET 401 /private/:email': 2,
      'POST 400 /links': 1,
      'GET 200 /api/orders/:orderId': 1,
      'GET 423 /api/orders/:orderId': 1,
      'GET 404 _UNMATCHED': 1,
    });
    const text = labelText(lines);
    for (const raw of [...emails, 'example.', '9917', 'locked', '/nope']) expect(text, raw).not.toContain(raw);
  });

  it('gives the route parameter of a hook-answered request to an attribute (params from the Fastify request)', async () => {
    const metricsPort = await freePort();
    app = await startApp({
      script: fixture('fastify-routes-server.cjs'),
      env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_HTTP_ATTRIBUTES: 'app.order=param:orderId' },
    });
    await send(app, [
      ['GET', '/api/orders/9917', 200],
      ['GET', '/api/orders/locked', 423],
      ['GET', '/nope', 404],
    ]);
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return Object.values(requestSeries(l)).reduce((a, b) => a + b, 0) >= 3 ? l : undefined;
    });
    const orders = lines.filter((l) => l.startsWith('http_server_request_duration_count{')).map((l) => `${/http_route="([^"]*)"/.exec(l)?.[1]} ${/app_order="([^"]*)"/.exec(l)?.[1] ?? '-'}`);
    expect(orders.sort()).toEqual(['/api/orders/:orderId 9917', '/api/orders/:orderId locked', '_UNMATCHED -']);
  });
});
