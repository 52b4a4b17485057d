/**
 * The Grafana dashboards without a Prometheus: generated from their sources, well-formed, typed
 * against Grafana's own dashboard schema, and querying only metric names the plugins declare (or
 * that dashboards/pending-metrics.json lists). test/integration/dashboards.test.ts runs the queries.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM generator, shared with `node dashboards/generate.mjs`
import { render } from '../../dashboards/generate.mjs';
import {
  allowedNameRegexes,
  loadDashboards,
  metricReferences,
  panelsOf,
  pendingMetrics,
  prometheusName,
  queriesOf,
  root,
  semconvNames,
  variablesUsedIn,
  type DashboardJson,
} from '../integration/dashboards-lib.js';

const dashboards = loadDashboards();
const PANEL_TYPES = new Set(['row', 'timeseries', 'stat']);

describe('dashboards: files', () => {
  it('are the output of dashboards/generate.mjs (edit dashboards/src, then run it)', () => {
    const rendered = render() as Record<string, string>;
    expect(Object.keys(rendered).sort()).toEqual(dashboards.map((d) => d.file));
    for (const { file, text } of dashboards) expect(text, `dashboards/${file} is stale: run node dashboards/generate.mjs`).toBe(rendered[file]);
  });

  it('are the four dashboards, with unique uids, linked to each other by tag', () => {
    expect(dashboards.map((d) => d.dashboard.title).sort()).toEqual([
      'plandex-perf / Cache',
      'plandex-perf / Database and pools',
      'plandex-perf / Overview',
      'plandex-perf / Runtime and heap budget',
    ]);
    const uids = dashboards.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { dashboard } of dashboards) {
      expect(dashboard.tags).toContain('plandex-perf');
      expect(dashboard.links).toContainEqual(expect.objectContaining({ type: 'dashboards', tags: ['plandex-perf'] }));
      // Panel links name another dashboard by uid.
      for (const panel of panelsOf(dashboard)) {
        for (const link of panel.links ?? []) expect(uids, `${dashboard.uid} / ${panel.title}: ${link.url}`).toContain(/^\/d\/([\w-]+)/.exec(link.url ?? '')?.[1]);
      }
    }
  });
});

describe('dashboards: structure', () => {
  it.each(dashboards.map((d) => [d.file, d.dashboard] as const))('%s has the required fields, variables and a valid layout', (_file, dashboard: DashboardJson) => {
    expect(dashboard.title).toMatch(/\S/);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const variables = dashboard.templating.list;
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'service', 'instance']) expect(variables.find((v) => v.name === name)).toMatchObject({ type: 'query', includeAll: true, allValue: '.*' });
    const defined = new Set(variables.map((v) => v.name));

    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const panel of panelsOf(dashboard)) {
      const where = `${dashboard.uid} / ${panel.title}`;
      expect(PANEL_TYPES.has(panel.type), `${where}: panel type ${panel.type}`).toBe(true);
      expect(ids.has(panel.id), `${where}: duplicate id ${panel.id}`).toBe(false);
      ids.add(panel.id);
      const { x, y, w, h } = panel.gridPos;
      expect([x, y, w, h].every(Number.isInteger) && x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, `${where}: gridPos ${JSON.stringify(panel.gridPos)}`).toBe(true);
      for (let cx = x; cx < x + w; cx++) {
        for (let cy = y; cy < y + h; cy++) {
          expect(cells.has(`${cx},${cy}`), `${where}: overlaps another panel at ${cx},${cy}`).toBe(false);
          cells.add(`${cx},${cy}`);
        }
      }
      if (panel.type === 'row') continue;
      expect(panel.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, `${where}: no targets`).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${where}: duplicate refId`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.datasource, where).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(target.expr, where).toMatch(/\S/);
        for (const variable of variablesUsedIn(target.expr)) expect(defined.has(variable), `${where}: $${variable} is not a variable`).toBe(true);
      }
    }
  });

  it("type-checks against Grafana's dashboard schema (@grafana/schema) and the timeseries and stat panel options", () => {
    const schemaDir = path.join(root, 'node_modules/@grafana/schema/dist/types');
    expect(fs.existsSync(schemaDir), '@grafana/schema is a devDependency: run npm install').toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-dashboards-'));
    try {
      const files: string[] = [];
      for (const { file, text, dashboard } of dashboards) {
        // Grafana's types use string enums (LegendDisplayMode.Table = 'table'); JSON holds their values,
        // so the types are checked with each enum replaced by the union of its values.
        const lines = [
          "import type { Dashboard } from '@grafana/schema';",
          "import type { Options as TimeSeriesOptions, FieldConfig as TimeSeriesFieldConfig } from 'grafana-panel-timeseries';",
          "import type { Options as StatOptions } from 'grafana-panel-stat';",
          'type Loose<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? Loose<U>[] : T extends (...args: never[]) => unknown ? T : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;',
          `export const dashboard = ${text.trim()} satisfies Loose<Dashboard>;`,
        ];
        panelsOf(dashboard).forEach((panel, index) => {
          if (panel.type === 'timeseries') {
            lines.push(`export const options${index} = ${JSON.stringify(panel.options)} satisfies Loose<TimeSeriesOptions>;`);
            lines.push(`export const custom${index} = ${JSON.stringify(panel.fieldConfig?.defaults.custom)} satisfies Loose<TimeSeriesFieldConfig>;`);
          } else if (panel.type === 'stat') {
            lines.push(`export const options${index} = ${JSON.stringify(panel.options)} satisfies Loose<StatOptions>;`);
          }
        });
        const name = `${path.basename(file, '.json')}.ts`;
        fs.writeFileSync(path.join(dir, name), `${lines.join('\n')}\n`);
        files.push(name);
      }
      const composable = path.join(schemaDir, 'raw/composable');
      fs.writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'ES2022',
            module: 'ESNext',
            moduleResolution: 'Bundler',
            types: [],
            skipLibCheck: true,
            paths: {
              '@grafana/schema': [path.join(schemaDir, 'index.d.ts')],
              'grafana-panel-timeseries': [path.join(composable, 'timeseries/panelcfg/x/types.gen.d.ts')],
              'grafana-panel-stat': [path.join(composable, 'stat/panelcfg/x/types.gen.d.ts')],
            },
          },
          files,
        }),
      );
      const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
      try {
        execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        expect.fail(`the dashboards do not match Grafana's schema:\n${stdout ?? ''}${stderr ?? ''}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards: exemplars', () => {
  it('are on for every histogram latency quantile of a time series panel, and nowhere else', () => {
    let on = 0;
    for (const { dashboard } of dashboards) {
      for (const panel of panelsOf(dashboard)) {
        for (const target of panel.targets ?? []) {
          const where = `${dashboard.uid} / ${panel.title} / ${target.refId}`;
          const histogram = /^histogram_quantile\(/.test(target.expr) && /_bucket"/.test(target.expr);
          const exemplar = (target as { exemplar?: boolean }).exemplar;
          if (histogram && panel.type === 'timeseries') {
            expect(exemplar, `${where}: a latency panel without exemplars cannot link a slow bucket to its trace`).toBe(true);
            on++;
          } else {
            // A stat panel cannot draw exemplars (asking would only add a query_exemplars call per refresh); a rate or gauge has none.
            expect(exemplar, `${where}: exemplar on a target that has none to show`).toBeUndefined();
          }
        }
      }
    }
    expect(on).toBeGreaterThanOrEqual(10);
  });
});

describe('dashboards: metric names', () => {
  it("query only names from a plugin's semconv.ts or dashboards/pending-metrics.json, in both exporters' forms", async () => {
    const declared = [...(await semconvNames()).values()].flat();
    const pending = pendingMetrics().map((m) => m.name);
    const allowed = allowedNameRegexes([...declared, ...pending]);
    const problems: string[] = [];
    for (const { dashboard } of dashboards) {
      for (const query of queriesOf(dashboard)) {
        const where = `${query.dashboard} / ${query.panel} / ${query.refId}`;
        const refs = metricReferences(query.expr);
        if (refs.regexes.length === 0) problems.push(`${where}: selects no metric by __name__`);
        for (const op of refs.nameMatchers) if (op !== '=~') problems.push(`${where}: __name__${op} (use =~ so the Collector's unit suffix matches too)`);
        for (const regex of refs.regexes) if (!allowed.has(regex)) problems.push(`${where}: ${regex} is not a semconv.ts or pending metric name`);
        // target_info is the resource metric every OpenTelemetry Prometheus exporter writes (the spec's name).
        for (const name of refs.bare) if (name !== 'target_info') problems.push(`${where}: bare metric name ${name} (select it with {__name__=~"..."})`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('pending-metrics.json lists exactly the names the dashboards use before a plugin declares them', async () => {
    const byPlugin = await semconvNames();
    const declared = new Set([...byPlugin.values()].flat());
    const pending = pendingMetrics();
    for (const metric of pending) {
      expect(declared.has(metric.name), `${metric.name} is now in a semconv.ts: remove it from dashboards/pending-metrics.json`).toBe(false);
      expect(metric).toMatchObject({ plugin: expect.any(String), unit: expect.any(String), description: expect.any(String) });
      expect(['counter', 'gauge', 'histogram']).toContain(metric.type);
    }
    const used = new Set(
      dashboards.flatMap(({ dashboard }) => queriesOf(dashboard).flatMap((q) => metricReferences(q.expr).regexes.map((r) => allowedNameRegexes(pending.map((m) => m.name)).get(r)))),
    );
    for (const metric of pending) expect(used.has(metric.name), `${metric.name} is pending but no dashboard uses it`).toBe(true);
    expect(new Set(pending.map((m) => prometheusName(m.name))).size).toBe(pending.length);
  });
});
