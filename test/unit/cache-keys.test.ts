import { describe, expect, it } from 'vitest';
import { argsKey, functionKey, l2Key, MAX_ARG_TEXT, UnkeyableError } from '../../plugins/cache/keys.js';
import { parseDuration } from '../../plugins/cache/duration.js';

describe('cache keys', () => {
  it('is stable across object key order and spells out Dates, BigInts, Buffers, Maps and Sets', () => {
    expect(argsKey([{ a: 1, b: 'x' }])).toBe(argsKey([{ b: 'x', a: 1 }]));
    expect(argsKey([new Date(5)])).toBe(argsKey([new Date(5)]));
    expect(argsKey([new Date(5)])).not.toBe(argsKey([new Date(6)]));
    expect(argsKey([10n])).not.toBe(argsKey([10]));
    expect(argsKey([Buffer.from('ab')])).not.toBe(argsKey([Buffer.from('ac')]));
    expect(argsKey([new Map([[1, 'a'], [2, 'b']])])).toBe(argsKey([new Map([[2, 'b'], [1, 'a']])]));
    expect(argsKey([new Set([1, 2])])).toBe(argsKey([new Set([2, 1])]));
    expect(argsKey([{ a: undefined }])).toBe(argsKey([{}]));
  });

  it('never gives two different argument lists the same key', () => {
    const lists: unknown[][] = [[], ['a,b'], ['a', 'b'], ['ab'], [1], ['1'], [true], ['T'], [null], [undefined], [[1, 2]], [[1], [2]], [{ a: 1 }], [{ a: '1' }], ['1:a'], ['', 'a'], [new Map()], [new Set()], [{}], [[]]];
    const keys = lists.map((args) => argsKey(args));
    expect(new Set(keys).size).toBe(lists.length);
  });

  it('keeps class instances apart from plain objects with the same fields', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    expect(argsKey([new Point(1)])).not.toBe(argsKey([{ x: 1 }]));
  });

  it('hashes long argument text so L1 keys stay small', () => {
    const key = argsKey(['x'.repeat(1000)]);
    expect(key.length).toBeLessThanOrEqual(MAX_ARG_TEXT);
    expect(key).toMatch(/^#[0-9a-f]{32}$/);
  });

  it('refuses functions, symbols and cycles', () => {
    expect(() => argsKey([() => 1])).toThrow(UnkeyableError);
    expect(() => argsKey([Symbol('s')])).toThrow(UnkeyableError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => argsKey([cycle])).toThrow(UnkeyableError);
  });

  it('builds pperf:<fn>:<version>:<128-bit hash> and shortens long identities', () => {
    expect(l2Key('pperf', functionKey('src/plans.js#getUserPlans', '3'), 'n1,')).toMatch(/^pperf:src\/plans\.js#getUserPlans:3:[0-9a-f]{32}$/);
    expect(functionKey('x'.repeat(500), '1').length).toBeLessThan(110);
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(1200)).toBe(1200);
    expect(parseDuration('120')).toBe(120);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});
