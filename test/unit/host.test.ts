import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { s } from '../../src/schema.js';
import { PluginHost, orderPlugins } from '../../src/host.js';
import { log } from '../../src/log.js';
import { definePlugin, type Close, type PluginContext, type PluginDefinition } from '../../src/plugin.js';
import type { Profile } from '../../src/profiles.js';

const profile: Profile = { name: 'test', memoryBytes: 1024 ** 3, cpus: 2, constrained: false, intent: 'safe', maxOldSpaceMb: 256, maxSemiSpaceMb: 4, uvThreadpoolSize: 2 };

beforeAll(() => log.setLevel('silent'));
afterEach(() => vi.restoreAllMocks());

function plugin(
  name: string,
  dependsOn: string[] = [],
  setup: (ctx: PluginContext, options: Record<string, unknown>) => void | Close | Promise<void | Close> = () => {},
): PluginDefinition {
  return definePlugin({ name, description: name, dependsOn, schema: s.object({}), setup });
}

const names = (list: PluginDefinition[]) => list.map((p) => p.name);
const noOptions = new Map<string, { options?: Record<string, unknown>; off?: string }>();

describe('orderPlugins', () => {
  it('puts each plugin after its dependencies, keeping the given order otherwise', () => {
    const { ordered, broken } = orderPlugins([plugin('c', ['b']), plugin('x'), plugin('b', ['a']), plugin('a')]);
    expect(names(ordered)).toEqual(['a', 'b', 'c', 'x']);
    expect(broken.size).toBe(0);
  });

  it('marks an unknown dependency, and what depends on it', () => {
    const { ordered, broken } = orderPlugins([plugin('a', ['nope']), plugin('b', ['a']), plugin('c')]);
    expect(names(ordered).sort()).toEqual(['a', 'b', 'c']);
    expect(broken.get('a')).toBe('depends on unknown plugin "nope"');
    expect(broken.get('b')).toContain('"a"');
    expect(broken.has('c')).toBe(false);
  });

  it('marks every plugin of a cycle, naming the cycle', () => {
    const { broken } = orderPlugins([plugin('a', ['b']), plugin('b', ['a']), plugin('free')]);
    expect(broken.has('a')).toBe(true);
    expect(broken.has('b')).toBe(true);
    expect(broken.has('free')).toBe(false);
    expect([...broken.values()].some((reason) => reason.includes('dependency cycle') && reason.includes('a → b → a'))).toBe(true);
  });

  it('marks a plugin that depends on itself', () => {
    expect(orderPlugins([plugin('self', ['self'])]).broken.get('self')).toContain('dependency cycle');
  });
});

