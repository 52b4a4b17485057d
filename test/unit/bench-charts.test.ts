// The bench's pool-size and concurrency-limit series: what the sampler keeps from a scrape of /metrics,
// how it samples, and how the report charts (or explains the absence of) what it kept.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM shared with the benches
import { metricsSampler, parseGauges, seriesRanges } from '../../loadtests/lib/metrics-sampler.mjs';
// @ts-expect-error plain ESM shared with the bench
import { benchHtml, CHARTS, chartData } from '../../loadtests/bench/report/html.mjs';
// @ts-expect-error plain ESM shared with the bench
import { benchMarkdown } from '../../loadtests/bench/report/markdown.mjs';

// The shape of the reference app's /metrics (names and labels as a scrape of it gave them), two pools.
const pool = (name: string, max: number, used: number, idle: number, pending: number) => `
# HELP db_client_connection_count Connections in each state (idle, used), per pool.
# TYPE db_client_connection_count gauge
db_client_connection_count{db_client_connection_pool_name="${name}",db_client_connection_state="idle",otel_scope_name="@plandex-perf/register"} ${idle}
db_client_connection_count{db_client_connection_pool_name="${name}",db_client_connection_state="used",otel_scope_name="@plandex-perf/register"} ${used}
db_client_connection_max{db_client_connection_pool_name="${name}",otel_scope_name="@plandex-perf/register"} ${max}
db_client_connection_pending_requests{db_client_connection_pool_name="${name}",otel_scope_name="@plandex-perf/register"} ${pending}
db_client_connection_wait_time_bucket{db_client_connection_pool_name="${name}",otel_scope_name="@plandex-perf/register",le="+Inf"} 21`;
const limit = (l: number, inFlight: number, queued: number) => `
# HELP plandex_perf_concurrency_limit_limit Requests allowed to run at once.
# TYPE plandex_perf_concurrency_limit_limit gauge
plandex_perf_concurrency_limit_limit{otel_scope_name="@plandex-perf/register"} ${l}
plandex_perf_concurrency_limit_in_flight{otel_scope_name="@plandex-perf/register"} ${inFlight}
plandex_perf_concurrency_limit_queued{otel_scope_name="@plandex-perf/register"} ${queued}
plandex_perf_concurrency_limit_baseline{otel_scope_name="@plandex-perf/register"} 0.09`;
const other = '\nv8js_memory_heap_used{v8js_heap_space_name="new_space"} 123456\nhttp_server_request_duration_count 5\n';

describe('parseGauges', () => {
  it('sums the pools, counts only the used connections, and reads the limit when it is on', () => {
    expect(parseGauges(other + pool('a', 10, 3, 7, 2) + pool('b', 4, 1, 3, 0) + limit(21, 5, 1))).toEqual({ pool: [14, 4, 2], limit: [21, 5, 1] });
  });

  it('has no limit while the limit is off, and nothing without a pg pool', () => {
    expect(parseGauges(pool('a', 10, 0, 10, 0) + other)).toEqual({ pool: [10, 0, 0], limit: null });
    expect(parseGauges(other)).toEqual({ pool: null, limit: null });
    expect(parseGauges('')).toEqual({ pool: null, limit: null });
  });
});

describe('metricsSampler', () => {
  it('stamps each scrape in ms since the origin, keeps the gauges, and counts failures with the first reason', async () => {
    let clock = 1000;
    const answers = [pool('a', 10, 2, 8, 0), pool('a', 12, 11, 1, 3) + limit(20, 11, 0), 'fail', other];
    const fetchText = async () => {
      const text = answers.shift()!;
      if (text === 'fail') throw Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      return text;
    };
    const sampler = metricsSampler({ url: 'http://x/metrics', origin: 400, now: () => clock, fetchText });
    for (const step of [0, 1000, 1000, 1000]) {
      clock += step;
      await sampler.tick();
    }
    const series = await sampler.stop();
    expect(series).toEqual({
      intervalMs: 1000,
      scrapes: 3,
      failures: 1,
      error: 'ECONNREFUSED',
      pool: [[600, 10, 2, 0], [1600, 12, 11, 3]],
      limit: [[1600, 20, 11, 0]],
    });
    expect(seriesRanges(series)).toEqual({ scrapes: 3, pool: { max: [10, 12], used: [2, 11], pending: [0, 3] }, limit: { limit: [20, 20], inFlight: [11, 11], queued: [0, 0] } });
    expect(seriesRanges(null)).toBeNull();
  });

  it('never has two scrapes out at once, and stop waits for the one that is', async () => {
    let release = () => {};
    let calls = 0;
    const fetchText = () => {
      calls++;
      return new Promise<string>((resolve) => (release = () => resolve(pool('a', 10, 1, 9, 0))));
    };
    const sampler = metricsSampler({ url: 'http://x/metrics', now: () => 0, fetchText });
    const first = sampler.tick();
    expect(sampler.tick()).toBe(first); // a tick while a scrape is out joins it
    expect(calls).toBe(1);
    const stopped = sampler.stop();
    release();
    expect((await stopped).pool).toEqual([[0, 10, 1, 0]]);
  });
});

