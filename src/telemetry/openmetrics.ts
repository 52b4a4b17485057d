import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import type { WithExemplars } from './exemplars.js';

/**
 * The OpenMetrics text format (with exemplars), next to the Prometheus text the SDK's serialiser writes.
 *
 * A scraper that asks for `application/openmetrics-text` gets it; anyone else gets the Prometheus text
 * exactly as before. Prometheus itself asks for OpenMetrics first, so it is served only while exemplars
 * exist to carry (traces on): with traces off the endpoint's answer does not change at all.
 *
 * The SDK's serialiser does the work (names, label escaping, buckets); this adds what differs:
 * - a counter's family is named without `_total` (`# TYPE http_requests counter`, sample `http_requests_total`);
 * - no `# UNIT` lines: OpenMetrics requires the unit as a suffix of the name, which semantic-convention
 *   names (`http.server.request.duration`, unit `s`) do not have; the unit is optional, so it is left out;
 * - each `_bucket` sample may end with ` # {trace_id="…",span_id="…"} value timestamp`;
 * - the exposition ends with `# EOF`.
 */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_CONTENT_TYPE = 'text/plain';

/** True when the Accept header takes OpenMetrics text with a weight above 0 (Prometheus' default does). */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

type HistogramPoint = DataPoint<Histogram> & WithExemplars;
type SerializeHistogram = (name: string, data: MetricData, point: HistogramPoint, extra: unknown) => string;

/** `{trace_id="…",span_id="…"} value timestamp`: hex ids need no escaping; 63 characters of labels, under the 128 allowed. */
function exemplarSuffix(point: HistogramPoint, bucket: number): string {
  const e = point.exemplars?.[bucket];
  if (!e) return '';
  return ` # {trace_id="${e.traceId}",span_id="${e.spanId}"} ${e.value} ${(e.timeMs / 1000).toFixed(3)}`;
}

export class OpenMetricsSerializer extends PrometheusSerializer {
  constructor() {
    super();
    // The SDK serialiser's per-point method is private in its types but the one place a point's bucket
    // lines are written, in bucket order; the exemplar of bucket i goes on the i-th `_bucket` line.
    const self = this as unknown as { _serializeHistogramDataPoint: SerializeHistogram };
    const base = self._serializeHistogramDataPoint.bind(this);
    self._serializeHistogramDataPoint = (name, data, point, extra) => {
      const text = base(name, data, point, extra);
      if (!point.exemplars) return text;
      let bucket = 0;
      const prefix = `${name}_bucket`;
      return text
        .split('\n')
        .map((line) => (line.startsWith(prefix) && (line[prefix.length] === '{' || line[prefix.length] === ' ') ? line + exemplarSuffix(point, bucket++) : line))
        .join('\n');
    };
  }

  override serialize(resourceMetrics: ResourceMetrics): string {
    return toOpenMetrics(super.serialize(resourceMetrics));
  }
}

/** Rewrites the SDK's Prometheus text into OpenMetrics text (see above); exemplars are already on the bucket lines. */
export function toOpenMetrics(text: string): string {
  const lines = text.split('\n');
  const counters = new Set<string>();
  for (const line of lines) {
    const match = /^# TYPE (\S+) counter$/.exec(line);
    if (match?.[1]?.endsWith('_total')) counters.add(match[1]);
  }
  const out: string[] = [];
  for (const line of lines) {
    if (line === '' || line === '# no registered metrics') continue;
    if (line.startsWith('# UNIT ')) continue;
    const meta = /^# (HELP|TYPE) (\S+)( .*)?$/.exec(line);
    if (meta && counters.has(meta[2] as string)) {
      out.push(`# ${meta[1]} ${(meta[2] as string).slice(0, -'_total'.length)}${meta[3] ?? ''}`);
      continue;
    }
    out.push(line);
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