describe('PluginHost', () => {
  it('sets plugins up in dependency order with their options and the profile', async () => {
    const calls: string[] = [];
    const seen: unknown[] = [];
    const record = (name: string) => (ctx: PluginContext, options: Record<string, unknown>) => {
      calls.push(name);
      seen.push({ profile: ctx.profile.name, options });
    };
    const host = new PluginHost(profile, 1000);
    await host.start(
      [plugin('http', ['telemetry'], record('http')), plugin('telemetry', [], record('telemetry'))],
      new Map([['http', { options: { maxRoutes: 5 } }]]),
    );
    expect(calls).toEqual(['telemetry', 'http']);
    expect(seen).toEqual([
      { profile: 'test', options: {} },
      { profile: 'test', options: { maxRoutes: 5 } },
    ]);
    expect([...host.status.values()].every((s) => s.state === 'running')).toBe(true);
  });

  it('disables alone a plugin that throws, logging PPERF_ERR_PLUGIN_SETUP, and runs the others', async () => {
    const error = vi.spyOn(log, 'error');
    const calls: string[] = [];
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin('a', [], () => void calls.push('a')),
        plugin('boom', [], () => {
          throw new Error('kaput');
        }),
        plugin('c', [], async () => void calls.push('c')),
      ],
      noOptions,
    );
    expect(calls).toEqual(['a', 'c']);
    expect(host.status.get('boom')).toEqual({ name: 'boom', state: 'failed', reason: 'kaput' });
    expect(host.status.get('a')?.state).toBe('running');
    expect(host.status.get('c')?.state).toBe('running');
    expect(error).toHaveBeenCalledWith('PPERF_ERR_PLUGIN_SETUP', expect.stringContaining('"boom"'), expect.anything());
  });

  it('treats a rejected async setup as a failure too', async () => {
    const host = new PluginHost(profile, 1000);
    await host.start([plugin('async-boom', [], async () => Promise.reject(new Error('later')))], noOptions);
    expect(host.status.get('async-boom')).toEqual({ name: 'async-boom', state: 'failed', reason: 'later' });
  });

  it('disables, without setting it up, a plugin whose dependency failed', async () => {
    const error = vi.spyOn(log, 'error');
    const dependent = vi.fn();
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin('base', [], () => {
          throw new Error('no');
        }),
        plugin('dependent', ['base'], dependent),
      ],
      noOptions,
    );
    expect(dependent).not.toHaveBeenCalled();
    expect(host.status.get('dependent')).toEqual({ name: 'dependent', state: 'disabled', reason: 'depends on "base", which is failed' });
    expect(error).toHaveBeenCalledWith('PPERF_ERR_PLUGIN_DEPENDENCY', expect.stringContaining('"dependent"'));
  });

  it('disables a plugin whose dependency was turned off, and never sets up the one turned off', async () => {
    const off = vi.fn();
    const dependent = vi.fn();
    const host = new PluginHost(profile, 1000);
    await host.start([plugin('off', [], off), plugin('dependent', ['off'], dependent)], new Map([['off', { off: 'disabled by config' }]]));
    expect(off).not.toHaveBeenCalled();
    expect(dependent).not.toHaveBeenCalled();
    expect(host.status.get('off')).toEqual({ name: 'off', state: 'disabled', reason: 'disabled by config' });
    expect(host.status.get('dependent')?.state).toBe('disabled');
  });

  it('sets up no plugin of a cycle or with an unknown dependency', async () => {
    const setup = vi.fn();
    const host = new PluginHost(profile, 1000);
    await host.start([plugin('a', ['b'], setup), plugin('b', ['a'], setup), plugin('c', ['ghost'], setup)], noOptions);
    expect(setup).not.toHaveBeenCalled();
    expect(['a', 'b', 'c'].map((n) => host.status.get(n)?.state)).toEqual(['disabled', 'disabled', 'disabled']);
    expect(host.status.get('c')?.reason).toContain('unknown plugin "ghost"');
  });

  it('fails a plugin whose setup outlasts the timeout, and still closes it when it finishes late', async () => {
    const error = vi.spyOn(log, 'error');
    const lateClose = vi.fn();
    const after = vi.fn();
    const host = new PluginHost(profile, 50);
    const started = performance.now();
    await host.start(
      [
        plugin('slow', [], async () => {
          await delay(150);
          return lateClose;
        }),
        plugin('after', [], after),
      ],
      noOptions,
    );
    expect(performance.now() - started).toBeLessThan(140);
    expect(host.status.get('slow')).toEqual({ name: 'slow', state: 'failed', reason: 'setup took longer than 50 ms' });
    expect(error).toHaveBeenCalledWith('PPERF_ERR_PLUGIN_TIMEOUT', expect.stringContaining('"slow"'));
    expect(after).toHaveBeenCalledOnce();
    expect(lateClose).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(lateClose).toHaveBeenCalledOnce(), { timeout: 1000, interval: 10 });
    // It is not closed a second time by the host: it never counted as running.
    await host.close(100);
    expect(lateClose).toHaveBeenCalledOnce();
  });

  it('closes running plugins in reverse start order', async () => {
    const closed: string[] = [];
    const closing = (name: string) => () => () => void closed.push(name);
    const host = new PluginHost(profile, 1000);
    await host.start(
      [plugin('c', ['b'], closing('c')), plugin('a', [], closing('a')), plugin('b', ['a'], closing('b')), plugin('d', [], closing('d'))],
      noOptions,
    );
    await host.close(100);
    expect(closed).toEqual(['d', 'c', 'b', 'a']);
  });

  it('goes on closing the others when one close throws, logging PPERF_ERR_PLUGIN_CLOSE', async () => {
    const error = vi.spyOn(log, 'error');
    const closed: string[] = [];
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin('a', [], () => () => void closed.push('a')),
        plugin('bad', [], () => async () => {
          throw new Error('close failed');
        }),
        plugin('c', [], () => () => void closed.push('c')),
      ],
      noOptions,
    );
    await expect(host.close(100)).resolves.toBeUndefined();
    expect(closed).toEqual(['c', 'a']);
    expect(error).toHaveBeenCalledWith('PPERF_ERR_PLUGIN_CLOSE', expect.stringContaining('"bad"'), expect.anything());
  });

  it('does not wait past the timeout for a close that hangs', async () => {
    const closed: string[] = [];
    const host = new PluginHost(profile, 1000);
    await host.start(
      [plugin('a', [], () => () => void closed.push('a')), plugin('hang', [], () => () => new Promise<void>(() => {}))],
      noOptions,
    );
    const started = performance.now();
    await host.close(50);
    expect(performance.now() - started).toBeLessThan(500);
    expect(closed).toEqual(['a']);
  });

  it('passes a provided value to a dependent through use', async () => {
    let received: unknown;
    const value = { meter: 'm' };
    const host = new PluginHost(profile, 1000);
    await host.start(
      [
        plugin('consumer', ['telemetry'], (ctx) => {
          received = ctx.need('telemetry');
        }),
        plugin('telemetry', [], (ctx) => ctx.provide(value)),
      ],
      noOptions,
    );
    expect(received).toBe(value);
    expect(host.provided('telemetry')).toBe(value);
    expect(host.provided('consumer')).toBeUndefined();
  });
});

describe('redact', () => {
  it('hides secret-looking options at any depth and leaves the rest', async () => {
    const { redact } = await import('../../src/host.js');
    expect(redact({ max: 3, l2: { store: 'redis', url: 'redis://:pw@h' }, list: [{ token: 'x', n: 1 }], password: 'p' })).toEqual({
      max: 3,
      l2: { store: 'redis', url: '[redacted]' },
      list: [{ token: '[redacted]', n: 1 }],
      password: '[redacted]',
    });
  });
});
