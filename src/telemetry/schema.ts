import { s, type Input, type Output } from '../schema.js';
import { log } from '../log.js';
import { bucketsField, MAX_BOUNDARIES, MAX_METRICS } from './buckets.js';

const fields = {
  serviceName: s
    .string({ min: 1 })
    .optional()
    .describe('`service.name` of the resource. Default: `OTEL_SERVICE_NAME`, else the host package.json `name`, else `unknown_service:node`.'),
  metricsExporter: s
    .enum(['prometheus', 'none'])
    .default('prometheus')
    .describe('Where metrics go. `none` collects nothing and opens no port. Default: `OTEL_METRICS_EXPORTER`, else `prometheus`.'),
  metricsHost: s
    .string({ min: 1 })
    .default('127.0.0.1')
    .describe('Interface of the Prometheus endpoint: loopback by default, not all interfaces. Default: `OTEL_EXPORTER_PROMETHEUS_HOST`, else `127.0.0.1`.'),
  metricsPort: s
    .integer({ min: 0, max: 65535 })
    .default(9464)
    .describe('Port of the Prometheus endpoint; `0` picks a free port (logged). Default: `OTEL_EXPORTER_PROMETHEUS_PORT`, else `9464`.'),
  metricsPath: s.string({ startsWith: '/' }).default('/metrics').describe('Path of the Prometheus endpoint.'),
  cluster: s
    .enum(['auto', 'off'])
    .default('auto')
    .describe('`auto`: the processes of one app on one host (`node:cluster` workers, PM2 instances, child processes started with the same `NODE_OPTIONS`) share the metrics port: the first to bind it serves the sum over all of them. `off`: each process serves alone and a second one logs `PPERF_ERR_METRICS_PORT_IN_USE`.'),
  clusterScrapeTimeoutMs: s
    .integer({ min: 50, max: 10000 })
    .default(1000)
    .describe('How long a scrape waits for each other process of the app; one that does not answer is counted in `plandex_perf_cluster_scrape_timeouts_total` and its last snapshot is used.'),
  buckets: bucketsField().describe(
    `Histogram bucket boundaries per metric, in seconds, e.g. \`{ "http.server.request.duration": [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] }\`; a metric not named keeps its plugin's defaults. Each list: 1 to ${MAX_BOUNDARIES} finite numbers > 0, strictly increasing; at most ${MAX_METRICS} metrics. Env: \`name=b1,b2,…;name2=…\`. One bad entry is reported with its path and every metric then uses its default buckets. Default: none.`,
  ),
  staleSeriesAfterMs: s
    .integer({ min: 0, max: 7 * 24 * 3_600_000 })
    .default(30 * 60_000)
    .describe('A series (one attribute set: a route, pool, tenant…) with no new measurement for this long is dropped from memory and from `/metrics`; if it comes back it starts again as a new series, which Prometheus reads as a counter reset. An observable instrument counts as quiet when its callback stops reporting the set; a synchronous up-down counter is dropped only at 0. `0` keeps every series for the life of the process. Default: 30 min.'),
  exemplars: s
    .boolean()
    .default(true)
    .describe('While traces are on, histogram buckets carry the trace id of a recent sampled request, served as OpenMetrics exemplars to a scraper that sends `Accept: application/openmetrics-text`; Prometheus text is unchanged. No effect with traces off.'),
  tracesExporter: s
    .enum(['none', 'otlp', 'console'])
    .default('none')
    .describe('Traces are off unless set. Default: `OTEL_TRACES_EXPORTER`, else `otlp` when an OTLP endpoint is set, else `none`.'),
  tracesEndpoint: s
    .string({ url: true })
    .optional()
    .describe('OTLP/HTTP traces URL. Default: the exporter reads `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`.'),
  tracesSampleRatio: s
    .number({ min: 0, max: 1 })
    .default(0.1)
    .describe('Ratio of new traces sampled (parent-based: a sampled parent is always followed). `0` samples only continued traces. Default: `OTEL_TRACES_SAMPLER_ARG`, else `0.1`.'),
  shutdownFlushMs: s
    .integer({ min: 0, max: 2000 })
    .default(2000)
    .describe('Upper bound of the flush on SIGTERM/SIGINT before the host exits; `0` exits at once.'),
};

