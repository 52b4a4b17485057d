import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, root, scrape, startApp, startOtlpCollector, sumSamples, waitFor, type App, type OtlpSpan } from './helpers.js';

// The http plugin's excluded paths, unmatched bucket and extra attributes, on a real Express 5 app and a
// plain node:http app started as a user starts them (`node --import <built package> app`).
const expressApp = path.join(root, 'test/fixtures/http-options-express.mjs');
const plainApp = path.join(root, 'test/fixtures/http-options-plain.mjs');

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

async function start(script: string, env: Record<string, string>): Promise<{ app: App; metricsPort: number }> {
  const metricsPort = await freePort();
  app = await startApp({ script, env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), ...env } });
  return { app, metricsPort };
}

async function send(app: App, requests: [path: string, status: number, headers?: Record<string, string>][]): Promise<void> {
  for (const [url, status, headers] of requests) {
    const response = await fetch(`${app.url}${url}`, { headers });
    await response.arrayBuffer();
    expect(response.status, url).toBe(status);
  }
}

/** `http_server_request_duration_count` series keyed by the chosen labels (`-` when absent) → count. */
function series(lines: string[], labels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) {
    if (!line.startsWith('http_server_request_duration_count{')) continue;
    const key = labels.map((name) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '-').join(' ');
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** Scrapes until `total` requests are recorded (and `excluded` counted), then one more time. */
async function linesAfter(metricsPort: number, total: number, excluded = 0): Promise<string[]> {
  return waitFor(async () => {
    const lines = await scrape(metricsPort);
    const recorded = sumSamples(lines, 'http_server_request_duration_count');
    return recorded >= total && sumSamples(lines, 'http_server_excluded_requests_total') >= excluded ? lines : undefined;
  });
}

const healthChecks: [string, number][] = [
  ['/health', 200],
  ['/health?probe=k8s', 200],
  ['/ready/db', 200],
];

describe.each([
  { name: 'Express 5', script: expressApp, order: '/t/:tenant/orders/:orderId' },
  { name: 'plain node:http', script: plainApp, order: '-' },
])('excluded paths on $name', ({ script, order }) => {
  it('leave no series, and are counted in one series without attributes', async () => {
    const { app, metricsPort } = await start(script, { PLANDEX_PERF_HTTP_EXCLUDE: '/health,/ready' });
    await send(app, [...healthChecks, ['/healthz', 404], ['/t/acme/orders/1', 200]]);
    const lines = await linesAfter(metricsPort, 2, 3);
    expect(series(lines, ['http_response_status_code', 'http_route'])).toEqual({ [`404 ${order === '-' ? '-' : '_UNMATCHED'}`]: 1, [`200 ${order}`]: 1 });
    const excluded = lines.filter((l) => l.startsWith('http_server_excluded_requests_total'));
    expect(excluded).toHaveLength(1);
    expect(excluded[0]).toMatch(/^http_server_excluded_requests_total(\{otel_scope_name="[^"]+"(,otel_scope_version="[^"]*")?\})? 3$/);
  });

  it('leave no trace at all with countExcluded off', async () => {
    const { app, metricsPort } = await start(script, { PLANDEX_PERF_HTTP_EXCLUDE: '/health,/ready', PLANDEX_PERF_HTTP_COUNT_EXCLUDED: 'false' });
    await send(app, [...healthChecks, ['/t/acme/orders/1', 200]]);
    const lines = await linesAfter(metricsPort, 1);
    expect(series(lines, ['http_route'])).toEqual({ [order]: 1 });
    expect(lines.join('\n')).not.toContain('excluded');
  });
});

