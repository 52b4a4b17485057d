// Stale series and exemplars, measured (issue #15, items 7 and 8). Run after `npm run build`:
//   node --expose-gc loadtests/bench/telemetry-series.mjs
// 1. Memory over simulated hours of route churn: ROUTES_PER_MIN new routes each minute, each recorded
//    into a histogram (15 buckets) and a counter, one collection per minute, the clock moved by hand.
//    Configurations: the SDK's cumulative reader (before this change), our store with staleness off
//    (0), 10 min and 30 min. Heap after a forced GC, and series held.
// 2. The cost of one histogram.record(): cumulative SDK, delta + store (traces off), and with exemplars
//    (sampled span, unsampled span). Interleaved rounds, medians; compare ratios only (noisy 2-core VM).
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ExemplarStore } from '../../dist/src/telemetry/exemplars.js';
import { DeltaReader, SeriesStore } from '../../dist/src/telemetry/series.js';

const ROUTES_PER_MIN = Number(process.env.ROUTES_PER_MIN ?? 50);
const MINUTES = Number(process.env.MINUTES ?? 240);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const MIN = 60_000;
const gc = globalThis.gc ?? (() => {});
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

async function churn(kind, staleAfterMs) {
  let t = 0;
  let reader;
  let collect;
  let series;
  if (kind === 'sdk-cumulative') {
    reader = new PrometheusExporter({ preventServerStart: true });
    collect = () => reader.collect();
  } else {
    reader = new DeltaReader();
    series = new SeriesStore({ reader, staleAfterMs, now: () => t });
    collect = () => series.collect();
  }
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('bench');
  const h = meter.createHistogram('http.server.request.duration', { advice: { explicitBucketBoundaries: BUCKETS } });
  const c = meter.createCounter('requests');
  const base = heapMb();
  const rows = [];
  let route = 0;
  let held = 0;
  for (let minute = 1; minute <= MINUTES; minute++) {
    for (let i = 0; i < ROUTES_PER_MIN; i++) {
      const attributes = { 'http.route': `/r/${route++}`, 'http.request.method': 'GET', 'http.response.status_code': 200 };
      h.record(0.02, attributes);
      c.add(1, attributes);
    }
    const { resourceMetrics } = await collect();
    held = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'requests')?.dataPoints.length ?? 0;
    t += MIN;
    if ([30, 60, 120, 240, 480].includes(minute)) rows.push({ minute, heapMb: +(heapMb() - base).toFixed(2), series: held });
  }
  await provider.shutdown();
  return rows;
}

function bestOf(fn, n) {
  const start = process.hrtime.bigint();
  fn(n);
  return Number(process.hrtime.bigint() - start) / n;
}

async function recordCost() {
  const ctxSampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
  const ctxUnsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.NONE });
  const make = (kind) => {
    const reader = kind === 'sdk-cumulative' ? new PrometheusExporter({ preventServerStart: true }) : new DeltaReader();
    const provider = new MeterProvider({ readers: [reader] });
    let meter = provider.getMeter('bench');
    if (kind.startsWith('exemplars')) meter = new ExemplarStore({}).wrap(meter);
    const h = meter.createHistogram('d', { advice: { explicitBucketBoundaries: BUCKETS } });
    const ctx = kind === 'exemplars-sampled' ? ctxSampled : kind === 'exemplars-unsampled' ? ctxUnsampled : undefined;
    const routes = Array.from({ length: 20 }, (_, i) => ({ 'http.route': `/r/${i}`, 'http.request.method': 'GET', 'http.response.status_code': 200 }));
    return (n) => {
      for (let i = 0; i < n; i++) h.record((i % 100) / 1000, routes[i % 20], ctx);
    };
  };
  const kinds = ['sdk-cumulative', 'delta-store', 'exemplars-unsampled', 'exemplars-sampled'];
  const runs = Object.fromEntries(kinds.map((k) => [k, { fn: make(k), ns: [] }]));
  for (let round = 0; round < 15; round++) for (const k of kinds) runs[k].ns.push(bestOf(runs[k].fn, 100_000));
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const base = median(runs['sdk-cumulative'].ns);
  return kinds.map((k) => ({ kind: k, nsPerRecord: +median(runs[k].ns).toFixed(0), ratio: +(median(runs[k].ns) / base).toFixed(2) }));
}

console.log(`# telemetry series bench — ${new Date().toISOString()}, Node ${process.version}, ${ROUTES_PER_MIN} new routes/min for ${MINUTES} simulated min`);
for (const [kind, stale] of [
  ['sdk-cumulative', undefined],
  ['store', 0],
  ['store', 10 * MIN],
  ['store', 30 * MIN],
]) {
  const rows = await churn(kind, stale);
  console.log(`${kind}${stale === undefined ? '' : ` staleSeriesAfterMs=${stale / MIN} min`}: ${rows.map((r) => `t=${r.minute}m ${r.series} series ${r.heapMb} MB`).join(' | ')}`);
}
console.table(await recordCost());
