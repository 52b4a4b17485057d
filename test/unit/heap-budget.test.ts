import { describe, expect, it } from 'vitest';
import { nextState, type Sample, type Thresholds } from '../../plugins/heap-budget/budget.js';
import { heapLimitAdvice } from '../../plugins/heap-budget/advice.js';
import { nodeOptionsFor } from '../../src/heap-flags.js';
import { pathMatcher as exemptMatcher } from '../../src/paths.js';
import { LoopDelay, delayMs } from '../../src/loop-delay.js';
import { schema } from '../../plugins/heap-budget/schema.js';
import { resolveProfile } from '../../src/profiles.js';

const t: Thresholds = { softHeapRatio: 0.7, hardHeapRatio: 0.9, maxRssBytes: 0, maxEventLoopDelayMs: 0, hysteresis: 0.05 };
const at = (ratio: number, extra: Partial<Sample> = {}): Sample => ({ heapUsed: ratio * 1000, heapLimit: 1000, rss: 0, external: 0, eventLoopDelayMs: 0, ...extra });

describe('nextState', () => {
  it('goes ok → soft → shedding as the heap fills, and straight to shedding on a jump', () => {
    expect(nextState('ok', at(0.5), t)).toBe('ok');
    expect(nextState('ok', at(0.7), t)).toBe('soft');
    expect(nextState('soft', at(0.9), t)).toBe('shedding');
    expect(nextState('ok', at(0.95), t)).toBe('shedding');
  });

  it('eases only below the threshold minus the hysteresis margin', () => {
    expect(nextState('shedding', at(0.87), t)).toBe('shedding');
    expect(nextState('shedding', at(0.84), t)).toBe('soft');
    expect(nextState('soft', at(0.67), t)).toBe('soft');
    expect(nextState('soft', at(0.64), t)).toBe('ok');
    expect(nextState('shedding', at(0.3), t)).toBe('ok');
  });

  it('sheds on RSS (while JS memory is high too) and on event-loop delay when those limits are set, and not when they are 0', () => {
    const rss = { ...t, maxRssBytes: 500 };
    expect(nextState('soft', at(0.75, { rss: 600 }), rss)).toBe('shedding');
    expect(nextState('shedding', at(0.75, { rss: 490 }), rss)).toBe('shedding');
    expect(nextState('shedding', at(0.75, { rss: 400 }), rss)).toBe('soft');
    // A Buffer leak: little V8 heap, much external memory, RSS at the limit.
    expect(nextState('ok', at(0.1, { external: 700, rss: 600 }), rss)).toBe('shedding');
    expect(nextState('ok', at(0.1, { eventLoopDelayMs: 300 }), { ...t, maxEventLoopDelayMs: 200 })).toBe('shedding');
    expect(nextState('ok', at(0.1, { rss: 1e12, eventLoopDelayMs: 1e6 }), t)).toBe('ok');
  });
});

describe('RSS after a one-off spike', () => {
  // container-512m: maxRssBytes = 90 % of 512 MiB, heap limit 268 MiB; soft 0.7, hard 0.85.
  const MiB = 2 ** 20;
  const container: Thresholds = { softHeapRatio: 0.7, hardHeapRatio: 0.85, maxRssBytes: Math.round(512 * MiB * 0.9), maxEventLoopDelayMs: 0, hysteresis: 0.05 };
  const sample = (heapMb: number, rssMb: number, externalMb = 5): Sample => ({ heapUsed: heapMb * MiB, heapLimit: 268 * MiB, rss: rssMb * MiB, external: externalMb * MiB, eventLoopDelayMs: 0 });

  it('does not shed while RSS stays high but the heap is at 46 % (the issue: minutes of 503 after a snapshot)', () => {
    let state = nextState('ok', sample(123, 300), container);
    expect(state).toBe('ok');
    // The snapshot: RSS jumps past the limit and stays there, the heap does not move.
    for (let i = 0; i < 600; i++) {
      state = nextState(state, sample(123, 480), container);
      expect(state).toBe('ok');
    }
  });

  it('sheds when the heap climbs with RSS high, and recovers as soon as the heap falls, RSS still high', () => {
    let state = nextState('ok', sample(123, 480), container);
    state = nextState(state, sample(200, 480), container); // 75 %: soft, and RSS over: shedding
    expect(state).toBe('shedding');
    state = nextState(state, sample(180, 480), container); // 67 %: within the hysteresis margin
    expect(state).toBe('shedding');
    state = nextState(state, sample(150, 480), container); // 56 %: heap recovered; RSS not, and that is fine
    expect(state).toBe('ok');
  });
});

