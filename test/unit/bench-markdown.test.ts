// `plandex-perf bench`'s Markdown on 503s: it names what answered them (the heap budget or the concurrency
// limit, from their own counters over the measured window), and names no shedder when it cannot tell.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM shared with the bench
import { benchMarkdown } from '../../loadtests/bench/report/markdown.mjs';
// @ts-expect-error plain ESM shared with the bench
import { summarize } from '../../loadtests/bench/report/kpis.mjs';
import { benchRun } from './bench-fixtures.js';

const run = (variant: string, round: number, extra: Record<string, unknown> = {}) => benchRun(variant, round, 100, extra);

const results = (runs: ReturnType<typeof run>[]) => ({
  format: 'plandex-perf-bench/1',
  meta: {
    date: '2026-12-03T10:00:00.000Z', node: 'v24.22.3', cpu: 'cpu', cpus: 2, totalMemBytes: 2 ** 32, platform: 'linux x64', loadavgBefore: [0, 0, 0],
    database: 'local', pinning: 'none', defaultHeapLimitMB: 2048, mix: ['GET /hello ×1'], ids: 'zipf', ignoredEnv: [],
    options: { profile: 'auto', scenario: 'load', connections: 8, warmupSec: 1, durationSec: 4, rounds: 2, scale: 1, cache: true },
    variants: { bare: { command: 'node loadtests/app/server.mjs' }, plugin: { command: 'node --import dist/register.js loadtests/app/server.mjs', env: {} } },
  },
  runs,
  summary: summarize(runs),
  problems: [],
});

const line503 = (md: string) => md.split('\n').find((l) => l.includes('503'))?.replace(/^.*(503 answers)/, '$1');

describe('the 503 line of the bench report', () => {
  it('credits the concurrency limit with the 503s it counted, not the heap budget', () => {
    const md = benchMarkdown(results([run('bare', 1), run('plugin', 1, { shed: 30, shedBy: { heapBudget: 0, concurrencyLimit: 30 } }), run('plugin', 2, { shed: 12, shedBy: { heapBudget: 0, concurrencyLimit: 12 } })]));
    expect(line503(md)).toBe("503 answers with the plugin: 42 (42 by the concurrency limit; from the shedders' own counters over the same window).");
    expect(md).not.toContain('heap budget');
  });

  it('splits them when both shed, and leaves what neither counted to the app', () => {
    const md = benchMarkdown(results([run('bare', 1), run('plugin', 1, { shed: 10, shedBy: { heapBudget: 6, concurrencyLimit: 3 } })]));
    expect(line503(md)).toBe("503 answers with the plugin: 10 (3 by the concurrency limit, 6 by the heap budget, 1 counted by neither shedder, so the app's; from the shedders' own counters over the same window).");
  });

  it('names no shedder when a run could not tell (an older results file, /metrics unanswered)', () => {
    const md = benchMarkdown(results([run('bare', 1), run('plugin', 1, { shed: 10, shedBy: { heapBudget: 10, concurrencyLimit: 0 } }), run('plugin', 2, { shed: 5 })]));
    expect(line503(md)).toBe("503 answers with the plugin: 15 (what answered them is not known: the shedders' counters were not read).");
    expect(line503(benchMarkdown(results([run('bare', 1), run('plugin', 1)])))).toBe('503 answers with the plugin: 0.');
  });
});
