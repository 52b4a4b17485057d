/**
 * Reading the dashboards for the tests: their queries, the metric names in those queries, the
 * names the plugins declare, and template-variable substitution. Shared by
 * test/unit/dashboards.test.ts (static checks) and test/integration/dashboards.test.ts (real Prometheus).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const dashboardsDir = path.join(root, 'dashboards');
export const PENDING_FILE = 'pending-metrics.json';

export interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
export interface PanelJson {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: PanelJson[];
  links?: { url?: string }[];
  options?: Record<string, unknown>;
  fieldConfig?: { defaults: Record<string, unknown> & { custom?: Record<string, unknown> }; overrides: unknown[] };
}
export interface VariableJson {
  type: string;
  name: string;
  query?: string;
  allValue?: string;
  includeAll?: boolean;
}
export interface DashboardJson {
  uid: string;
  title: string;
  schemaVersion: number;
  tags?: string[];
  links?: { type: string; tags?: string[] }[];
  templating: { list: VariableJson[] };
  panels: PanelJson[];
}

/** Every dashboard JSON file (the pending-metrics list is not a dashboard). */
export function loadDashboards(): { file: string; text: string; dashboard: DashboardJson }[] {
  return fs
    .readdirSync(dashboardsDir)
    .filter((file) => file.endsWith('.json') && file !== PENDING_FILE)
    .sort()
    .map((file) => {
      const text = fs.readFileSync(path.join(dashboardsDir, file), 'utf8');
      return { file, text, dashboard: JSON.parse(text) as DashboardJson };
    });
}

export function panelsOf(dashboard: DashboardJson): PanelJson[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface Query {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export function queriesOf(dashboard: DashboardJson): Query[] {
  return panelsOf(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ dashboard: dashboard.uid, panel: panel.title, refId: target.refId, expr: target.expr })),
  );
}

/** Query variables' `label_values(selector, label)` as a PromQL query that lists the label's values. */
export function variableQueriesOf(dashboard: DashboardJson): { name: string; label: string; promql: string }[] {
  return dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.query ?? '');
      if (!match) throw new Error(`${dashboard.uid}: variable ${variable.name} is not label_values(selector, label): ${variable.query}`);
      return { name: variable.name, label: match[2]!, promql: `group by (${match[2]}) (${match[1]})` };
    });
}

/** Grafana's built-in interval variables, as fixed durations (the test Prometheus scrapes every second). */
export const BUILTIN_INTERVALS: Record<string, string> = { __rate_interval: '15s', __interval: '5s', __range: '5m' };

/** Replaces `$var` / `${var}` with `values[var]`, the built-in intervals, and any other variable with `.*`. */
export function substitute(expr: string, values: Record<string, string> = {}): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_all, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    return values[name] ?? BUILTIN_INTERVALS[name] ?? '.*';
  });
}

export function variablesUsedIn(expr: string): string[] {
  return [...expr.matchAll(/\$\{(\w+)\}|\$(\w+)/g)].map((m) => (m[1] ?? m[2])!).filter((name) => !(name in BUILTIN_INTERVALS));
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: `__name__` regexes (`{__name__=~"..."}`) and bare
 * metric identifiers (`target_info{...}`). Function and aggregation names, keywords, label names in
 * matchers and grouping clauses, and durations are not metric names.
 */
export function metricReferences(expr: string): { regexes: string[]; nameMatchers: string[]; bare: string[] } {
  const regexes: string[] = [];
  const nameMatchers: string[] = [];
  for (const match of expr.matchAll(/__name__\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
    nameMatchers.push(match[1]!);
    regexes.push(match[2]!);
  }
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\S+/g, ' ')
    .replace(/(^|[^\w:])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1 ');
  const bare: string[] = [];
  for (const match of stripped.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const rest = stripped.slice(match.index + match[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(match[0].toLowerCase())) continue;
    bare.push(match[0]);
  }
  return { regexes, nameMatchers, bare };
}

/** `http.server.request.duration` → `http_server_request_duration` (the OpenTelemetry JS exporter's rule). */
export const prometheusName = (otel: string) => otel.replace(/[^a-zA-Z0-9_:]/g, '_');

/** Unit suffixes an OpenTelemetry Collector may add, and the families of a histogram or counter. */
const UNIT_GROUPS = ['', '(_seconds)?', '(_bytes)?', '(_ratio)?'];
const TAILS = ['', '_bucket', '_sum', '_count', '_total'];

/** Every `__name__` regex the dashboards may use for these metrics → the OpenTelemetry name it selects. */
export function allowedNameRegexes(otelNames: Iterable<string>): Map<string, string> {
  const allowed = new Map<string, string>();
  for (const otel of otelNames) {
    for (const unit of UNIT_GROUPS) for (const tail of TAILS) allowed.set(`${prometheusName(otel)}${unit}${tail}`, otel);
  }
  return allowed;
}

/** `metricNames` of every plugin's semconv.ts, by plugin. */
export async function semconvNames(): Promise<Map<string, string[]>> {
  const byPlugin = new Map<string, string[]>();
  const pluginsDir = path.join(root, 'plugins');
  for (const plugin of fs.readdirSync(pluginsDir).sort()) {
    const file = path.join(pluginsDir, plugin, 'semconv.ts');
    if (!fs.existsSync(file)) continue;
    const module = (await import(pathToFileURL(file).href)) as { metricNames?: readonly string[] };
    byPlugin.set(plugin, [...(module.metricNames ?? [])]);
  }
  return byPlugin;
}

export interface PendingMetric {
  name: string;
  plugin: string;
  type: 'counter' | 'gauge' | 'histogram';
  unit: string;
  attributes: Record<string, string[]>;
  description: string;
}

export function pendingMetrics(): PendingMetric[] {
  return (JSON.parse(fs.readFileSync(path.join(dashboardsDir, PENDING_FILE), 'utf8')) as { metrics: PendingMetric[] }).metrics;
}

/** The OpenTelemetry names (semconv or pending) a query selects, from its `__name__` regexes. */
export function otelNamesOf(expr: string, allowed: Map<string, string>): string[] {
  return metricReferences(expr).regexes.flatMap((regex) => {
    const otel = allowed.get(regex);
    return otel === undefined ? [] : [otel];
  });
}
