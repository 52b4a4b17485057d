import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appRoutes, esmApp, get, startApp, startOtlpCollector, waitFor, type OtlpSpan } from './helpers.js';

let spans: OtlpSpan[] = [];
let collectorUrl = '';
let closeCollector: () => Promise<void> = async () => {};
beforeAll(async () => {
  const collector = await startOtlpCollector();
  ({ spans, url: collectorUrl, close: closeCollector } = collector);
});
afterAll(() => closeCollector());

describe('traces', () => {
  it('with an OTLP endpoint set, exports HTTP and pg spans that continue the caller’s trace, flushed on SIGTERM', async () => {
    const app = await startApp({
      script: esmApp,
      env: {
        DATABASE_URL: inject('databaseUrl'),
        OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
        OTEL_TRACES_SAMPLER_ARG: '0', // only continued (sampled-parent) traces are kept: proves the parent-based sampler
        OTEL_METRICS_EXPORTER: 'none',
        PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(','),
      },
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    expect((await get(`${app.url}/users/1/plans`, { headers: { traceparent: `00-${traceId}-${parentId}-01` } })).status).toBe(200);
    expect((await get(`${app.url}/users/2/plans`)).status).toBe(200); // a new trace at ratio 0: not sampled
    app.child.kill('SIGTERM');
    expect((await app.exited).signal).toBe('SIGTERM');

    await waitFor(() => spans.some((s) => s.kind === 2));
    const server = spans.find((s) => s.kind === 2)!;
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(parentId);
    expect(server.name).toBe('GET /users/:id/plans');
    const db = spans.filter((s) => s.kind === 3);
    expect(db.length).toBeGreaterThanOrEqual(1);
    for (const span of db) {
      expect(span.traceId).toBe(traceId);
      expect(span.parentSpanId).toBe(server.spanId);
    }
    expect(db.map((s) => s.name)).toContain('SELECT plans');
    expect(spans.every((s) => s.traceId === traceId)).toBe(true);
  });
});