export const schema = s.object(fields);
export type TelemetryOptions = Output<typeof fields>;

/** The standard OTEL_* variables, read as the environment layer of this section. */
export function fromOtelEnv(env: NodeJS.ProcessEnv): Partial<Input<typeof fields>> {
  const out: Partial<Input<typeof fields>> = {};
  if (env.OTEL_SERVICE_NAME) out.serviceName = env.OTEL_SERVICE_NAME;
  const metrics = env.OTEL_METRICS_EXPORTER?.split(',')[0]?.trim();
  if (metrics === 'prometheus' || metrics === 'none') out.metricsExporter = metrics;
  else if (metrics) log.warn('PPERF_WRN_001', `OTEL_METRICS_EXPORTER=${metrics} is not supported; using prometheus`);
  if (env.OTEL_EXPORTER_PROMETHEUS_HOST) out.metricsHost = env.OTEL_EXPORTER_PROMETHEUS_HOST;
  if (env.OTEL_EXPORTER_PROMETHEUS_PORT) out.metricsPort = numberOrText(env.OTEL_EXPORTER_PROMETHEUS_PORT) as number;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const traces = env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim();
  if (traces === 'otlp' || traces === 'console' || traces === 'none') out.tracesExporter = traces;
  else if (traces) log.warn('PPERF_WRN_001', `OTEL_TRACES_EXPORTER=${traces} is not supported; traces stay off`);
  else if (endpoint) out.tracesExporter = 'otlp';
  if (env.OTEL_TRACES_SAMPLER_ARG) out.tracesSampleRatio = numberOrText(env.OTEL_TRACES_SAMPLER_ARG) as number;
  return out;
}

/** The standard variable behind each field `fromOtelEnv` sets, named when its value is bad. */
export const otelEnvNames = {
  serviceName: 'OTEL_SERVICE_NAME',
  metricsHost: 'OTEL_EXPORTER_PROMETHEUS_HOST',
  metricsPort: 'OTEL_EXPORTER_PROMETHEUS_PORT',
  tracesSampleRatio: 'OTEL_TRACES_SAMPLER_ARG',
} as const satisfies Partial<Record<keyof typeof fields, string>>;

/** A number, or the raw text when it is not one, so that validation reports `abc` as `abc` (not NaN → null). */
function numberOrText(raw: string): number | string {
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

const METRICS_FIELDS = new Set(['metricsExporter', 'metricsHost', 'metricsPort', 'metricsPath']);
const TRACES_FIELDS = new Set(['tracesExporter', 'tracesEndpoint', 'tracesSampleRatio']);

/**
 * A bad metrics setting turns the metrics endpoint off, a bad traces setting turns traces off; the SDK
 * and every plugin that depends on it still run (the pg idle-error guard keeps the host alive).
 */
export function whenInvalid(problems: { path: string }[]): { options: Partial<Input<typeof fields>>; effect: string } | undefined {
  const bad = problems.map((p) => p.path.split('.')[1] ?? '');
  const options: Partial<Input<typeof fields>> = {};
  const effects: string[] = [];
  if (bad.some((f) => METRICS_FIELDS.has(f))) {
    options.metricsExporter = 'none';
    // No reader without an endpoint to read it: nothing is collected either.
    effects.push('metrics are off (neither collected nor served)');
  }
  if (bad.some((f) => TRACES_FIELDS.has(f))) {
    options.tracesExporter = 'none';
    effects.push('traces are off');
  }
  if (bad.includes('buckets')) effects.push('custom histogram buckets are ignored: every metric uses its default buckets');
  if (bad.some((f) => !METRICS_FIELDS.has(f) && !TRACES_FIELDS.has(f) && f !== 'buckets')) effects.push(effects.length > 0 ? 'the other invalid fields use their defaults' : 'the invalid fields use their defaults');
  return { options, effect: effects.join('; ') };
}
