import { describe, expect, it } from 'vitest';
import { decode, encode, FORMAT_VERSION, type StoredEntry } from '../../plugins/cache/codec.js';
import { freezeAndMeasure } from '../../plugins/cache/freeze.js';

const entry = (value: unknown): StoredEntry => ({ value, created: 1, expires: 2, grace: 3, stale: 4, tags: ['t'] });

describe('cache codec (L2 format)', () => {
  it('round-trips Date, BigInt, Buffer, Map, Set and nesting, with the times and tags', () => {
    const value = { at: new Date('2026-01-02T03:04:05Z'), big: 2n ** 70n, buf: Buffer.from('hé'), map: new Map([['k', [1, 2]]]), set: new Set(['a']), rows: [{ id: 1, n: null }] };
    const back = decode(encode(entry(value), 1024));
    expect(back).toEqual(entry(value));
    const v = back!.value as typeof value;
    expect(v.at).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(v.buf)).toBe(true);
    expect(typeof v.big).toBe('bigint');
  });

  it('compresses large values and flags it in the header', () => {
    const big = { text: 'plan '.repeat(20_000) };
    const compressed = Buffer.from(encode(entry(big), 1024), 'base64');
    const raw = Buffer.from(encode(entry(big), 0), 'base64');
    expect(compressed[0]).toBe(FORMAT_VERSION);
    expect(compressed[1]! & 1).toBe(1);
    expect(raw[1]! & 1).toBe(0);
    expect(compressed.length).toBeLessThan(raw.length / 10);
    expect(decode(compressed.toString('base64'))!.value).toEqual(big);
  });

  it('reads another format version or a corrupt value as a miss', () => {
    const frame = Buffer.from(encode(entry(1), 0), 'base64');
    frame[0] = FORMAT_VERSION + 1;
    expect(decode(frame.toString('base64'))).toBeUndefined();
    expect(decode('not base64 at all')).toBeUndefined();
    expect(decode('')).toBeUndefined();
  });
});

describe('freezeAndMeasure', () => {
  it('deep-freezes and estimates the size', () => {
    const value = { a: [{ b: 'x'.repeat(1000) }], m: new Map([['k', { c: 1 }]]) };
    const walk = freezeAndMeasure(value);
    expect(Object.isFrozen(value)).toBe(true);
    expect(Object.isFrozen(value.a)).toBe(true);
    expect(Object.isFrozen(value.a[0])).toBe(true);
    expect(Object.isFrozen(value.m.get('k'))).toBe(true);
    expect(walk.bytes).toBeGreaterThan(2000);
    expect(walk.portable).toBe(true);
  });

  it('reports what L2 would change (class instances, functions) and survives cycles', () => {
    class Plan {
      id = 1;
    }
    expect(freezeAndMeasure({ p: new Plan() }).portable).toBe(false);
    expect(freezeAndMeasure({ f: () => 1 }).portable).toBe(false);
    const cycle: Record<string, unknown> = { n: 1 };
    cycle.self = cycle;
    expect(freezeAndMeasure(cycle).portable).toBe(true);
  });
});
