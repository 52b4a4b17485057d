import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { plugins } from '../../plugins/index.js';
import { PerfError } from '../../src/errors.js';
import { s } from '../../src/schema.js';
import { PluginHost, orderPlugins } from '../../src/host.js';
import { log } from '../../src/log.js';
import { patchMethod, unpatched } from '../../src/patch.js';
import { definePlugin, type PluginDefinition } from '../../src/plugin.js';
import type { Profile } from '../../src/profiles.js';

const profile: Profile = { name: 'test', memoryBytes: 1024 ** 3, cpus: 2, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2 };
beforeAll(() => log.setLevel('silent'));
const none = new Map<string, { options?: Record<string, unknown>; off?: string }>();

describe('patchMethod', () => {
  it('replaces a method and its undo restores the very same function', () => {
    class Thing {
      greet(name: string) {
        return `hi ${name}`;
      }
    }
    const original = Thing.prototype.greet;
    const undo = patchMethod(Thing.prototype, 'greet', (greet) => function (this: Thing, name: string) {
      return `${greet.call(this, name)}!`;
    });
    expect(new Thing().greet('a')).toBe('hi a!');
    expect(unpatched(Thing.prototype.greet)).toBe(original);
    undo();
    expect(Thing.prototype.greet).toBe(original);
    expect(new Thing().greet('a')).toBe('hi a');
  });

  it('when another tool wrapped on top, undo leaves theirs in place and ours becomes a pass-through', () => {
    const target = { run: (x: number) => x + 1 };
    const undo = patchMethod(target, 'run', (run) => (x: number) => run(x) * 10);
    const ours = target.run;
    target.run = (x: number) => ours(x) + 1000; // someone else, later
    expect(target.run(1)).toBe(1020);
    undo();
    expect(target.run(1)).toBe(1002);
  });

  it('keeps constructors constructible, with their statics and prototype', () => {
    class Pool {
      static defaults = { max: 10 };
      constructor(readonly options: { max?: number } = {}) {}
    }
    const mod = { Pool };
    const undo = patchMethod(mod, 'Pool', (Original) => class extends Original {
      constructor(options: { max?: number } = {}) {
        super({ max: 10, ...options });
      }
    } as typeof Pool);
    const pool = new mod.Pool();
    expect(pool.options.max).toBe(10);
    expect(pool).toBeInstanceOf(Pool);
    expect(mod.Pool.defaults).toEqual({ max: 10 });
    undo();
    expect(mod.Pool).toBe(Pool);
  });
});

describe('the plugin host', () => {
  const plugin = (def: Partial<PluginDefinition> & { name: string }): PluginDefinition => definePlugin({ description: def.name, schema: s.object({}), setup: () => {}, ...def });

  it('starts synchronously while setups are synchronous, and waits only from the first that returns a promise', async () => {
    const order: string[] = [];
    const host = new PluginHost(profile, 1000);
    const syncOnly = host.start([plugin({ name: 'a', setup: () => void order.push('a') }), plugin({ name: 'b', setup: () => void order.push('b') })], none);
    expect(syncOnly).toBeUndefined();
    expect(order).toEqual(['a', 'b']);

    const host2 = new PluginHost(profile, 1000);
    const pending = host2.start(
      [plugin({ name: 'x', setup: () => void order.push('x') }), plugin({ name: 'y', setup: async () => void order.push('y') }), plugin({ name: 'z', setup: () => void order.push('z') })],
      none,
    );
    expect(pending).toBeInstanceOf(Promise);
    expect(order).toEqual(['a', 'b', 'x', 'y']);
    await pending;
    expect(order).toEqual(['a', 'b', 'x', 'y', 'z']);
  });

  it('restores what a plugin patched when it closes, and when its setup throws', async () => {
    const target = { f: () => 'bare' };
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin({ name: 'patches', setup: (ctx) => void ctx.patch(target, 'f', () => () => 'patched') }),
        plugin({
          name: 'breaks',
          setup: (ctx) => {
            ctx.patch(target, 'f', (f) => () => `${f()}+broken`);
            throw new Error('boom');
          },
        }),
      ],
      none,
    );
    expect(host.status.get('breaks')?.state).toBe('failed');
    expect(target.f()).toBe('patched'); // the failed plugin's patch is gone, the running one's stays
    await host.close(1000);
    expect(target.f()).toBe('bare');
  });

  it('refuses a module hook the plugin did not declare', async () => {
    const host = new PluginHost(profile, 1000);
    await host.start([plugin({ name: 'sneaky', setup: (ctx) => ctx.onModuleLoad('left-pad', () => {}) })], none);
    expect(host.status.get('sneaky')).toMatchObject({ state: 'failed', reason: expect.stringContaining('without declaring it') });
  });

  it('an optional dependency orders the plugins but its absence disables nothing', async () => {
    const { ordered, broken } = orderPlugins([plugin({ name: 'cache', optionalDependsOn: ['heap-budget'] }), plugin({ name: 'heap-budget' })]);
    expect(ordered.map((p) => p.name)).toEqual(['heap-budget', 'cache']);
    expect(broken.size).toBe(0);

    const seen: unknown[] = [];
    const host = new PluginHost(profile, 1000);
    await host.start(
      [plugin({ name: 'cache', optionalDependsOn: ['heap-budget'], setup: (ctx) => void seen.push(ctx.use('heap-budget')) }), plugin({ name: 'heap-budget', setup: (ctx) => ctx.provide('budget') })],
      new Map([['heap-budget', { off: 'disabled' }]]),
    );
    expect(host.status.get('cache')?.state).toBe('running');
    expect(seen).toEqual([undefined]);
  });
});

