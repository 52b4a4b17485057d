import { describe, expect, it } from 'vitest';
import { boundedLabel } from '../../src/bounded.js';
import { RequestAttributes, parseAttributeSpecs } from '../../plugins/http/attributes.js';

// src/bounded.ts: the cap on a label's values, and (with forgetAfterMs) the places freed by values gone quiet.
describe('boundedLabel', () => {
  it('without forgetAfterMs keeps the first values for good', () => {
    let now = 0;
    const bound = boundedLabel('tenants (test)', 2, { now: () => now });
    expect(['a', 'b', 'c'].map(bound)).toEqual(['a', 'b', '_OTHER']);
    now = 1e12;
    expect(bound('c')).toBe('_OTHER');
    expect(bound('a')).toBe('a');
  });

  it('with forgetAfterMs, a value unseen that long frees its place for a new one', () => {
    let now = 0;
    const bound = boundedLabel('tenants (test)', 2, { forgetAfterMs: 1000, now: () => now });
    expect(bound('a')).toBe('a');
    now = 500;
    expect(bound('b')).toBe('b');
    now = 999;
    expect(bound('c')).toBe('_OTHER'); // a was seen 999 ms ago: not yet
    now = 1000;
    expect(bound('c')).toBe('c'); // a's place
    expect(bound('a')).toBe('_OTHER'); // a came back to a full bound: it is a new value now
    now = 1499;
    expect(bound('b')).toBe('b'); // seen again: keeps its place
    now = 2000;
    expect(bound('d')).toBe('d'); // c (seen at 1000) goes; b (1499) stays
    expect(bound('b')).toBe('b');
    expect(bound('c')).toBe('_OTHER');
  });

  it('a value in use keeps its place however old it is', () => {
    let now = 0;
    const bound = boundedLabel('tenants (test)', 1, { forgetAfterMs: 1000, now: () => now });
    for (now = 0; now <= 10_000; now += 400) {
      expect(bound('busy')).toBe('busy');
      expect(bound(`new-${now}`)).toBe('_OTHER');
    }
  });

  it('scans for quiet values only once a place can be free', () => {
    let now = 0;
    let reads = 0;
    const bound = boundedLabel('tenants (test)', 100, { forgetAfterMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) bound(`t${i}`);
    // Count the scans through the map's iterator: none while every value is younger than forgetAfterMs.
    const iterate = Map.prototype[Symbol.iterator];
    Map.prototype[Symbol.iterator] = function (this: Map<unknown, unknown>) {
      reads++;
      return iterate.call(this);
    };
    const flood: string[] = [];
    let readsInFlood: number;
    let late: string;
    try {
      now = 999;
      for (let i = 0; i < 1000; i++) flood.push(bound(`flood${i}`));
      readsInFlood = reads;
      now = 1000;
      late = bound('late');
    } finally {
      Map.prototype[Symbol.iterator] = iterate;
    }
    expect(new Set(flood)).toEqual(new Set(['_OTHER']));
    expect(readsInFlood).toBe(0);
    expect(late).toBe('late');
    expect(reads).toBe(1);
  });
});

describe('RequestAttributes with the stale-series time', () => {
  it('gives a new tenant the place of one that went quiet, per attribute', () => {
    let now = 0;
    const attributes = new RequestAttributes(parseAttributeSpecs(['tenant.id=header:x-tenant-id']), 2, { forgetAfterMs: 60_000, now: () => now });
    const read = (tenant: string) => {
      const into: Record<string, unknown> = {};
      attributes.read({ headers: { 'x-tenant-id': tenant }, param: () => undefined }, into);
      return into['tenant.id'];
    };
    expect([read('acme'), read('globex'), read('initech')]).toEqual(['acme', 'globex', '_OTHER']);
    now = 30_000;
    expect(read('globex')).toBe('globex');
    now = 60_000;
    expect(read('initech')).toBe('initech'); // acme quiet for 60 s: its place
    expect(read('umbrella')).toBe('_OTHER'); // globex was seen 30 s ago
  });
});
