import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { bindToCaller, keepAcrossQueues } from '../../src/async-context.js';

/** A queue like pg-pool's: callbacks parked by one caller are called from inside another caller's work. */
function queue() {
  const parked: ((value: string) => void)[] = [];
  return {
    park: (fn: (value: string) => void) => void parked.push(fn),
    drain: (value: string) => {
      for (const fn of parked.splice(0)) fn(value);
    },
  };
}

describe('bindToCaller', () => {
  const storage = new AsyncLocalStorage<string>();
  const other = new AsyncLocalStorage<string>();
  keepAcrossQueues({ current: () => storage.getStore(), run: (value, fn) => (value === undefined ? storage.exit(fn) : storage.run(value, fn)) });
  keepAcrossQueues({ current: () => other.getStore(), run: (value, fn) => (value === undefined ? other.exit(fn) : other.run(value, fn)) });

  it('a parked callback runs in its caller’s values of every registered store, not the releaser’s', () => {
    const q = queue();
    const seen: (string | undefined)[][] = [];
    storage.run('request A', () => other.run('span A', () => q.park(bindToCaller(() => void seen.push([storage.getStore(), other.getStore()])))));
    storage.run('request B', () => q.park(bindToCaller(() => void seen.push([storage.getStore(), other.getStore()]))));
    q.park(bindToCaller(() => void seen.push([storage.getStore(), other.getStore()])));
    storage.run('releaser', () => other.run('releaser span', () => q.drain('client')));
    expect(seen).toEqual([
      ['request A', 'span A'],
      ['request B', undefined],
      [undefined, undefined],
    ]);
  });

  it('passes arguments, this and the return value through, and re-enters nothing when the context is already right', () => {
    let runs = 0;
    keepAcrossQueues({ current: () => 'same', run: (_value, fn) => (runs++, fn()) });
    const bound = bindToCaller(function (this: unknown, a: number, b: number) {
      return [this, a + b];
    });
    const self = { name: 'pool' };
    expect(bound.call(self, 2, 3)).toEqual([self, 5]);
    expect(runs).toBe(0);
  });

  it('keeps the stores outside the callback as they were, even when it throws', () => {
    const bound = storage.run('caller', () => bindToCaller(() => {
      throw new Error('boom');
    }));
    storage.run('releaser', () => {
      expect(() => bound()).toThrow('boom');
      expect(storage.getStore()).toBe('releaser');
    });
  });

  it('tells an observer of the call first, with the same arguments, in the caller’s context (re-entered or not)', () => {
    const order: unknown[] = [];
    const observer = { called: (error: unknown, client: unknown) => void order.push(['observer', error, client, storage.getStore()]) };
    const make = () => bindToCaller((error: unknown, client: unknown) => (order.push(['callback', error, client, storage.getStore()]), 'done'), observer);
    const parked = storage.run('request A', make);
    expect(storage.run('releaser', () => parked(undefined, 'client 1'))).toBe('done');
    const inPlace = storage.run('request B', () => {
      const bound = make();
      return bound(null, 'client 2'); // called in its own context: nothing re-entered, still told first
    });
    expect(inPlace).toBe('done');
    expect(order).toEqual([
      ['observer', undefined, 'client 1', 'request A'],
      ['callback', undefined, 'client 1', 'request A'],
      ['observer', null, 'client 2', 'request B'],
      ['callback', null, 'client 2', 'request B'],
    ]);
  });
});
