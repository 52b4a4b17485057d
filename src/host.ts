import { setTimeout as delay } from 'node:timers/promises';
import { PerfError } from './errors.js';
import { log } from './log.js';
import { declareModules, onBuiltinLoad, onModuleLoad, wrapExports } from './hooks.js';
import { patchMethod } from './patch.js';
import type { Close, PluginContext, PluginDefinition, RuntimeInfo } from './plugin.js';
import type { Profile } from './profiles.js';

export type PluginState = 'running' | 'disabled' | 'failed';

export interface PluginStatus {
  name: string;
  state: PluginState;
  reason?: string;
}

/** Orders plugins so each comes after its dependencies; unknown dependencies and cycles are reported, not thrown. */
export function orderPlugins(plugins: readonly PluginDefinition[]): { ordered: PluginDefinition[]; broken: Map<string, string> } {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const ordered: PluginDefinition[] = [];
  const broken = new Map<string, string>();
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (plugin: PluginDefinition, trail: string[]): boolean => {
    const seen = state.get(plugin.name);
    if (seen === 'done') return !broken.has(plugin.name);
    if (seen === 'visiting') {
      broken.set(plugin.name, `dependency cycle: ${[...trail, plugin.name].join(' → ')}`);
      return false;
    }
    state.set(plugin.name, 'visiting');
    // Optional dependencies only order: one that is missing or cannot start leaves this plugin on.
    for (const dep of plugin.optionalDependsOn ?? []) {
      const target = byName.get(dep);
      if (target && state.get(dep) !== 'visiting') visit(target, [...trail, plugin.name]);
    }
    let ok = true;
    for (const dep of plugin.dependsOn ?? []) {
      const target = byName.get(dep);
      if (!target) {
        broken.set(plugin.name, `depends on unknown plugin "${dep}"`);
        ok = false;
      } else if (!visit(target, [...trail, plugin.name])) {
        if (!broken.has(plugin.name)) broken.set(plugin.name, `depends on "${dep}", which cannot start`);
        ok = false;
      }
    }
    state.set(plugin.name, 'done');
    ordered.push(plugin);
    return ok;
  };
  for (const plugin of plugins) visit(plugin, []);
  return { ordered, broken };
}

const TIMEOUT: unique symbol = Symbol('timeout');

/**
 * Resolves to TIMEOUT after `ms` unless `work` settles first. The timer is ref'd on purpose: a plugin
 * awaiting only unref'd sockets (a Redis connect) would otherwise let the loop empty and the process
 * exit, silently, before the app's main module even ran. It is bounded by `ms` and cleared at once.
 */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  const controller = new AbortController();
  const timer: Promise<typeof TIMEOUT> = delay(ms, TIMEOUT, { signal: controller.signal, ref: true }).catch(() => TIMEOUT);
  try {
    return await Promise.race([work, timer]);
  } finally {
    controller.abort();
  }
}

export class PluginHost {
  readonly status = new Map<string, PluginStatus>();
  private readonly closers: { name: string; close: Close }[] = [];
  private readonly provided_ = new Map<string, unknown>();

