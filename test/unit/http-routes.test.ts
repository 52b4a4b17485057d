import { describe, expect, it } from 'vitest';
import { RouteMatcher } from '../../plugins/http/routes.js';

describe('RouteMatcher', () => {
  const matcher = new RouteMatcher(['/', '/users', '/users/:id', '/users/:id/plans', '/users/me/settings', '/static/*', '/files/:bucket/*']);

  it('matches literal templates, including the root', () => {
    expect(matcher.match('/')).toBe('/');
    expect(matcher.match('/users')).toBe('/users');
    expect(matcher.match('/users/me/settings')).toBe('/users/me/settings');
  });

  it('matches a parameter segment with any value', () => {
    expect(matcher.match('/users/42')).toBe('/users/:id');
    expect(matcher.match('/users/42/plans')).toBe('/users/:id/plans');
    expect(matcher.match('/users/a%20b/plans')).toBe('/users/:id/plans');
  });

  it('ignores the query string', () => {
    expect(matcher.match('/users/42?tab=plans&x=/y/z')).toBe('/users/:id');
    expect(matcher.match('/users?')).toBe('/users');
  });

  it('needs the exact number of segments', () => {
    expect(matcher.match('/users/42/plans/7')).toBeUndefined();
    expect(matcher.match('/users/42/')).toBeUndefined();
    expect(matcher.match('/users/me')).toBe('/users/:id');
  });

  it('matches a * template for any rest, and its prefix parameters', () => {
    expect(matcher.match('/static/app.js')).toBe('/static/*');
    expect(matcher.match('/static/css/deep/site.css?v=3')).toBe('/static/*');
    expect(matcher.match('/files/b1/a/b/c.txt')).toBe('/files/:bucket/*');
  });

  it('prefers an exact-length template over a * template', () => {
    const m = new RouteMatcher(['/static/*', '/static/:name']);
    expect(m.match('/static/app.js')).toBe('/static/:name');
    expect(m.match('/static/js/app.js')).toBe('/static/*');
  });

  it('returns undefined when nothing matches', () => {
    expect(matcher.match('/plans')).toBeUndefined();
    expect(matcher.match('/staticx/app.js')).toBeUndefined();
    expect(new RouteMatcher([]).match('/users')).toBeUndefined();
  });

  it('does not let a parameter match an empty segment', () => {
    expect(matcher.match('/users//plans')).toBeUndefined();
    expect(matcher.match('/files//a.txt')).toBeUndefined();
  });

  it('says whether it has any template', () => {
    expect(new RouteMatcher([]).empty).toBe(true);
    expect(new RouteMatcher(['/a/*']).empty).toBe(false);
    expect(new RouteMatcher(['/a']).empty).toBe(false);
  });
});