describe('need and use', () => {
  const plugin = (def: Partial<PluginDefinition> & { name: string }): PluginDefinition => definePlugin({ description: def.name, schema: s.object({}), setup: () => {}, ...def });

  it('need hands over a dependsOn value and refuses a name not in dependsOn, or one that provided nothing, with a coded error', async () => {
    const got: unknown[] = [];
    const errors: unknown[] = [];
    const attempt = (fn: () => unknown) => {
      try {
        got.push(fn());
      } catch (error) {
        errors.push(error);
      }
    };
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin({ name: 'base', setup: (ctx) => ctx.provide('value') }),
        plugin({ name: 'silent' }),
        plugin({
          name: 'user',
          dependsOn: ['base', 'silent'],
          optionalDependsOn: ['extra'],
          setup: (ctx) => {
            attempt(() => ctx.need('base'));
            attempt(() => ctx.need('extra')); // optional: not for need
            attempt(() => ctx.need('silent')); // runs, provides nothing
          },
        }),
      ],
      none,
    );
    expect(got).toEqual(['value']);
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(error).toMatchObject({ code: 'PPERF_ERR_PLUGIN_DEPENDENCY' });
    expect(errors[0]).toBeInstanceOf(PerfError);
    expect(String(errors[0])).toContain('without declaring it in `dependsOn`');
    expect(String(errors[1])).toContain('provides nothing');
  });

  it('use refuses a plugin declared in neither list', async () => {
    const host = new PluginHost(profile, 1000);
    await host.start([plugin({ name: 'nosy', setup: (ctx) => void ctx.use('heap-budget') })], none);
    expect(host.status.get('nosy')).toMatchObject({ state: 'failed', reason: expect.stringContaining('without declaring it in `optionalDependsOn`') });
  });

  it("every plugin reads through use/need only plugins it declares (the host checks it only when the call runs, e.g. per request)", () => {
    const root = path.resolve(import.meta.dirname, '../../plugins');
    const undeclared: string[] = [];
    for (const definition of plugins) {
      const folder = path.join(root, definition.name);
      if (!fs.existsSync(folder)) continue; // telemetry lives in src/telemetry and reads no plugin
      const declared = new Set([...(definition.dependsOn ?? []), ...(definition.optionalDependsOn ?? [])]);
      for (const file of fs.readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
        const source = fs.readFileSync(path.join(folder, file), 'utf8');
        for (const match of source.matchAll(/ctx\.(?:use|need)<[^>]*>\('([^']+)'\)/g)) if (!declared.has(match[1]!)) undeclared.push(`${definition.name}/${file}: ${match[1]}`);
      }
    }
    expect(undeclared).toEqual([]);
  });
});