  private readonly options_ = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly profile: Profile,
    private readonly setupTimeoutMs: number,
  ) {}

  runtimeInfo(): RuntimeInfo {
    return {
      profile: this.profile,
      plugins: [...this.status.values()],
      options: Object.fromEntries([...this.options_].map(([name, options]) => [name, redact(options)])),
    };
  }

  /**
   * Starts each plugin in dependency order. `options` holds each plugin's validated options,
   * or a reason it must stay off. A plugin that throws or times out is disabled alone.
   *
   * Synchronous for as long as setups are: a setup that returns a promise is awaited (bounded by the
   * setup time limit) and the rest follow it. Under `-r` this is what puts the module hooks in place
   * before the app's first module runs. Returns undefined when everything started synchronously.
   */
  start(plugins: readonly PluginDefinition[], options: Map<string, { options?: Record<string, unknown>; off?: string }>): Promise<void> | undefined {
    const { ordered, broken } = orderPlugins(plugins);
    const from = (index: number): Promise<void> | undefined => {
      for (let i = index; i < ordered.length; i++) {
        const plugin = ordered[i]!;
        const deps = plugin.dependsOn ?? [];
        const brokenReason = broken.get(plugin.name);
        const entry = options.get(plugin.name);
        const downDep = deps.find((dep) => this.status.get(dep)?.state !== 'running');
        if (entry?.off) {
          this.mark(plugin.name, 'disabled', entry.off);
          continue;
        }
        if (brokenReason || downDep !== undefined) {
          const reason = brokenReason ?? `depends on "${downDep}", which is ${this.status.get(downDep ?? '')?.state ?? 'missing'}`;
          this.mark(plugin.name, 'disabled', reason);
          log.error('PPERF_ERR_PLUGIN_DEPENDENCY', `plugin "${plugin.name}" is disabled: ${reason}`);
          continue;
        }
        const pending = this.startOne(plugin, entry?.options ?? {});
        if (pending) return pending.then(() => from(i + 1));
      }
      return undefined;
    };
    return from(0);
  }

  /** Flushes plugins asked for at exit (see `PluginContext.flushOnExit`); none means no signal handling is needed. */
  readonly exitFlushes: { name: string; flush: (timeoutMs: number) => Promise<void>; boundMs: number }[] = [];

  /**
   * Undo functions per plugin (module listeners, wrapped exports, patches), run after its close or when it
   * fails. The last module listener's or wrap target's undo also takes the module hooks out (src/hooks.ts).
   */
  private readonly undos = new Map<string, (() => void)[]>();

  private startOne(plugin: PluginDefinition, options: Record<string, unknown>): Promise<void> | undefined {
    this.options_.set(plugin.name, options);
    declareModules(plugin.name, plugin.modules ?? []);
    const undos: (() => void)[] = [];
    this.undos.set(plugin.name, undos);
    const ctx: PluginContext = {
      runtimeInfo: () => this.runtimeInfo(),
      profile: this.profile,
      log,
      need: <T>(name: string) => {
        if (!plugin.dependsOn?.includes(name)) throw new PerfError('PPERF_ERR_PLUGIN_DEPENDENCY', `plugin "${plugin.name}" needs "${name}" without declaring it in \`dependsOn\``);
        if (!this.provided_.has(name)) throw new PerfError('PPERF_ERR_PLUGIN_DEPENDENCY', `plugin "${plugin.name}" needs "${name}", which provides nothing`);
        return this.provided_.get(name) as T;
      },
      use: <T>(name: string) => {
        if (!plugin.optionalDependsOn?.includes(name)) {
          const hint = plugin.dependsOn?.includes(name) ? ' (it is in `dependsOn`: read it with `need`)' : '';
          throw new PerfError('PPERF_ERR_PLUGIN_DEPENDENCY', `plugin "${plugin.name}" uses "${name}" without declaring it in \`optionalDependsOn\`${hint}`);
        }
        return this.provided_.get(name) as T | undefined;
      },
      provide: (value) => void this.provided_.set(plugin.name, value),
      onModuleLoad: (name, fn) => {
        if (!plugin.modules?.some((m) => m.name === name)) throw new Error(`plugin "${plugin.name}" hooks "${name}" without declaring it in \`modules\``);
        undos.push(onModuleLoad(plugin.name, name, fn));
      },
      onBuiltinLoad: (name, fn) => void undos.push(onBuiltinLoad(name, fn)),
      patch: (target, key, make) => {
        const undo = patchMethod(target, key, make);
        undos.push(undo);
        return undo;
      },
      wrapExports: (list, wrap) => void undos.push(wrapExports(list, wrap)),
      flushOnExit: (flush, boundMs) => void this.exitFlushes.push({ name: plugin.name, flush, boundMs }),
    };
    const started = performance.now();
    const done = (result: void | Close): void => {
      this.closers.push({ name: plugin.name, close: typeof result === 'function' ? result : () => {} });
      this.mark(plugin.name, 'running');
      log.debug(`plugin "${plugin.name}" started in ${(performance.now() - started).toFixed(1)} ms`);
    };
    const failed = (error: unknown): void => {
      this.mark(plugin.name, 'failed', error instanceof Error ? error.message : String(error));
      this.dropExitFlushes(plugin.name);
      this.undo(plugin.name);
      log.error('PPERF_ERR_PLUGIN_SETUP', `plugin "${plugin.name}" failed to set up; disabled, the host runs on`, { error });
    };
    let result: ReturnType<PluginDefinition['setup']>;
    try {
      result = plugin.setup(ctx, options as never);
    } catch (error) {
      failed(error);
      return undefined;
    }
    if (!(result instanceof Promise)) {
      done(result);
      return undefined;
    }
    const setup = result;
    return withTimeout(setup, this.setupTimeoutMs).then(
      (value) => {
        if (value !== TIMEOUT) return done(value);
        this.mark(plugin.name, 'failed', `setup took longer than ${this.setupTimeoutMs} ms`);
        this.dropExitFlushes(plugin.name);
        log.error('PPERF_ERR_PLUGIN_TIMEOUT', `plugin "${plugin.name}" did not set up within ${this.setupTimeoutMs} ms; disabled`);
        // If it finishes late, undo it at once rather than leave half a plugin running.
        setup
          .then((close) => close && Promise.resolve(close()).catch(() => {}))
          .catch(() => {})
          .finally(() => this.undo(plugin.name));
      },
      failed,
    );
  }

  /** Restores what the plugin patched and stops its module listeners, newest first. */
  private undo(name: string): void {
    const list = this.undos.get(name) ?? [];
    while (list.length > 0) {
      try {
        list.pop()!();
      } catch (error) {
        log.error('PPERF_ERR_PLUGIN_CLOSE', `plugin "${name}" could not restore a patch`, { error });
      }
    }
  }

  private dropExitFlushes(name: string): void {
    for (let i = this.exitFlushes.length - 1; i >= 0; i--) if (this.exitFlushes[i]!.name === name) this.exitFlushes.splice(i, 1);
  }

  private mark(name: string, state: PluginState, reason?: string): void {
    // A plugin that failed after `provide` must not be used by anyone.
    if (state !== 'running') this.provided_.delete(name);
    this.status.set(name, reason === undefined ? { name, state } : { name, state, reason });
  }

  /** The value a running plugin passed to `provide`. */
  provided(name: string): unknown {
    return this.provided_.get(name);
  }

  /** Closes running plugins in reverse start order, each bounded by `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    while (this.closers.length > 0) {
      const { name, close } = this.closers.pop()!;
      try {
        const result = await withTimeout(Promise.resolve().then(close), timeoutMs);
        if (result === TIMEOUT) log.error('PPERF_ERR_PLUGIN_CLOSE', `plugin "${name}" did not close within ${timeoutMs} ms`);
      } catch (error) {
        log.error('PPERF_ERR_PLUGIN_CLOSE', `plugin "${name}" failed to close`, { error });
      }
      this.undo(name);
    }
  }
}

const SECRET = /pass|secret|token|key|auth|credential|url|dsn/i;

/** Options with anything that could hold a secret replaced, at any depth, for display. */
export function redact(value: Record<string, unknown>): Record<string, unknown> {
  const walk = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(walk) : v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype ? redact(v as Record<string, unknown>) : v;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET.test(k) && v !== undefined ? '[redacted]' : walk(v)]));
}