describe.each([
  { name: 'Express 5', script: expressApp, order: '/t/:tenant/orders/:orderId' },
  { name: 'plain node:http', script: plainApp, order: '-' },
])('excluded patterns on $name', ({ script, order }) => {
  const assets: [string, number][] = [
    ['/site.css', 404],
    ['/a/b/theme.css?v=3', 404],
    ['/static/app.js', 404],
    ['/static/js/vendor.js', 404],
  ];
  // Not excluded: a prefix is not a suffix, and `/static/*.js` needs both its ends.
  const kept: [string, number][] = [
    ['/site.css.map', 404],
    ['/static/app.json', 404],
    ['/t/acme/orders/1', 200],
  ];
  const check = async (app: App, metricsPort: number) => {
    await send(app, [...healthChecks, ...assets, ...kept]);
    const lines = await linesAfter(metricsPort, kept.length, healthChecks.length + assets.length);
    const unmatched = order === '-' ? '-' : '_UNMATCHED';
    expect(series(lines, ['http_response_status_code', 'http_route'])).toEqual({ [`404 ${unmatched}`]: 2, [`200 ${order}`]: 1 });
    expect(sumSamples(lines, 'http_server_excluded_requests_total')).toBe(healthChecks.length + assets.length);
  };

  it('PLANDEX_PERF_HTTP_EXCLUDE takes `*.css` and `/static/*.js` next to prefixes', async () => {
    const { app, metricsPort } = await start(script, { PLANDEX_PERF_HTTP_EXCLUDE: '/health,/ready,*.css,/static/*.js' });
    await check(app, metricsPort);
    expect(app.stderr()).not.toContain('PPERF_ERR_CONFIG');
  });

  it('the config file takes them too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-exclude-'));
    try {
      const config = path.join(dir, 'plandex-perf.config.json');
      fs.writeFileSync(config, JSON.stringify({ http: { exclude: ['/health', '/ready', '*.css', '/static/*.js'] } }));
      const { app, metricsPort } = await start(script, { PLANDEX_PERF_CONFIG: config });
      await check(app, metricsPort);
      expect(app.stderr()).not.toContain('PPERF_ERR_CONFIG');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the unmatched bucket', () => {
  it('holds the requests Express matched to no route, and stays one series however many paths', async () => {
    const { app, metricsPort } = await start(expressApp, { PLANDEX_PERF_HTTP_MAX_ROUTES: '1' });
    const probes = ['/wp-login.php', '/.env', '/admin/config.php', '/nope/ann@example.com'];
    await send(app, [['/t/acme/orders/1', 200], ['/health', 200], ...probes.map((p): [string, number] => [p, 404])]);
    const lines = await linesAfter(metricsPort, 2 + probes.length);
    // maxRoutes 1: /health is over the bound, the unmatched bucket is not.
    expect(series(lines, ['http_response_status_code', 'http_route'])).toEqual({ '200 /t/:tenant/orders/:orderId': 1, '200 _OTHER': 1, '404 _UNMATCHED': 4 });
    for (const probe of ['wp-login', '.env', 'admin', 'example.com']) expect(lines.join('\n')).not.toContain(probe);
  });

  it('holds the requests no template matched on a plain node:http server with http.routes set', async () => {
    const { app, metricsPort } = await start(plainApp, { PLANDEX_PERF_HTTP_ROUTES: '/t/:tenant/orders/:orderId', PLANDEX_PERF_HTTP_MAX_ROUTES: '1' });
    await send(app, [['/t/acme/orders/1', 200], ['/wp-login.php', 404], ['/.env', 404], ['/health', 200]]);
    const lines = await linesAfter(metricsPort, 4);
    expect(series(lines, ['http_response_status_code', 'http_route'])).toEqual({ '200 /t/:tenant/orders/:orderId': 1, '404 _UNMATCHED': 2, '200 _UNMATCHED': 1 });
    for (const probe of ['wp-login', '.env', 'health']) expect(lines.join('\n')).not.toContain(probe);
  });

  it('is not used on a plain node:http server without route templates: no http.route', async () => {
    const { app, metricsPort } = await start(plainApp, {});
    await send(app, [['/t/acme/orders/1', 200], ['/wp-login.php', 404]]);
    const lines = await linesAfter(metricsPort, 2);
    expect(series(lines, ['http_response_status_code', 'http_route'])).toEqual({ '200 -': 1, '404 -': 1 });
    expect(lines.join('\n')).not.toContain('_UNMATCHED');
  });
});

