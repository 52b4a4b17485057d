import { describe, expect, it } from 'vitest';
import { nextState, type Sample, type Thresholds } from '../../plugins/heap-budget/budget.js';
import { heapLimitAdvice, nodeOptionsFor } from '../../plugins/heap-budget/advice.js';
import { exemptMatcher } from '../../plugins/heap-budget/shed.js';
import { resolveProfile } from '../../src/profiles.js';

const t: Thresholds = { softHeapRatio: 0.7, hardHeapRatio: 0.9, maxRssBytes: 0, maxEventLoopDelayMs: 0, hysteresis: 0.05 };
const at = (ratio: number, extra: Partial<Sample> = {}): Sample => ({ heapUsed: ratio * 1000, heapLimit: 1000, rss: 0, eventLoopDelayMs: 0, ...extra });

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

  it('sheds on RSS and on event-loop delay when those limits are set, and not when they are 0', () => {
    expect(nextState('ok', at(0.1, { rss: 600 }), { ...t, maxRssBytes: 500 })).toBe('shedding');
    expect(nextState('shedding', at(0.1, { rss: 490 }), { ...t, maxRssBytes: 500 })).toBe('shedding');
    expect(nextState('shedding', at(0.1, { rss: 400 }), { ...t, maxRssBytes: 500 })).toBe('ok');
    expect(nextState('ok', at(0.1, { eventLoopDelayMs: 300 }), { ...t, maxEventLoopDelayMs: 200 })).toBe('shedding');
    expect(nextState('ok', at(0.1, { rss: 1e12, eventLoopDelayMs: 1e6 }), t)).toBe('ok');
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
