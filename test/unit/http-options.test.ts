import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import http from '../../plugins/http/index.js';
import { MAX_VALUE_LENGTH, RequestAttributes, parseAttributeSpecs } from '../../plugins/http/attributes.js';
import { expressHandled, type ExpressRequest } from '../../plugins/http/express.js';
import { RouteMatcher } from '../../plugins/http/routes.js';
import { pathMatcher, pathPatternMatcher } from '../../src/paths.js';
import { envOverrides, resolveSection } from '../../src/config.js';
import type { Profile } from '../../src/profiles.js';

// The http plugin's options for excluded paths, the unmatched bucket and the extra attributes.
const profile: Profile = { name: 'test', memoryBytes: 1024 ** 3, cpus: 4, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 4 };
const resolve = (file: unknown, env: NodeJS.ProcessEnv = {}) => resolveSection(http, { profile, file, env: envOverrides(http, env) });

describe('http options', () => {
  it('excludes nothing, counts excluded requests, and adds no attribute by default', () => {
    const { options } = resolve(undefined);
    expect(options).toMatchObject({ exclude: [], countExcluded: true, attributes: [], maxAttributeValues: 50 });
  });

  it('reads the excluded paths, the counter switch and the attributes from the environment', () => {
    const { options, problems } = resolve(undefined, {
      PLANDEX_PERF_HTTP_EXCLUDE: '/health, /ready',
      PLANDEX_PERF_HTTP_COUNT_EXCLUDED: 'false',
      PLANDEX_PERF_HTTP_ATTRIBUTES: 'tenant.id=header:X-Tenant-Id,app.plan=param:planId',
      PLANDEX_PERF_HTTP_MAX_ATTRIBUTE_VALUES: '3',
    });
    expect(problems).toEqual([]);
    expect(options).toMatchObject({ exclude: ['/health', '/ready'], countExcluded: false, attributes: ['tenant.id=header:X-Tenant-Id', 'app.plan=param:planId'], maxAttributeValues: 3 });
  });

  it('takes wildcard patterns for the excluded paths, from the environment and the config file', () => {
    const fromEnv = resolve(undefined, { PLANDEX_PERF_HTTP_EXCLUDE: '/health,*.css,/static/*.js' });
    expect(fromEnv.problems).toEqual([]);
    expect(fromEnv.options).toMatchObject({ exclude: ['/health', '*.css', '/static/*.js'] });
    const fromFile = resolve({ exclude: ['*.map', '/assets/*'] });
    expect(fromFile.problems).toEqual([]);
    expect(fromFile.options).toMatchObject({ exclude: ['*.map', '/assets/*'] });
  });

  it('refuses paths without a leading slash, bad attribute specs and caps out of range, all at once', () => {
    const { options, problems } = resolve({
      exclude: ['health'],
      attributes: ['tenant.id=cookie:sid', 'http.route=header:x-route', 'Tenant=header:x-t', 'tenant.id=param:'],
      maxAttributeValues: 5000,
    });
    expect(options).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual(['http.exclude.0', 'http.attributes.0', 'http.attributes.1', 'http.attributes.2', 'http.attributes.3', 'http.maxAttributeValues']);
    expect(problems[1]!.message).toContain('<attribute>=header:<name>');
  });

  it('takes at most five attributes', () => {
    const specs = Array.from({ length: 6 }, (_, i) => `a${i}=header:x-${i}`);
    expect(resolve({ attributes: specs }).problems.map((p) => p.path)).toEqual(['http.attributes']);
  });
});

describe('parseAttributeSpecs', () => {
  it('splits the attribute, the source and its key; header names are lower-cased, parameters are not', () => {
    expect(parseAttributeSpecs(['tenant.id=header:X-Tenant-Id', 'app.plan=param:planId'])).toEqual([
      { attribute: 'tenant.id', from: 'header', key: 'x-tenant-id' },
      { attribute: 'app.plan', from: 'param', key: 'planId' },
    ]);
  });
});

describe('RequestAttributes', () => {
  const read = (attributes: RequestAttributes, headers: Record<string, string | string[]>, params: Record<string, unknown> = {}): Record<string, unknown> => {
    const into: Record<string, unknown> = {};
    attributes.read({ headers, param: (name) => params[name] }, into);
    return into;
  };

  it('keeps the first values of each attribute up to the cap, and writes _OTHER beyond, per attribute', () => {
    const attributes = new RequestAttributes(parseAttributeSpecs(['tenant.id=header:x-tenant', 'app.plan=param:plan']), 2);
    expect(read(attributes, { 'x-tenant': 'acme' }, { plan: 'free' })).toEqual({ 'tenant.id': 'acme', 'app.plan': 'free' });
    expect(read(attributes, { 'x-tenant': 'globex' }, { plan: 'pro' })).toEqual({ 'tenant.id': 'globex', 'app.plan': 'pro' });
    expect(read(attributes, { 'x-tenant': 'initech' }, { plan: 'free' })).toEqual({ 'tenant.id': '_OTHER', 'app.plan': 'free' });
    expect(read(attributes, { 'x-tenant': 'acme' }, { plan: 'team' })).toEqual({ 'tenant.id': 'acme', 'app.plan': '_OTHER' });
  });

  it('leaves the attribute out when the value is missing or empty, and takes the first of repeated values', () => {
    const attributes = new RequestAttributes(parseAttributeSpecs(['tenant.id=header:x-tenant', 'app.n=param:n']), 10);
    expect(read(attributes, {})).toEqual({});
    expect(read(attributes, { 'x-tenant': '' }, { n: '' })).toEqual({});
    expect(read(attributes, { 'x-tenant': ['a', 'b'] }, { n: 7 })).toEqual({ 'tenant.id': 'a', 'app.n': '7' });
    expect(read(attributes, {}, { n: { toString: () => 'x' } })).toEqual({});
  });

  it('writes _OTHER for a value longer than the limit, without taking a place', () => {
    const attributes = new RequestAttributes(parseAttributeSpecs(['tenant.id=header:x-tenant']), 1);
    expect(read(attributes, { 'x-tenant': 'x'.repeat(MAX_VALUE_LENGTH + 1) })).toEqual({ 'tenant.id': '_OTHER' });
    expect(read(attributes, { 'x-tenant': 'x'.repeat(MAX_VALUE_LENGTH) })).toEqual({ 'tenant.id': 'x'.repeat(MAX_VALUE_LENGTH) });
  });

  it('says whether it has anything to read and whether it needs route parameters', () => {
    expect(new RequestAttributes([], 5).empty).toBe(true);
    const headerOnly = new RequestAttributes(parseAttributeSpecs(['a=header:x-a']), 5);
    expect([headerOnly.empty, headerOnly.usesParams]).toEqual([false, false]);
    expect(new RequestAttributes(parseAttributeSpecs(['a=param:a']), 5).usesParams).toBe(true);
  });
});

