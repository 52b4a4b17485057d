import { afterEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { createNoopMeter } from '@opentelemetry/api';
import plugin from '../../plugins/cache/index.js';
import { API_KEY, cached, invalidate, invalidateTags } from '../../plugins/cache/public.js';
import { schema } from '../../plugins/cache/schema.js';
import { metricNames } from '../../plugins/cache/semconv.js';
import type { PluginContext } from '../../src/plugin.js';
import { autoProfile } from '../../src/profiles.js';
import type { HeapBudget } from '../../plugins/heap-budget/index.js';
import type { BudgetState } from '../../plugins/heap-budget/budget.js';
import type { CacheApi, CachePlugin } from '../../plugins/cache/types.js';
import { recordingLog, type LogLine } from '../fixtures/cache-helpers.js';

type Loose = (...args: unknown[]) => unknown;

function fakeContext(extra: { heap?: HeapBudget; wrapExports?: unknown; lines?: LogLine[] } = {}) {
  const provided: unknown[] = [];
  const ctx = {
    profile: autoProfile(),
    log: recordingLog(extra.lines),
    need: <T>(name: string) => (name === 'telemetry' ? { meter: createNoopMeter() } : undefined) as T,
    use: <T>(name: string) => (name === 'telemetry' ? { meter: createNoopMeter() } : name === 'heap-budget' ? extra.heap : undefined) as T,
    provide: (value: unknown) => void provided.push(value),
    runtimeInfo: () => ({ profile: autoProfile(), plugins: [], options: {} }),
    onModuleLoad: () => {},
    ...(extra.wrapExports ? { wrapExports: extra.wrapExports } : {}),
  } as unknown as PluginContext;
  return { ctx, provided };
}

function fakeHeap(): HeapBudget & { set(state: BudgetState): void } {
  let state: BudgetState = 'ok';
  const listeners = new Set<(s: BudgetState, p: BudgetState) => void>();
  return {
    state: () => state,
    onChange: (l) => (listeners.add(l), () => void listeners.delete(l)),
    lastSample: () => undefined,
    set(next) {
      const previous = state;
      state = next;
      for (const l of listeners) l(next, previous);
    },
  };
}

const options = (input: Record<string, unknown> = {}) => {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(JSON.stringify(parsed.issues));
  return parsed.data;
};

describe('cache plugin', () => {
  let close: (() => void | Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('provides the API, publishes it for src/api.ts, and removes it on close', async () => {
    const { ctx, provided } = fakeContext();
    close = (await plugin.setup(ctx, options({ l1Bytes: 1_000_000 }))) as () => Promise<void>;
    const api = (globalThis as Record<symbol, unknown>)[API_KEY] as CacheApi;
    expect(provided[0]).toBe(api);
    let n = 0;
    const fn = cached(async (id: number) => ({ id, n: ++n }));
    expect(await fn(1)).toBe(await fn(1));
    await invalidate(fn, 1);
    expect((await fn(1)).n).toBe(2);
    await close();
    close = undefined;
    expect((globalThis as Record<symbol, unknown>)[API_KEY]).toBeUndefined();
  });

  it('shrinks L1 under heap pressure and restores it', async () => {
    const heap = fakeHeap();
    const { ctx, provided } = fakeContext({ heap });
    close = (await plugin.setup(ctx, options({ l1Bytes: 400_000 }))) as () => Promise<void>;
    const api = provided[0] as CachePlugin;
    const bytes = () => api.snapshot().l1.bytes;
    const fn = api.cached(async (i: number) => ({ i, pad: 'x'.repeat(1000) }));
    for (let i = 0; i < 300; i++) await fn(i);
    expect(bytes()).toBeGreaterThan(200_000);
    heap.set('soft');
    expect(bytes()).toBeLessThanOrEqual(200_000);
    expect(api.snapshot().l1.budget).toBe(200_000);
    heap.set('shedding');
    expect(bytes()).toBeLessThanOrEqual(100_000);
    heap.set('ok');
    for (let i = 0; i < 300; i++) await fn(i);
    expect(bytes()).toBeGreaterThan(200_000);
  });

  it('asks the host to wrap configured exports, with identity <module>#<export>', async () => {
    const calls: { targets: { file: string; exports: string[] }[]; wrap: (name: string, fn: Loose, file: string) => Loose }[] = [];
    const { ctx } = fakeContext({ wrapExports: (targets: never, wrap: never) => void calls.push({ targets, wrap }) });
    const module = 'test/fixtures/cache-plans.mjs';
    close = (await plugin.setup(ctx, options({ functions: [{ module, export: 'getUserPlans', ttl: '30s', tags: ['plans'] }] }))) as () => Promise<void>;
    const file = path.resolve(module);
    expect(calls[0]!.targets).toEqual([{ file, exports: ['getUserPlans'] }]);
    let n = 0;
    const original = async (id: number) => ({ id, n: ++n });
    const wrapped = calls[0]!.wrap('getUserPlans', original as Loose, file) as typeof original;
    expect(wrapped).not.toBe(original);
    expect(await wrapped(1)).toBe(await wrapped(1));
    await invalidate('test/fixtures/cache-plans.mjs#getUserPlans', 1);
    expect((await wrapped(1)).n).toBe(2);
    await invalidateTags(['plans']);
    expect((await wrapped(1)).n).toBe(3);
    expect(calls[0]!.wrap('other', original as Loose, file)).toBe(original);
  });

  it('warns (PPERF_WRN_023) when wrapping is not offered or a module is missing, and runs on', async () => {
    const lines: LogLine[] = [];
    const { ctx } = fakeContext({ lines });
    close = (await plugin.setup(ctx, options({ functions: [{ module: './nope.js', export: 'f' }] }))) as () => Promise<void>;
    expect(lines.some((l) => l.code === 'PPERF_WRN_023')).toBe(true);
  });

  it('runs on L1 alone, without errors to the app, when the store is unreachable', async () => {
    const lines: LogLine[] = [];
    const { ctx, provided } = fakeContext({ lines });
    close = (await plugin.setup(ctx, options({ l2: { store: 'postgres', url: 'postgres://127.0.0.1:1/none' }, commandTimeoutMs: 50 }))) as () => Promise<void>;
    const api = provided[0] as CacheApi;
    let n = 0;
    const fn = api.cached(async () => ++n);
    expect(await fn()).toBe(1);
    expect(await fn()).toBe(1);
  });

  it('declares exactly the metric names the dashboards query', () => {
    expect([...metricNames].sort()).toEqual(
      ['plandex_perf.cache.requests', 'plandex_perf.cache.duration', 'plandex_perf.cache.l1.bytes', 'plandex_perf.cache.l1.entries', 'plandex_perf.cache.evictions', 'plandex_perf.cache.coalesced', 'plandex_perf.cache.breaker.state', 'plandex_perf.cache.bus.messages'].sort(),
    );
  });
});

describe('cached() with the plugin off', () => {
  it('still returns a working (L1-only) cached function, which hands over once the plugin starts', async () => {
    expect((globalThis as Record<symbol, unknown>)[API_KEY]).toBeUndefined();
    let n = 0;
    const fn = cached(async (id: number) => ({ id, n: ++n }), { ttl: 20 });
    expect(await fn(1)).toBe(await fn(1));
    expect(n).toBe(1);
    const { ctx } = fakeContext();
    const close = (await plugin.setup(ctx, options())) as () => Promise<void>;
    try {
      await new Promise((r) => setTimeout(r, 30));
      await fn(1); // a miss: hands over to the plugin's engine
      const api = (globalThis as Record<symbol, unknown>)[API_KEY] as CachePlugin;
      expect(api.snapshot().counts.l1Miss).toBeGreaterThan(0);
      const before = n;
      expect(await fn(1)).toBe(await fn(1));
      expect(n).toBe(before);
    } finally {
      await close();
    }
  });
});

describe('cache options', () => {
  it('accepts the issue’s config and reads l2 from a URL', () => {
    const parsed = options({ l2: { store: 'redis', url: 'redis://:secret@127.0.0.1:6379' }, functions: [{ module: './src/plans.js', export: 'getUserPlans', ttl: '30s', tags: ['plans'] }] });
    expect(parsed.functions[0]).toMatchObject({ ttl: 30_000, tags: ['plans'] });
    expect(JSON.stringify(parsed.l2)).not.toContain('secret');
    expect(options({ l2: 'postgres://db/app' }).l2).toMatchObject({ store: 'postgres' });
    expect(options({ l2: 'none' }).l2).toMatchObject({ store: 'none' });
  });

  it('reports every problem with its path', () => {
    const result = schema.safeParse({ ttl: 'soon', l2: { store: 'memcached' }, functions: [{ module: '', export: 'x', ttl: 'later', key: 3 }] });
    expect(result.success).toBe(false);
    const paths = !result.success ? result.issues.map((i) => i.path.join('.')) : [];
    expect(paths).toEqual(expect.arrayContaining(['ttl', 'l2.store', 'functions.0.module', 'functions.0.ttl', 'functions.0.key']));
  });
});
