/**
 * Building blocks of the dashboards: PromQL selectors with the template variables, panels, the
 * variables themselves and the layout. Every dashboard is made of these, so all four filter,
 * link and look the same.
 */
import { name } from './metrics.mjs';

/** @typedef {import('./metrics.mjs').MetricRef} MetricRef */

export const SCHEMA_VERSION = 41;
export const TAG = 'plandex-perf';
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
export const RATE = '$__rate_interval';

export const UIDS = { overview: 'pperf-overview', database: 'pperf-database', cache: 'pperf-cache', runtime: 'pperf-runtime' };

const TARGET = 'job=~"$job", instance=~"$instance"';

/**
 * Keeps only series of the chosen services. The service name is a resource attribute, which the
 * OpenTelemetry exporters put on `target_info` alone (not on every series), so the filter is a join
 * on the target's job and instance; `and` needs no one-to-one match, so a restarted process (a
 * second target_info for a moment) cannot break it.
 */
export const SERVICE = `and on (job, instance) target_info{${TARGET}, service_name=~"$service"}`;

/**
 * A selector for one series family with the job and instance variables and extra matchers.
 * @param {MetricRef} metric
 * @param {{ part?: 'bucket' | 'sum' | 'count', where?: string }} [options]
 */
export function sel(metric, { part, where } = {}) {
  return `{__name__=~"${name(metric, part)}", ${TARGET}${where ? `, ${where}` : ''}}`;
}

/** An instant vector restricted to the chosen services. */
export const svc = (/** @type {string} */ expr) => `${expr} ${SERVICE}`;

/** Per-second rate of a counter (or a histogram's _count/_sum/_bucket), for the chosen services. */
export function rate(/** @type {MetricRef} */ metric, /** @type {{ part?: 'bucket' | 'sum' | 'count', where?: string }} */ options = {}) {
  return svc(`rate(${sel(metric, options)}[${RATE}])`);
}

/** `sum by (labels) (...)`; no labels sums everything. */
export function sumBy(/** @type {string} */ labels, /** @type {string} */ expr) {
  return labels ? `sum by (${labels}) (${expr})` : `sum(${expr})`;
}

/** A quantile from a histogram's buckets, per `by` labels. */
export function quantile(/** @type {number} */ q, /** @type {MetricRef} */ metric, /** @type {string} */ by = '', /** @type {string | undefined} */ where = undefined) {
  return `histogram_quantile(${q}, ${sumBy(by ? `le, ${by}` : 'le', rate(metric, { part: 'bucket', where }))})`;
}

// ---------------------------------------------------------------------------------------------------
// Panels. Widths are in Grafana's 24-column grid; layout() assigns positions.

let nextId = 1;
export function resetIds() {
  nextId = 1;
}

/**
 * @typedef {{ expr: string, legend?: string }} Query
 * @typedef {{ title: string, uid: string }} Link
 * @typedef {{ title: string, description: string, unit?: string, w?: number, h?: number, min?: number, max?: number,
 *   stack?: boolean, decimals?: number, links?: Link[], thresholds?: { value: number, color: string }[] }} PanelOptions
 */

/** True for a latency quantile read from a histogram's buckets (what `quantile()` writes). */
export const isHistogramQuantile = (/** @type {string} */ expr) => expr.startsWith('histogram_quantile(');

/**
 * @param {Query[]} queries
 * @param {{ exemplars?: boolean }} [options]  `exemplars`: ask Prometheus for the exemplars of the
 *   histogram quantiles, so each slow bucket shows as a point that links to its trace (the data source's
 *   `exemplarTraceIdDestinations`). Only a time series panel can draw them.
 */
function targets(queries, { exemplars = false } = {}) {
  return queries.map((query, index) => ({
    refId: String.fromCharCode(65 + index),
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: query.expr,
    legendFormat: query.legend ?? '__auto',
    range: true,
    ...(exemplars && isHistogramQuantile(query.expr) ? { exemplar: true } : {}),
  }));
}

/** @param {Link[] | undefined} links  other dashboards, opened with the same time range and variables */
function panelLinks(links) {
  return (links ?? []).map((link) => ({
    title: link.title,
    type: /** @type {const} */ ('link'),
    url: `/d/${link.uid}?\${__url_time_range}&\${__all_variables}`,
    asDropdown: false,
    icon: 'dashboard',
    includeVars: false,
    keepTime: false,
    tags: [],
    targetBlank: false,
    tooltip: '',
  }));
}

/** @param {PanelOptions} options */
function thresholds(options) {
  const steps = [{ color: 'green', value: null }, ...(options.thresholds ?? [])];
  return { mode: 'absolute', steps };
}

/**
 * A time series panel.
 * @param {PanelOptions} options
 * @param {Query[]} queries
 */
