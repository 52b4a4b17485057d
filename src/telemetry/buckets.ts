import { AggregationType, InstrumentType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { Field, type Issue } from '../schema.js';

/**
 * Histogram bucket boundaries per metric, in seconds (the unit of every duration histogram here), as
 * OpenTelemetry Views. A view's explicit-bucket aggregation wins over the `advice.explicitBucketBoundaries`
 * a plugin passes (the SDK uses advice only under the default aggregation), so a metric without an entry
 * keeps its plugin's buckets and one with an entry gets exactly these.
 *
 * Two forms, one meaning:
 * - config file: `buckets: { "http.server.request.duration": [0.005, 0.01, 0.05] }`
 * - environment: `PLANDEX_PERF_TELEMETRY_BUCKETS="http.server.request.duration=0.005,0.01,0.05;db.client.operation.duration=0.001,0.01"`
 *
 * The environment names the metric in the value rather than in the variable's name
 * (`PLANDEX_PERF_BUCKETS_HTTP_SERVER_REQUEST_DURATION`): metric names mix `.` and `_`
 * (`db.client.connection.pending_requests`, `plandex_perf.cluster.processes`), so a variable name cannot
 * spell every one of them back, and a near miss would match nothing silently.
 */
export type Buckets = Record<string, number[]>;

/** More boundaries than this cost series size (one `_bucket` line each) for no reading a dashboard can use. */
export const MAX_BOUNDARIES = 64;
/** Histograms of one process are a few dozen; a longer list is a generated config gone wrong. */
export const MAX_METRICS = 64;
const NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;

/** Parses the environment form `name=b1,b2,…;name2=…` into the config form; structure problems are issues. */
function fromText(text: string, path: (string | number)[], issues: Issue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      issues.push({ path, message: `expected "metric.name=b1,b2,…" entries separated by ";" (got "${part.trim()}")` });
      continue;
    }
    const name = part.slice(0, eq).trim();
    out[name] = part
      .slice(eq + 1)
      .split(',')
      .map((b) => b.trim())
      .map((b) => (b !== '' && Number.isFinite(Number(b)) ? Number(b) : b));
  }
  return out;
}

/** Checks one metric's boundaries: a list of 1…64 finite numbers > 0, strictly increasing. */
export function checkBoundaries(value: unknown, path: (string | number)[], issues: Issue[]): number[] | undefined {
  const before = issues.length;
  if (!Array.isArray(value)) {
    issues.push({ path, message: `expected a list of bucket boundaries in seconds (got ${JSON.stringify(value)})` });
    return undefined;
  }
  if (value.length === 0 || value.length > MAX_BOUNDARIES) issues.push({ path, message: `must have 1 to ${MAX_BOUNDARIES} boundaries (got ${value.length})` });
  value.forEach((b: unknown, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b)) issues.push({ path: [...path, i], message: `expected a finite number of seconds (got ${JSON.stringify(b)})` });
    else if (b <= 0) issues.push({ path: [...path, i], message: `must be > 0 (got ${b}); the first bucket already starts at 0` });
    else {
      const previous: unknown = value[i - 1];
      if (typeof previous === 'number' && b <= previous) issues.push({ path: [...path, i], message: `must be greater than the boundary before it (${previous} then ${b}): boundaries are sorted, without repeats` });
    }
  });
  return issues.length === before ? (value as number[]) : undefined;
}

/**
 * The `buckets` option. Validation is all or nothing: one bad entry makes the option invalid (reported
 * with its path, e.g. `telemetry.buckets.http.server.request.duration.2`), and the reduced run then uses
 * every plugin's default buckets — a half-applied bucket config would be harder to notice than none.
 */
export function bucketsField(): Field<Buckets, Buckets | string | undefined> {
  const field = new Field<Buckets, Buckets | string>(
    { kind: 'record', description: '', hasDefault: false, optional: false, max: MAX_METRICS },
    (raw, path, issues) => {
      const value = typeof raw === 'string' ? fromText(raw, path, issues) : raw;
      const out: Buckets = {};
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        issues.push({ path, message: `expected { "metric.name": [seconds, …] } (got ${JSON.stringify(value)})` });
        return out;
      }
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length > MAX_METRICS) issues.push({ path, message: `must name at most ${MAX_METRICS} metrics (got ${entries.length})` });
      for (const [name, boundaries] of entries) {
        if (!NAME.test(name)) {
          issues.push({ path: [...path, name], message: 'expected an OpenTelemetry instrument name (a letter, then letters, digits, _ . - /; at most 255)' });
          continue;
        }
        const checked = checkBoundaries(boundaries, [...path, name], issues);
        if (checked) out[name] = [...checked];
      }
      return out;
    },
  );
  return field.default({});
}

/**
 * One view per configured metric, for histograms only: a view's aggregation applies to whatever it
 * selects, and a bucket list must not turn a counter of the same name into a histogram.
 */
export function bucketViews(buckets: Buckets): ViewOptions[] {
  return Object.entries(buckets).map(([instrumentName, boundaries]) => ({
    instrumentName,
    instrumentType: InstrumentType.HISTOGRAM,
    aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries } },
  }));
}
