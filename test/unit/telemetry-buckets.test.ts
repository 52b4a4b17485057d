import { MeterProvider, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it, vi } from 'vitest';
import { log } from '../../src/log.js';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { s } from '../../src/schema.js';
import { start } from '../../src/start.js';
import { envOverrides } from '../../src/config.js';
import { bucketViews, MAX_BOUNDARIES } from '../../src/telemetry/buckets.js';
import telemetry from '../../src/telemetry/index.js';
import { schema, whenInvalid } from '../../src/telemetry/schema.js';
import { DeltaReader } from '../../src/telemetry/series.js';

const parse = (buckets: unknown) => schema.safeParse({ buckets });
const paths = (buckets: unknown) => {
  const result = parse(buckets);
  return result.success ? [] : result.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('buckets option', () => {
  it('defaults to none', () => {
    expect(schema.defaults().buckets).toEqual({});
  });

  it('takes the config form: metric name → boundaries in seconds', () => {
    expect(parse({ 'http.server.request.duration': [0.001, 0.01, 0.1] })).toMatchObject({ success: true, data: { buckets: { 'http.server.request.duration': [0.001, 0.01, 0.1] } } });
  });

  it('takes the environment form PLANDEX_PERF_TELEMETRY_BUCKETS=name=b1,b2;name2=…', () => {
    const env = { PLANDEX_PERF_TELEMETRY_BUCKETS: 'http.server.request.duration=0.01, 0.05,0.1; db.client.operation.duration=0.001,1 ;' };
    const layer = envOverrides(telemetry, env);
    expect(schema.safeParse(layer)).toMatchObject({
      success: true,
      data: { buckets: { 'http.server.request.duration': [0.01, 0.05, 0.1], 'db.client.operation.duration': [0.001, 1] } },
    });
  });

  it('refuses unsorted, repeated, zero, negative, non-finite and non-number boundaries, each with its path', () => {
    expect(paths({ m: [0.1, 0.05] })).toEqual([expect.stringMatching(/^buckets\.m\.1: must be greater than the boundary before it/)]);
    expect(paths({ m: [0.1, 0.1] })).toEqual([expect.stringMatching(/^buckets\.m\.1: must be greater/)]);
    expect(paths({ m: [0, 1] })).toEqual([expect.stringMatching(/^buckets\.m\.0: must be > 0/)]);
    expect(paths({ m: [-1, 1] })).toEqual([expect.stringMatching(/^buckets\.m\.0: must be > 0/)]);
    expect(paths({ m: [1, Number.POSITIVE_INFINITY] })).toEqual([expect.stringMatching(/^buckets\.m\.1: expected a finite number/)]);
    expect(paths({ m: [1, '2'] })).toEqual([expect.stringMatching(/^buckets\.m\.1: expected a finite number/)]);
    expect(paths({ m: 0.5 })).toEqual([expect.stringMatching(/^buckets\.m: expected a list/)]);
  });

  it('bounds the count of boundaries and of metrics', () => {
    const many = Array.from({ length: MAX_BOUNDARIES + 1 }, (_, i) => (i + 1) / 1000);
    expect(paths({ m: many })).toEqual([expect.stringMatching(/^buckets\.m: must have 1 to 64 boundaries/)]);
    expect(paths({ m: [] })).toEqual([expect.stringMatching(/^buckets\.m: must have 1 to 64/)]);
    const metrics = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, [1]]));
    expect(paths(metrics)).toEqual([expect.stringMatching(/^buckets: must name at most 64 metrics/)]);
  });

  it('refuses a name that is no instrument name, and a malformed environment value', () => {
    expect(paths({ 'has space': [1] })).toEqual([expect.stringMatching(/^buckets\.has space: expected an OpenTelemetry instrument name/)]);
    expect(paths('http.server.request.duration')).toEqual([expect.stringMatching(/^buckets: expected "metric\.name=b1,b2,…"/)]);
    expect(paths('m=0.1,abc')).toEqual([expect.stringMatching(/^buckets\.m\.1: expected a finite number of seconds \(got "abc"\)/)]);
    expect(paths([1, 2])).toEqual([expect.stringMatching(/^buckets: expected \{/)]);
  });

  it('reports every problem at once, and a bad bucket config runs with the default buckets', () => {
    const result = parse({ a: [2, 1], b: [0] });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.issues.map((i) => i.path.join('.'))).toEqual(['buckets.a.1', 'buckets.b.0']);
    const reduced = whenInvalid(result.issues.map((i) => ({ path: ['telemetry', ...i.path].join('.') })));
    expect(reduced?.effect).toBe('custom histogram buckets are ignored: every metric uses its default buckets');
    expect(reduced?.options).toEqual({});
  });
});

