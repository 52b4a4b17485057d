import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM shared with the bench
import { checkResults, compareResults, kpiRows, summarize } from '../../loadtests/bench/report/kpis.mjs';
import { benchRun } from './bench-fixtures.js';

const run = benchRun;

const results = (summary: unknown) => ({ format: 'plandex-perf-bench/1', summary });

describe('bench KPIs', () => {
  it('takes medians over rounds, totals for counts, and the median run as the representative', () => {
    const s = summarize([run('bare', 1, 100), run('bare', 2, 300, { errors: 2 }), run('bare', 3, 200)]);
    expect(s.bare.rps).toBe(200);
    expect(s.bare.errors).toBe(2);
    expect(s.bare.representative.round).toBe(3);
  });

  it('computes ratios and marks targets met or missed, by direction', () => {
    const rows = kpiRows({
      bare: { dbPerRequestMs: 4, p50: 10, p95: 40, p99: 80, rps: 100, hwmMB: 100, cacheHitRatio: null },
      plugin: { dbPerRequestMs: 1, p50: 9, p95: 20, p99: 80, rps: 300, hwmMB: 60, cacheHitRatio: 0.65 },
    });
    const by = Object.fromEntries(rows.map((r: { key: string }) => [r.key, r]));
    expect(by.dbPerRequestMs).toMatchObject({ ratio: 0.25, met: true });
    expect(by.p50).toMatchObject({ ratio: 0.9, met: false }); // target ≤ 0.75×
    expect(by.p95).toMatchObject({ ratio: 0.5, met: true });
    expect(by.rps).toMatchObject({ ratio: 3, met: null }); // no target in the document
    expect(by.hwmMB).toMatchObject({ ratio: 0.6, met: true });
    expect(by.cacheHitRatio).toMatchObject({ ratio: null, plugin: 0.65, met: false }); // target ≥ 70 %
  });

  it('flags a KPI that moved the wrong way beyond the threshold, and only then', () => {
    const before = results({ bare: { rps: 100, p95: 40, cacheHitRatio: null }, plugin: { rps: 200, p95: 20, cacheHitRatio: 0.9 } });
    const slower = results({ bare: { rps: 100, p95: 40 }, plugin: { rps: 170, p95: 21, cacheHitRatio: 0.9 } });
    const c = compareResults(before, slower, 0.1);
    const by = Object.fromEntries(c.rows.map((r: { key: string }) => [r.key, r]));
    expect(by.rps).toMatchObject({ basis: 'ratio', previous: 2, current: 1.7, regressed: true });
    expect(by.p95.regressed).toBe(false); // +5 %, within 10 %
    expect(by.cacheHitRatio).toMatchObject({ basis: 'value', regressed: false });
    expect(by.hwmMB.skipped).toBe(true); // no data on either side: never a regression
    expect(c.regressions.map((r: { key: string }) => r.key)).toEqual(['rps']);
    // Better is never a regression, however large.
    expect(compareResults(slower, before, 0.01).regressions).toEqual([]);
    expect(compareResults(before, before, 0).regressions).toEqual([]);
  });

  it('refuses files that are not bench results, with a code', () => {
    expect(() => checkResults({ hello: 1 }, 'x.json')).toThrow(/^PPERF_ERR_BENCH_RESULTS: x.json/);
    expect(() => checkResults(null, 'y.json')).toThrow(/PPERF_ERR_BENCH_RESULTS/);
  });
});