describe.each<{ name: string; script: string; env: Record<string, string> }>([
  { name: 'Express 5', script: expressApp, env: {} },
  { name: 'plain node:http', script: plainApp, env: { PLANDEX_PERF_HTTP_ROUTES: '/t/:tenant/orders/:orderId' } },
])('tenant attributes on $name', ({ script, env }) => {
  it('are the header and route parameter values up to the cap, _OTHER beyond, absent without a value', async () => {
    const { app, metricsPort } = await start(script, {
      ...env,
      PLANDEX_PERF_HTTP_ATTRIBUTES: 'tenant.id=header:X-Tenant-Id,app.tenant=param:tenant',
      PLANDEX_PERF_HTTP_MAX_ATTRIBUTE_VALUES: '3',
    });
    const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
    await send(app, [
      ...tenants.map((t): [string, number, Record<string, string>] => [`/t/${t}/orders/1`, 200, { 'x-tenant-id': t }]),
      ['/t/acme/orders/2', 200, { 'x-tenant-id': 'acme' }],
      ['/t/acme/orders/3', 200], // no header: no tenant.id
    ]);
    const lines = await linesAfter(metricsPort, tenants.length + 2);
    expect(series(lines, ['tenant_id', 'app_tenant'])).toEqual({
      'acme acme': 2,
      'globex globex': 1,
      'initech initech': 1,
      '_OTHER _OTHER': 2,
      '- acme': 1,
    });
    expect(app.stderr()).toContain('PPERF_WRN_002');
  });

  it('free the place of a value quiet for the stale-series time: a later tenant gets its own label', async () => {
    const { app, metricsPort } = await start(script, {
      ...env,
      PLANDEX_PERF_HTTP_ATTRIBUTES: 'tenant.id=header:x-tenant-id',
      PLANDEX_PERF_HTTP_MAX_ATTRIBUTE_VALUES: '1',
      PLANDEX_PERF_TELEMETRY_STALE_SERIES_AFTER_MS: '1000',
    });
    await send(app, [
      ['/t/acme/orders/1', 200, { 'x-tenant-id': 'acme' }],
      ['/t/acme/orders/1', 200, { 'x-tenant-id': 'globex' }], // the bound is full
    ]);
    expect(series(await linesAfter(metricsPort, 2), ['tenant_id'])).toEqual({ acme: 1, _OTHER: 1 });
    // Once acme's series has gone stale (it leaves /metrics), its place is free.
    await waitFor(async () => !(await scrape(metricsPort)).some((l) => l.includes('tenant_id="acme"')), 10_000);
    await send(app, [['/t/acme/orders/1', 200, { 'x-tenant-id': 'globex' }]]);
    const lines = await waitFor(async () => {
      const l = await scrape(metricsPort);
      return l.some((line) => line.includes('tenant_id="globex"')) ? l : undefined;
    });
    expect(series(lines, ['tenant_id']).globex).toBe(1);
  }, 20_000);

  it('are off by default: no header or parameter value reaches a label', async () => {
    const { app, metricsPort } = await start(script, env);
    await send(app, [['/t/acme/orders/1', 200, { 'x-tenant-id': 'globex' }]]);
    const lines = await linesAfter(metricsPort, 1);
    const labels = lines.map((line) => /\{.*\}/.exec(line)?.[0] ?? '').join('\n');
    expect(labels).not.toContain('acme');
    expect(labels).not.toContain('globex');
  });
});

describe('OTEL_EXCLUDED_HTTP_URLS', () => {
  it('is not read, and says so with PPERF_WRN_060', async () => {
    const { app, metricsPort } = await start(plainApp, { OTEL_EXCLUDED_HTTP_URLS: '/health' });
    await send(app, [['/health', 200]]);
    const lines = await linesAfter(metricsPort, 1);
    expect(sumSamples(lines, 'http_server_request_duration_count')).toBe(1);
    expect(app.stderr()).toContain('PPERF_WRN_060');
  });
});

describe('spans', () => {
  it('none for an excluded path; the extra attributes and the unmatched route on the others', async () => {
    const collector = await startOtlpCollector();
    const { spans } = collector;
    try {
      const { app } = await start(expressApp, {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_TRACES_SAMPLER_ARG: '1',
        PLANDEX_PERF_HTTP_EXCLUDE: '/health',
        PLANDEX_PERF_HTTP_ATTRIBUTES: 'tenant.id=header:x-tenant-id',
      });
      await send(app, [['/health', 200], ['/t/acme/orders/1', 200, { 'x-tenant-id': 'acme' }], ['/wp-login.php', 404]]);
      app.child.kill('SIGTERM'); // flushes the spans
      await app.exited;
      await waitFor(() => spans.filter((s) => s.kind === 2).length >= 2);
      const server = spans.filter((s) => s.kind === 2);
      const attr = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value.stringValue;
      const seen = server.map((s) => [s.name, attr(s, 'http.route'), attr(s, 'tenant.id'), attr(s, 'url.path')]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      expect(seen).toEqual([
        ['GET', '_UNMATCHED', undefined, '/wp-login.php'],
        ['GET /t/:tenant/orders/:orderId', '/t/:tenant/orders/:orderId', 'acme', '/t/acme/orders/1'],
      ]);
    } finally {
      await collector.close();
    }
  });
});