describe('bucket views', () => {
  async function boundariesOf(buckets: Record<string, number[]>) {
    const reader = new DeltaReader();
    const provider = new MeterProvider({ readers: [reader], views: bucketViews(buckets) });
    const meter = provider.getMeter('t');
    meter.createHistogram('http.server.request.duration', { advice: { explicitBucketBoundaries: [0.005, 0.01, 10] } }).record(0.002);
    meter.createHistogram('other.duration', { advice: { explicitBucketBoundaries: [0.5, 1] } }).record(0.7);
    meter.createCounter('http.server.request.duration.total').add(1);
    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    await provider.shutdown();
    const byName = (name: string) => metrics.find((m) => m.descriptor.name === name) as MetricData;
    return { byName };
  }

  it('win over the advice a plugin passes, for the named histogram only', async () => {
    const { byName } = await boundariesOf({ 'http.server.request.duration': [0.001, 0.003, 0.1] });
    const configured = byName('http.server.request.duration');
    expect(configured.dataPointType).toBe(DataPointType.HISTOGRAM);
    if (configured.dataPointType !== DataPointType.HISTOGRAM) return;
    expect(configured.dataPoints[0]?.value.buckets).toEqual({ boundaries: [0.001, 0.003, 0.1], counts: [0, 1, 0, 0] });
    const other = byName('other.duration');
    if (other.dataPointType !== DataPointType.HISTOGRAM) throw new Error('expected a histogram');
    expect(other.dataPoints[0]?.value.buckets.boundaries).toEqual([0.5, 1]);
  });

  it('never turn a counter of the same name into a histogram', async () => {
    const { byName } = await boundariesOf({ 'http.server.request.duration.total': [1, 2] });
    expect(byName('http.server.request.duration.total').dataPointType).toBe(DataPointType.SUM);
  });

  it('with none configured, the advice stands', async () => {
    const { byName } = await boundariesOf({});
    const h = byName('http.server.request.duration');
    if (h.dataPointType !== DataPointType.HISTOGRAM) throw new Error('expected a histogram');
    expect(h.dataPoints[0]?.value.buckets.boundaries).toEqual([0.005, 0.01, 10]);
  });
});

describe('PPERF_WRN_065', () => {
  it('warns once, a minute after start, about bucket lists for names no histogram has', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => {});
    const probe = definePlugin({
      name: 'probe',
      description: 'creates one histogram',
      dependsOn: ['telemetry'],
      schema: s.object({}),
      setup(ctx) {
        ctx.need<Telemetry>('telemetry').meter.createHistogram('probe.duration');
      },
    });
    const runtime = await start({ plugins: [telemetry, probe], config: { telemetry: { metricsExporter: 'none', buckets: { 'probe.duration': [1], 'typo.duration': [1] } } }, handleSignals: false });
    try {
      vi.advanceTimersByTime(59_000);
      expect(warn.mock.calls.filter(([code]) => code === 'PPERF_WRN_065')).toHaveLength(0);
      vi.advanceTimersByTime(1_000);
      const calls = warn.mock.calls.filter(([code]) => code === 'PPERF_WRN_065');
      expect(calls).toHaveLength(1);
      expect(calls[0]?.[1]).toContain('"typo.duration"');
      expect(calls[0]?.[1]).not.toContain('probe.duration');
    } finally {
      vi.useRealTimers();
      warn.mockRestore();
      await runtime.shutdown(100);
    }
  });
});
