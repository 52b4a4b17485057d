import { describe, expect, it } from 'vitest';
import { s } from '../../src/schema.js';

const schema = s.object({
  port: s.integer({ min: 0, max: 65535 }).default(9464),
  ratio: s.number({ min: 0, max: 1 }).default(0.1),
  name: s.string({ min: 1 }).optional(),
  mode: s.enum(['a', 'b']).default('a'),
  on: s.boolean().default(true),
  routes: s.array(s.string({ startsWith: '/' }), { max: 2 }).default([]),
  url: s.string({ url: true }).optional(),
  required: s.integer(),
});

describe('schema', () => {
  it('fills defaults, keeps optional fields absent, and returns fresh default objects', () => {
    const a = schema.safeParse({ required: 1 });
    const b = schema.safeParse({ required: 1 });
    expect(a).toEqual({ success: true, data: { port: 9464, ratio: 0.1, mode: 'a', on: true, routes: [], required: 1 } });
    if (a.success && b.success) expect(a.data.routes).not.toBe(b.data.routes);
  });

  it('reports every problem at once, each with its path', () => {
    const result = schema.safeParse({ port: 70000, ratio: 'x', name: '', mode: 'c', on: 'yes', routes: ['/a', 'b'], url: 'nope', extra: 1 });
    expect(result.success).toBe(false);
    if (result.success) return;
    const paths = result.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['extra', 'mode', 'name', 'on', 'port', 'ratio', 'required', 'routes.1', 'url'].sort());
    expect(result.issues.find((i) => i.path[0] === 'port')?.message).toContain('≤ 65535');
    expect(result.issues.find((i) => i.path[0] === 'extra')?.message).toContain('unknown option');
  });

  it('rejects non-integers for integer fields and lists that are too long', () => {
    const result = schema.safeParse({ required: 1.5, routes: ['/a', '/b', '/c'] });
    expect(result.success).toBe(false);
    if (!result.success) expect(result.issues.map((i) => i.path.join('.')).sort()).toEqual(['required', 'routes']);
  });

  it('rejects a non-object section', () => {
    expect(schema.safeParse([]).success).toBe(false);
    expect(schema.safeParse(null).success).toBe(false);
  });

  it('exposes field metadata for docs and environment coercion', () => {
    expect(schema.fields.port.meta).toMatchObject({ kind: 'integer', min: 0, max: 65535, hasDefault: true, default: 9464 });
    expect(schema.fields.routes.meta).toMatchObject({ kind: 'array', item: 'string', max: 2 });
    expect(schema.fields.mode.meta.values).toEqual(['a', 'b']);
  });

  it('checks rules between fields once every field is valid, with the path the rule names', () => {
    const ratios = s
      .object({ soft: s.number({ min: 0, max: 1 }).default(0.75), hard: s.number({ min: 0, max: 1 }).default(0.9) })
      .rule((o) => (o.soft > o.hard ? { path: ['soft'], message: `must not exceed hard (${o.hard})` } : undefined));
    expect(ratios.safeParse({ soft: 0.8 }).success).toBe(true);
    const crossed = ratios.safeParse({ soft: 0.95 });
    expect(crossed).toEqual({ success: false, issues: [{ path: ['soft'], message: 'must not exceed hard (0.9)' }] });
    // A field already invalid is reported alone: the rule never sees a half-valid section.
    const invalid = ratios.safeParse({ soft: 2 });
    expect(invalid.success).toBe(false);
    if (!invalid.success) expect(invalid.issues.map((i) => i.path.join('.'))).toEqual(['soft']);
  });
});