export function timeseries(options, queries) {
  return {
    id: nextId++,
    type: 'timeseries',
    title: options.title,
    description: options.description,
    datasource: DATASOURCE,
    gridPos: { x: 0, y: 0, w: options.w ?? 12, h: options.h ?? 8 },
    links: panelLinks(options.links),
    targets: targets(queries, { exemplars: true }),
    fieldConfig: {
      defaults: {
        unit: options.unit ?? 'short',
        ...(options.min === undefined ? {} : { min: options.min }),
        ...(options.max === undefined ? {} : { max: options.max }),
        ...(options.decimals === undefined ? {} : { decimals: options.decimals }),
        color: { mode: 'palette-classic' },
        thresholds: thresholds(options),
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: options.stack ? 40 : 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: options.stack ? 'normal' : 'none', group: 'A' },
          thresholdsStyle: { mode: options.thresholds ? 'line+area' : 'off' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['mean', 'max', 'lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

/**
 * A single-number panel. `noValue` is 0: these are rates and ratios of things that may not have
 * happened yet, and "0" reads better than "No data".
 * @param {PanelOptions} options
 * @param {Query} query
 */
export function stat(options, query) {
  return {
    id: nextId++,
    type: 'stat',
    title: options.title,
    description: options.description,
    datasource: DATASOURCE,
    gridPos: { x: 0, y: 0, w: options.w ?? 6, h: options.h ?? 4 },
    links: panelLinks(options.links),
    targets: targets([query]),
    fieldConfig: {
      defaults: {
        unit: options.unit ?? 'short',
        noValue: '0',
        ...(options.decimals === undefined ? {} : { decimals: options.decimals }),
        color: { mode: 'thresholds' },
        thresholds: thresholds(options),
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
      percentChangeColorMode: 'standard',
    },
  };
}

/** A full-width row header. */
export function row(/** @type {string} */ title) {
  return { id: nextId++, type: /** @type {const} */ ('row'), title, collapsed: false, gridPos: { x: 0, y: 0, w: 24, h: 1 }, panels: [] };
}

/**
 * Left to right, top to bottom, wrapping at 24 columns; a row header always starts a new line.
 * @template {{ type: string, gridPos: { x: number, y: number, w: number, h: number } }} P
 * @param {P[]} panels
 * @returns {P[]}
 */
export function layout(panels) {
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  for (const panel of panels) {
    const { w, h } = panel.gridPos;
    if (panel.type === 'row' || x + w > 24) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    panel.gridPos = { x, y, w, h };
    x += w;
    lineHeight = Math.max(lineHeight, h);
    if (panel.type === 'row') x = 24;
  }
  return panels;
}

// ---------------------------------------------------------------------------------------------------
// Variables and the dashboard itself.

/**
 * A multi-value query variable whose "All" is the regex `.*`, so queries can always say `=~"$var"`.
 * @param {string} variable
 * @param {string} label
 * @param {string} query  `label_values(selector, label)`
 */
export function queryVariable(variable, label, query) {
  return {
    type: /** @type {const} */ ('query'),
    name: variable,
    label,
    datasource: DATASOURCE,
    query,
    refresh: /** @type {const} */ (2), // on time range change: targets come and go
    includeAll: true,
    multi: true,
    allValue: '.*',
    sort: /** @type {const} */ (1),
    hide: /** @type {const} */ (0),
    regex: '',
    skipUrlSync: false,
  };
}

export const variables = [
  {
    type: /** @type {const} */ ('datasource'),
    name: 'datasource',
    label: 'Data source',
    query: 'prometheus',
    refresh: /** @type {const} */ (1),
    hide: /** @type {const} */ (0),
    includeAll: false,
    multi: false,
    regex: '',
    skipUrlSync: false,
  },
  queryVariable('job', 'Job', 'label_values(target_info, job)'),
  queryVariable('service', 'Service', 'label_values(target_info{job=~"$job"}, service_name)'),
  queryVariable('instance', 'Instance', 'label_values(target_info{job=~"$job", service_name=~"$service"}, instance)'),
];

/**
 * @param {{ uid: string, title: string, description: string, panels: object[], extraVariables?: object[] }} spec
 */
export function dashboard(spec) {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [TAG],
    editable: true,
    graphTooltip: /** @type {const} */ (1),
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: '10s',
    time: { from: 'now-30m', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    fiscalYearStartMonth: 0,
    liveNow: false,
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    links: [
      {
        title: 'plandex-perf',
        type: /** @type {const} */ ('dashboards'),
        tags: [TAG],
        asDropdown: false,
        icon: 'external link',
        includeVars: true,
        keepTime: true,
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    templating: { list: [...variables, ...(spec.extraVariables ?? [])] },
    panels: layout(/** @type {any[]} */ (spec.panels)),
  };
}