describe('RouteMatcher.param', () => {
  const matcher = new RouteMatcher(['/t/:tenant/orders/:id', '/t/:tenant/*', '/a/:x/b/:y']);
  const param = (template: string, url: string, name: string) => matcher.param(template, url, name);

  it('reads a parameter of a configured template from the path, decoded', () => {
    expect(param('/t/:tenant/orders/:id', '/t/acme/orders/9?x=1', 'tenant')).toBe('acme');
    expect(param('/t/:tenant/orders/:id', '/t/acme/orders/9?x=1', 'id')).toBe('9');
    expect(param('/t/:tenant/*', '/t/a%20b/x/y', 'tenant')).toBe('a b');
    expect(param('/t/:tenant/*', '/t/%E0%A4%A/x', 'tenant')).toBe('%E0%A4%A');
  });

  it('gives the right parameter on repeated calls', () => {
    for (let i = 0; i < 3; i++) {
      expect(param('/a/:x/b/:y', `/a/x${i}/b/y${i}`, 'y')).toBe(`y${i}`);
      expect(param('/a/:x/b/:y', `/a/x${i}/b/y${i}`, 'x')).toBe(`x${i}`);
    }
    expect(param('/a/:x/b/:y', '/a', 'y')).toBeUndefined();
  });

  it('is undefined for a parameter the template does not have, or a template that is not its own', () => {
    expect(param('/t/:tenant/orders/:id', '/t/acme/orders/1', 'plan')).toBeUndefined();
    expect(param('_UNMATCHED', '/t/acme', 'tenant')).toBeUndefined();
    expect(param('/t/:tenant', '/t/acme', 'tenant')).toBeUndefined();
  });
});

describe('exclusion matching (src/paths.ts, shared with heap-budget and the concurrency limit)', () => {
  const excluded = pathMatcher(['/health', '/ready', '/static/']);
  it('matches a path, what is below it and its query strings, not a longer name', () => {
    for (const url of ['/health', '/health/db', '/health?probe=1', '/ready', '/static/app.js']) expect(excluded(url), url).toBe(true);
    for (const url of ['/healthz', '/', '/api/health', '/readyz?x', '/static']) expect(excluded(url), url).toBe(false);
  });
});

describe('exclusion patterns (pathPatternMatcher: the prefixes above plus `*` wildcards)', () => {
  const excluded = pathPatternMatcher(['/health', '*.css', '/static/*.js', '/api/*/ping', '*.min.*']);
  it('keeps the prefix rule for entries without a wildcard', () => {
    for (const url of ['/health', '/health/db?x=1']) expect(excluded(url), url).toBe(true);
    expect(excluded('/healthz')).toBe(false);
  });
  it('matches a pattern against the whole path, `*` across slashes, the query ignored', () => {
    for (const url of ['/app.css', '/a/b/site.css', '/site.css?v=3', '/static/app.js', '/static/js/vendor/app.js', '/api/v1/ping', '/api/v1/x/ping', '/lib/app.min.js']) {
      expect(excluded(url), url).toBe(true);
    }
    for (const url of ['/app.css.map', '/app.cssx', '/static/app.json', '/assets/app.js', '/static.js', '/api/ping', '/api/v1/ping/now', '/lib/app.js', '/?file=a.css']) {
      expect(excluded(url), url).toBe(false);
    }
  });
  it('does not let the anchored start and end overlap', () => {
    const m = pathPatternMatcher(['/ab*ba']);
    expect(m('/aba')).toBe(false);
    expect(m('/abba')).toBe(true);
    expect(pathPatternMatcher(['/a*b*b'])('/ab')).toBe(false);
    expect(pathPatternMatcher(['/a*b*b'])('/abb')).toBe(true);
  });
  it('is the plain prefix matcher when no entry has a wildcard', () => {
    const m = pathPatternMatcher(['/health']);
    expect(m('/health/db')).toBe(true);
    expect(m('/x.css')).toBe(false);
  });
});

describe('expressHandled', () => {
  const require = createRequire(import.meta.url);
  it.each([
    ['Express 4', 'express4'],
    ['Express 5', 'express'],
  ])('is true for a request %s dispatched, false for a plain node:http request', (_name, module) => {
    const express = require(module) as () => { get(path: string, fn: () => void): unknown };
    const app = express();
    app.get('/a', () => {}); // Express 4 makes its router on the first route
    expect(expressHandled({ app } as unknown as ExpressRequest)).toBe(true);
    expect(expressHandled({} as ExpressRequest)).toBe(false);
    expect(expressHandled({ app: { locals: {} } } as unknown as ExpressRequest)).toBe(false);
  });
});
