import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { log } from '../../src/log.js';
import { fromOtelEnv, schema } from '../../src/telemetry/schema.js';

beforeAll(() => log.setLevel('silent'));
afterEach(() => vi.restoreAllMocks());

describe('fromOtelEnv', () => {
  it('sets nothing from an empty environment', () => {
    expect(fromOtelEnv({})).toEqual({});
  });

  it('reads OTEL_SERVICE_NAME', () => {
    expect(fromOtelEnv({ OTEL_SERVICE_NAME: 'checkout' })).toEqual({ serviceName: 'checkout' });
  });

  it('reads the Prometheus host and port, the port as a number', () => {
    const out = fromOtelEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0', OTEL_EXPORTER_PROMETHEUS_PORT: '9999' });
    expect(out).toEqual({ metricsHost: '0.0.0.0', metricsPort: 9999 });
    expect(schema.safeParse(out)).toMatchObject({ success: true, data: { metricsHost: '0.0.0.0', metricsPort: 9999 } });
  });

  it('turns traces on with otlp when only an OTLP endpoint is set', () => {
    expect(fromOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({ tracesExporter: 'otlp' });
    expect(fromOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toEqual({ tracesExporter: 'otlp' });
  });

  it('lets OTEL_TRACES_EXPORTER=none win over an endpoint', () => {
    expect(fromOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toEqual({ tracesExporter: 'none' });
  });

  it('passes through the supported metrics exporters', () => {
    expect(fromOtelEnv({ OTEL_METRICS_EXPORTER: 'none' })).toEqual({ metricsExporter: 'none' });
    expect(fromOtelEnv({ OTEL_METRICS_EXPORTER: 'prometheus, otlp' })).toEqual({ metricsExporter: 'prometheus' });
  });

  it('does not pass through an unsupported metrics exporter, and warns PPERF_WRN_001', () => {
    const warn = vi.spyOn(log, 'warn');
    expect(fromOtelEnv({ OTEL_METRICS_EXPORTER: 'otlp' })).toEqual({});
    expect(warn).toHaveBeenCalledWith('PPERF_WRN_001', expect.stringContaining('OTEL_METRICS_EXPORTER=otlp'));
  });

  it('does not pass through an unsupported traces exporter, nor turn otlp on for it', () => {
    const warn = vi.spyOn(log, 'warn');
    expect(fromOtelEnv({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({});
    expect(warn).toHaveBeenCalledWith('PPERF_WRN_001', expect.stringContaining('OTEL_TRACES_EXPORTER=zipkin'));
  });

  it('reads OTEL_TRACES_SAMPLER_ARG as a number', () => {
    expect(fromOtelEnv({ OTEL_TRACES_SAMPLER_ARG: '0.25' })).toEqual({ tracesSampleRatio: 0.25 });
  });
});
