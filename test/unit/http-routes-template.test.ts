import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { express4Alternatives } from '../../plugins/http/express4-path.js';
import { joinRoute, normalizeRoute, templateFromMatch } from '../../plugins/http/route-template.js';

// Express 4's own compiler, so the expressions read back are the ones Express 4 really writes.
const require = createRequire(import.meta.url);
const pathToRegexp = require('express4/node_modules/path-to-regexp') as (path: unknown, keys: { name: string | number }[], options: object) => RegExp;

function readBack(path: string | string[] | RegExp, options: object = { end: false }): string[] | undefined {
  const keys: { name: string | number }[] = [];
  const regexp = pathToRegexp(path, keys, options);
  return express4Alternatives(regexp, keys)?.map((a) => a.template);
}

describe('joinRoute', () => {
  it('joins mount templates and the route path', () => {
    expect(joinRoute(['/api/v2', '/links', '/:linkId'])).toBe('/api/v2/links/:linkId');
    expect(joinRoute(['/accounts/:email', '/profile'])).toBe('/accounts/:email/profile');
  });

  it('adds nothing for a root mount and never doubles a slash', () => {
    expect(joinRoute(['/', '/users'])).toBe('/users');
    expect(joinRoute(['', '/users'])).toBe('/users');
    expect(joinRoute(['/api/', '/users'])).toBe('/api/users');
    expect(joinRoute(['/a', '//b'])).toBe('/a/b');
  });

  it('drops a trailing slash, as non-strict routing matches both', () => {
    expect(joinRoute(['/', '/users/'])).toBe('/users');
    expect(joinRoute(['/api/v2/links', '/'])).toBe('/api/v2/links');
    expect(normalizeRoute('/p/')).toBe('/p');
  });

  it('keeps the root as / and adds a missing leading slash', () => {
    expect(joinRoute([])).toBe('/');
    expect(joinRoute(['/', '/'])).toBe('/');
    expect(joinRoute(['api', 'v2'])).toBe('/api/v2');
    expect(joinRoute(['{regexp}', '/info'])).toBe('/{regexp}/info');
  });
});

describe('express4Alternatives (templates read back from path-to-regexp 0.1)', () => {
  it('reads literals and named parameters, for mounts and routes', () => {
    expect(readBack('/api/v2')).toEqual(['/api/v2']);
    expect(readBack('/accounts/:email')).toEqual(['/accounts/:email']);
    expect(readBack('/orders/:orderId/lines/:line', { end: true })).toEqual(['/orders/:orderId/lines/:line']);
    // `/users/` compiles to the same expression as `/users`; the joined route drops the slash anyway.
    expect(readBack('/users/', { end: true })).toEqual(['/users']);
    expect(readBack('/x', { end: true, strict: true })).toEqual(['/x']);
  });

  it('reads optional, constrained, formatted and adjacent parameters, and *', () => {
    expect(readBack('/u/:id?', { end: true })).toEqual(['/u/:id?']);
    expect(readBack('/u/:id(\\d+)', { end: true })).toEqual(['/u/:id(\\d+)']);
    expect(readBack('/files/:name.:ext', { end: true })).toEqual(['/files/:name.:ext']);
    expect(readBack('/:from-:to', { end: true })).toEqual(['/:from-:to']);
    expect(readBack('/a/*', { end: true })).toEqual(['/a/*']);
  });

  it('reads each path of an array, with an expression that matches that path alone', () => {
    const keys: { name: string | number }[] = [];
    const alternatives = express4Alternatives(pathToRegexp(['/v1', '/v2/:x'], keys, { end: false }), keys)!;
    expect(alternatives.map((a) => a.template)).toEqual(['/v1', '/v2/:x']);
    expect(alternatives[0]!.regexp.exec('/v1/items')?.[0]).toBe('/v1');
    expect(alternatives[0]!.regexp.test('/v2/a')).toBe(false);
    expect(alternatives[1]!.regexp.exec('/v2/a/items')?.[0]).toBe('/v2/a');
  });

  it('gives up, rather than guess, on expressions it does not know', () => {
    expect(readBack(/^\/r\d+/)).toBeUndefined();
    expect(readBack('/ab?cd', { end: true })).toBeUndefined();
    expect(readBack('/:name*', { end: true })).toBeUndefined();
    expect(readBack(/^\/(?:a|b)\/?$/i)).toBeUndefined();
  });

  it('accepts a RegExp that only spells a literal path', () => {
    expect(readBack(/^\/about$/)).toEqual(['/about']);
  });
});

describe('templateFromMatch (router < 2.3, which keeps no path)', () => {
  it('puts parameter names in place of their values', () => {
    expect(templateFromMatch('/accounts/ann@example.com', { email: 'ann@example.com' })).toBe('/accounts/:email');
    expect(templateFromMatch('/accounts/c%40example.net/orders/7', { email: 'c@example.net', orderId: '7' })).toBe('/accounts/:email/orders/:orderId');
    expect(templateFromMatch('/api/v2', {})).toBe('/api/v2');
  });

  it('writes a splat as one *name for all its segments', () => {
    expect(templateFromMatch('/files/a/b/c', { rest: ['a', 'b', 'c'] })).toBe('/files/*rest');
  });

  it('gives undefined when a value is not a whole segment, so it cannot leak', () => {
    expect(templateFromMatch('/range/1-9', { from: '1', to: '9' })).toBeUndefined();
    expect(templateFromMatch('/u/x', { id: 42 })).toBeUndefined();
  });

  it('skips optional parameters that did not match', () => {
    expect(templateFromMatch('/u', { id: undefined })).toBe('/u');
  });
});