describe('heap limit advice', () => {
  const profile = resolveProfile('container-512m')!;
  it('is silent when V8 has the profile’s limit (old space + 3 semi-spaces)', () => {
    expect(heapLimitAdvice(profile, (256 + 12) * 2 ** 20)).toBeUndefined();
  });
  it('gives the exact NODE_OPTIONS when it differs', () => {
    const advice = heapLimitAdvice(profile, 4288 * 2 ** 20);
    expect(advice?.message).toContain('4288 MiB');
    expect(advice?.command).toContain('--max-old-space-size=256 --max-semi-space-size=4 --import @plandex-perf/register');
    expect(advice?.command).toContain('plandex-perf run --profile container-512m');
    expect(nodeOptionsFor(profile)).toBe('--max-old-space-size=256 --max-semi-space-size=4 --import @plandex-perf/register');
  });
});

describe('exempt paths', () => {
  const exempt = exemptMatcher(['/health', '/ready/']);
  it('matches a path, what is below it and a query, not look-alikes', () => {
    expect(exempt('/health')).toBe(true);
    expect(exempt('/health?full=1')).toBe(true);
    expect(exempt('/health/db')).toBe(true);
    expect(exempt('/ready/x')).toBe(true);
    expect(exempt('/healthy')).toBe(false);
    expect(exempt('/users/1')).toBe(false);
  });
});

describe('readiness and liveness paths', () => {
  it('keeps liveness exempt and moves readiness out of the exempt list', () => {
    const defaults = schema.defaults() as { exemptPaths: string[]; readinessPaths: string[] };
    expect(defaults.exemptPaths).toEqual(expect.arrayContaining(['/health', '/healthz', '/live', '/livez']));
    expect(defaults.exemptPaths).not.toContain('/ready');
    expect(defaults.exemptPaths).not.toContain('/readyz');
    expect(defaults.readinessPaths).toEqual(['/ready', '/readyz']);
  });
});

describe('shared event-loop delay sampler', () => {
  it('runs its timer only while a reader is open', () => {
    const sampler = new LoopDelay();
    expect(sampler.running).toBe(false);
    const a = sampler.open();
    const b = sampler.open();
    expect(sampler.running).toBe(true);
    a.close();
    a.close();
    expect(sampler.running).toBe(true);
    b.close();
    expect(sampler.running).toBe(false);
    expect(sampler.readerCount).toBe(0);
  });

  it('gives each reader the delay since its own reset, beyond the timer period', () => {
    let now = 0;
    const sampler = new LoopDelay(() => now);
    const budget = sampler.open();
    const diagnostics = sampler.open();
    try {
      for (const late of [0, 0, 5, 150]) {
        now += 20 + late;
        sampler.tick();
      }
      // HDR histograms keep ~3 significant digits.
      expect(delayMs(budget.histogram)).toMatchObject({ p50: 0, max: expect.closeTo(150, 0) });
      budget.reset(); // the budget reads every 500 ms ...
      now += 20;
      sampler.tick();
      expect(delayMs(budget.histogram)).toMatchObject({ max: 0 });
      // ... and does not take the stall away from diagnostics, which reads rarely.
      expect(delayMs(diagnostics.histogram)).toMatchObject({ max: expect.closeTo(150, 0) });
      expect(diagnostics.histogram.count).toBe(5);
      diagnostics.reset();
      expect(delayMs(diagnostics.histogram)).toBeNull();
    } finally {
      budget.close();
      diagnostics.close();
    }
  });
});
