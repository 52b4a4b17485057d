import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { prometheusMissing, promtoolCheckMetrics, promtoolMissing, startPrometheus } from '../integration/prometheus.js';
import { freePort, root, startApp, sumSamples, waitFor, type App } from './helpers.js';
import { waitForProcesses } from './cluster-helpers.js';

/**
 * Items 3, 7 and 8 of issue #15 as a user sees them: custom histogram buckets from the environment,
 * OpenMetrics exemplars while traces are on (and the Prometheus text unchanged), stale series dropped.
 */
const plainApp = path.join(root, 'test/fixtures/plain-server.mjs');
const OM = 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const DURATION = 'http_server_request_duration';

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

/** A stand-in OTLP/HTTP collector, so that traces are on and their export succeeds. */
let collector: http.Server;
let collectorUrl = '';
beforeAll(async () => {
  collector = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => collector.close(resolve)));

async function start(env: Record<string, string>) {
  const metricsPort = await freePort();
  app = await startApp({ script: plainApp, env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_HTTP_ROUTES: '/status/:code,/sleep/:ms', ...env } });
  const metrics = async (accept?: string) => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, accept ? { headers: { accept } } : {});
    return { contentType: response.headers.get('content-type') ?? '', vary: response.headers.get('vary'), text: await response.text() };
  };
  return { app, metricsPort, metrics };
}
const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const leOf = (text: string, route: string) =>
  samples(text)
    .filter((l) => l.startsWith(`${DURATION}_bucket{`) && l.includes(`http_route="${route}"`))
    .map((l) => /le="([^"]+)"/.exec(l)?.[1]);

describe('histogram buckets per metric', () => {
  it('PLANDEX_PERF_TELEMETRY_BUCKETS sets the `le` labels of http.server.request.duration', async () => {
    const { app, metrics } = await start({ PLANDEX_PERF_TELEMETRY_BUCKETS: 'http.server.request.duration=0.002,0.02,0.2' });
    await fetch(`${app.url}/status/200`);
    const { text } = await metrics();
    expect(leOf(text, '/status/:code')).toEqual(['0.002', '0.02', '0.2', '+Inf']);
  });

  it('a bad list is reported with its path and every metric keeps its default buckets', async () => {
    const { app, metrics } = await start({ PLANDEX_PERF_TELEMETRY_BUCKETS: 'http.server.request.duration=0.2,0.1' });
    await fetch(`${app.url}/status/200`);
    const { text } = await metrics();
    expect(leOf(text, '/status/:code')).toEqual(['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']);
    expect(app.stderr()).toContain('PPERF_ERR_CONFIG_INVALID');
    expect(app.stderr()).toContain('telemetry.buckets.http.server.request.duration.1');
    expect(app.stderr()).toContain('custom histogram buckets are ignored');
  });
});

