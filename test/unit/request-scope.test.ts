import { describe, expect, it } from 'vitest';
import { HttpRequestScope } from '../../src/request-scope.js';

describe('request scope: per-request data and end-of-request checks', () => {
  it('keeps each plugin’s data under its own key, the first in fields and the rest in a Map', () => {
    const scope = new HttpRequestScope({ url: '/a' }, () => '/a');
    const one = Symbol('one');
    const two = Symbol('two');
    expect(scope.get(one)).toBeUndefined();
    scope.set(one, 1);
    scope.set(two, 2);
    scope.set(one, 11);
    expect([scope.get(one), scope.get(two), scope.get(Symbol('other'))]).toEqual([11, 2, undefined]);
  });

  it('runs every check once, in order, with the final route; then drops the request, the data and the checks', () => {
    const request = { url: '/users/7' };
    const scope = new HttpRequestScope(request, () => 'live route');
    const key = Symbol('k');
    scope.set(key, 'v');
    const seen: string[] = [];
    scope.onFinish((route) => seen.push(`first ${route}`));
    scope.onFinish((route) => seen.push(`second ${route}`));
    expect(scope.route()).toBe('live route');
    scope.finish('/users/:id');
    scope.finish('/again');
    expect(seen).toEqual(['first /users/:id', 'second /users/:id']);
    expect(scope.route()).toBe('/users/:id');
    expect(scope.get(key)).toBeUndefined();
    // A late query after the response keeps nothing and runs no check.
    scope.set(key, 'late');
    scope.onFinish(() => seen.push('late'));
    expect(scope.get(key)).toBeUndefined();
    expect(seen).toHaveLength(2);
  });
});