// A results object as suite.mjs writes it, cut to what the report reads.
const run = (variant: string, metricsSeries: unknown) => ({
  variant,
  round: 1,
  rps: 100,
  percentiles: [[50, 5], [90, 8], [99, 12]],
  perSecond: [{ ok: 100, meanMs: 5 }, { ok: 101, meanMs: 5 }],
  rssSeries: [[0, 40], [500, 60]],
  loadWindowMs: [1500, 5500],
  metricsSeries,
});
const series = (o: { pool?: number[][]; limit?: number[][]; scrapes?: number }) => ({ intervalMs: 1000, scrapes: o.scrapes ?? 3, failures: 0, error: null, pool: o.pool ?? [], limit: o.limit ?? [] });
const results = (plugin: unknown) => ({
  format: 'plandex-perf-bench/1',
  meta: {
    date: '2026-12-03T10:00:00.000Z', node: 'v24.22.3', cpu: 'cpu', cpus: 2, totalMemBytes: 2 ** 32, platform: 'linux x64', loadavgBefore: [0, 0, 0],
    database: 'local', pinning: 'none', defaultHeapLimitMB: 2048, mix: ['GET /hello ×1'], ids: 'zipf',
    options: { profile: 'auto', scenario: 'load', connections: 8, warmupSec: 1, durationSec: 4, rounds: 1, scale: 1, cache: true },
    variants: { bare: { command: 'node loadtests/app/server.mjs' }, plugin: { command: 'node --import dist/register.js loadtests/app/server.mjs', env: {} } },
  },
  runs: [run('bare', null), run('plugin', plugin)],
  summary: { bare: { representative: { round: 1 }, requests: 1 }, plugin: { representative: { round: 1 }, requests: 1 } },
  problems: [],
});

describe('the pool and concurrency charts', () => {
  it('are in CHARTS, so the end-to-end test checks that they draw', () => {
    expect(CHARTS).toEqual(expect.arrayContaining(['pool', 'concurrency']));
  });

  it("draw the plugin's figures over time and give bare a legend entry that says why it has no line", () => {
    const data = chartData(results(series({ pool: [[1010, 10, 2, 0], [2020, 12, 9, 1]], limit: [[1010, 20, 2, 0], [2020, 24, 9, 0]] })));
    expect(data.pool.x).toEqual([1, 2]);
    expect(data.pool.note).toBeNull();
    expect(data.pool.series.map((s: { label: string }) => s.label)).toEqual(["bare: pg's fixed max 10, no /metrics to sample", 'plugin: pool max', 'plugin: in use', 'plugin: waiting for a connection']);
    expect(data.pool.series[0].ys).toEqual([null, null]);
    expect(data.pool.series.slice(1).map((s: { ys: unknown }) => s.ys)).toEqual([[10, 12], [2, 9], [0, 1]]);
    expect(data.concurrency.series.map((s: { label: string }) => s.label)).toEqual(['bare: no limit, no /metrics to sample', 'plugin: limit', 'plugin: in flight', 'plugin: queued']);
    expect(data.concurrency.series[1].ys).toEqual([20, 24]);
  });

  it('say "concurrency limit off in this run" instead of drawing an empty chart, in the page and in the summary', () => {
    const r = results(series({ pool: [[1000, 10, 2, 0], [2000, 10, 3, 0]] }));
    const data = chartData(r);
    expect(data.concurrency).toEqual({ x: [], series: [], note: 'concurrency limit off in this run (its default)' });
    expect(data.pool.note).toBeNull();
    const html = benchHtml(r);
    expect(html).toContain('<div class="chart" id="chart-concurrency" data-chart="concurrency" data-rendered="0" data-note="concurrency limit off in this run (its default)"><p class="note">Concurrency limit off in this run (its default).</p></div>');
    expect(html).toContain('<div class="chart" id="chart-pool" data-chart="pool"></div>');
    expect(benchMarkdown(r)).toContain("Over the plugin's run (/metrics scraped once a second, 3 times): pool max 10, in use 2–3, waiting 0; concurrency limit off in this run (its default).");
  });

  it('say so when /metrics never answered, rather than calling the limit off', () => {
    const data = chartData(results(series({ scrapes: 0 })));
    expect(data.pool.note).toBe("the plugin's /metrics did not answer during the run");
    expect(data.concurrency.note).toBe("the plugin's /metrics did not answer during the run");
    expect(benchMarkdown(results(series({ scrapes: 0 })))).not.toContain("Over the plugin's run");
  });
});