describe('exemplars', () => {
  it('with traces on, OpenMetrics text carries the trace of a request on its bucket; Prometheus text is unchanged', async () => {
    const { app, metrics } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '0' });
    await fetch(`${app.url}/sleep/30`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
    await fetch(`${app.url}/sleep/30`); // a new trace at ratio 0: not sampled, so no exemplar of its own

    const om = await metrics(OM);
    expect(om.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.vary).toBe('accept');
    const withExemplar = om.text.split('\n').filter((l) => l.includes(' # {trace_id='));
    expect(withExemplar).toHaveLength(1);
    const [line] = withExemplar;
    const match = new RegExp(`^${DURATION}_bucket\\{.*http_route="/sleep/:ms".*le="([^"]+)"\\} \\d+ # \\{trace_id="${TRACE}",span_id="[0-9a-f]{16}"\\} (\\S+) (\\d+\\.\\d{3})$`).exec(line ?? '');
    expect(match, line).not.toBeNull();
    // The exemplar sits on the bucket its value falls in (the slowest bucket a 30 ms sleep can reach on a loaded machine varies).
    const [le, value, seconds] = [Number(match?.[1]), Number(match?.[2]), Number(match?.[3])];
    expect(value).toBeGreaterThanOrEqual(0.03);
    expect(value).toBeLessThanOrEqual(le);
    const lower = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10].filter((b) => b < le).at(-1) ?? 0;
    expect(value).toBeGreaterThan(lower);
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(60);
    expect(om.text.endsWith('# EOF\n')).toBe(true);

    const plain = await metrics();
    expect(plain.contentType).toBe('text/plain');
    expect(plain.text).not.toContain('trace_id');
    expect(plain.text).not.toContain('# EOF');
    expect(sumSamples(samples(plain.text), `${DURATION}_count`, { http_route: '/sleep/:ms' })).toBe(2);
  });

  it('with traces on, the Prometheus text passes promtool check metrics', async (context) => {
    const missing = promtoolMissing();
    if (missing) {
      console.warn(`[telemetry-series] skipped: ${missing}`);
      context.skip();
    }
    const { app, metrics } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '0' });
    await fetch(`${app.url}/sleep/30`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
    const plain = await metrics();
    expect(plain.text).toContain(`${DURATION}_bucket{`);
    expect(promtoolCheckMetrics(plain.text)).toEqual([]);
    // promtool 2.x reads only the Prometheus text format (an exemplar is a parse error to it), so the
    // OpenMetrics form is proven below against Prometheus' own OpenMetrics parser.
  });

  it('with traces on and telemetry.exemplars=false, OpenMetrics text carries no exemplar', async () => {
    const { app, metrics } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '1', PLANDEX_PERF_TELEMETRY_EXEMPLARS: 'false' });
    await fetch(`${app.url}/sleep/30`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
    await fetch(`${app.url}/sleep/30`); // sampled too (ratio 1): still no exemplar
    const om = await metrics(OM);
    // Nothing to carry, so the answer is the Prometheus text, as with traces off.
    expect(om.contentType).toBe('text/plain');
    expect(om.vary).toBeNull();
    expect(om.text).not.toContain('trace_id');
    expect(om.text).not.toContain('# EOF');
    expect(sumSamples(samples(om.text), `${DURATION}_count`, { http_route: '/sleep/:ms' })).toBe(2);
    expect(app.stderr()).toContain('traces on');
  });

  it('with traces off, an OpenMetrics Accept still gets the Prometheus text', async () => {
    const { app, metrics } = await start({});
    await fetch(`${app.url}/status/200`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
    const om = await metrics(OM);
    expect(om.contentType).toBe('text/plain');
    expect(om.vary).toBeNull();
    expect(om.text).not.toContain('# EOF');
    expect(om.text).not.toContain('trace_id');
  });

  it('Prometheus (exemplar storage on) scrapes the OpenMetrics form and stores the exemplar', async (context) => {
    const missing = prometheusMissing();
    if (missing) {
      console.warn(`[telemetry-series] skipped: ${missing}`);
      context.skip();
    }
    const { app, metricsPort } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '0' });
    const prometheus = await startPrometheus({ app: [`127.0.0.1:${metricsPort}`] }, ['--enable-feature=exemplar-storage']);
    try {
      await fetch(`${app.url}/sleep/30`, { headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
      await prometheus.waitForScrapes(2); // health "up": the OpenMetrics text parsed
      const now = Date.now() / 1000;
      const found = await waitFor(async () => {
        const response = await fetch(`${prometheus.url}/api/v1/query_exemplars?query=${DURATION}_bucket&start=${now - 60}&end=${now + 60}`);
        const body = (await response.json()) as { data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] }[] };
        return body.data.find((s) => s.exemplars.some((e) => e.labels.trace_id === TRACE));
      }, 10_000);
      expect(found.seriesLabels).toMatchObject({ http_route: '/sleep/:ms', __name__: `${DURATION}_bucket` });
      expect(Number(found.seriesLabels.le)).toBeGreaterThanOrEqual(0.03);
    } finally {
      await prometheus.stop();
    }
  }, 60_000);
});

describe('exemplars in a cluster', () => {
  it('the leader serves its followers\' exemplars: node:cluster workers answer, the primary scrapes', async () => {
    const metricsPort = await freePort();
    app = await startApp({
      script: path.join(root, 'test/fixtures/cluster/app.mjs'),
      env: { WORKERS: '2', PORT: String(await freePort()), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '0' },
    });
    await waitForProcesses(metricsPort, 3);
    const traces = Array.from({ length: 8 }, (_, i) => `${TRACE.slice(0, -1)}${i}`);
    // New connections, so both workers get some; only workers serve HTTP, so any exemplar came over the wire.
    for (const traceId of traces) await fetch(app.url, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, connection: 'close' } });
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { accept: OM } });
    const text = await response.text();
    const ids = [...text.matchAll(/ # \{trace_id="([0-9a-f]{32})"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) expect(traces).toContain(id);
    expect(sumSamples(samples(text), `${DURATION}_count`)).toBe(8);
  }, 30_000);
});

describe('stale series', () => {
  it('a series with no request for PLANDEX_PERF_TELEMETRY_STALE_SERIES_AFTER_MS leaves /metrics; it comes back from 1', async () => {
    const { app, metrics } = await start({ PLANDEX_PERF_TELEMETRY_STALE_SERIES_AFTER_MS: '1500' });
    const count = async (code: string) => sumSamples(samples((await metrics()).text), `${DURATION}_count`, { http_response_status_code: code });
    const has = async (code: string) => samples((await metrics()).text).some((l) => l.startsWith(`${DURATION}_count{`) && l.includes(`http_response_status_code="${code}"`));
    await fetch(`${app.url}/status/201`);
    await fetch(`${app.url}/status/201`);
    await fetch(`${app.url}/status/200`);
    expect(await count('201')).toBe(2);
    const quietSince = Date.now();
    // /status/200 stays busy; /status/201 goes quiet.
    await waitFor(async () => {
      await fetch(`${app.url}/status/200`);
      return !(await has('201'));
    }, 10_000);
    expect(Date.now() - quietSince).toBeGreaterThanOrEqual(1400);
    expect(await has('200')).toBe(true);
    await fetch(`${app.url}/status/201`);
    expect(await count('201')).toBe(1); // a new series: Prometheus reads the drop as a counter reset
  }, 20_000);
});
