import type { ObjectSchema, Shape } from './schema.js';
import type { Context, Meter, Tracer } from '@opentelemetry/api';
import type { Profile } from './profiles.js';
import type { log } from './log.js';
import type { ModuleTarget } from './hooks.js';

/** One bad configuration field. (Here, with the contract that hands problems to `whenInvalid`, so config.ts and this file do not import each other.) */
export interface ConfigProblem {
  /** Dotted path of the field, starting with the plugin name. */
  path: string;
  /** `NAME=value`, the value as given, when the bad value came from an environment variable. */
  env?: string;
  message: string;
}

export type { ModuleTarget } from './hooks.js';

export type Close = () => void | Promise<void>;

/** What a plugin's setup receives besides its options. */
export interface PluginContext {
  /** The active profile, for machine-sized defaults. */
  profile: Profile;
  log: typeof log;
  /**
   * The value a `dependsOn` plugin passed to `provide`, e.g. `ctx.need<Telemetry>('telemetry')`. The host
   * starts this plugin only once its dependencies run, so it is there; one that provided nothing, or a name
   * not in `dependsOn`, throws a PerfError (`PPERF_ERR_PLUGIN_DEPENDENCY`).
   */
  need<T>(plugin: string): T;
  /**
   * The value an `optionalDependsOn` plugin passed to `provide`, or undefined while it does not run, e.g.
   * `ctx.use<HeapBudget>('heap-budget')?.state()`. A name not in `optionalDependsOn` throws (a `dependsOn`
   * one is read with `need`).
   */
  use<T>(plugin: string): T | undefined;
  /** Makes a value available to plugins that depend on this one. */
  provide(value: unknown): void;
  /** The plugins' states and their effective options, secrets redacted: for diagnostics. */
  runtimeInfo(): RuntimeInfo;
  /**
   * Replaces the named exports of the app's own module files with `wrap(name, fn, file)` when they load,
   * in ESM and CommonJS alike (files by absolute path). A wrapper that throws leaves the function as is.
   * Stops when the plugin closes: a module evaluated after that keeps its own functions.
   */
  wrapExports(targets: { file: string; exports: string[] }[], wrap: (exportName: string, fn: (...args: unknown[]) => unknown, file: string) => (...args: unknown[]) => unknown): void;
  /**
   * Runs `fn` with the exports of module `name` each time a copy loads (CommonJS or ESM). `name` must be one
   * of the plugin's declared `modules`; copies outside their version range are not handed over.
   * Stops when the plugin closes.
   */
  onModuleLoad(name: string, fn: (exports: unknown) => void): void;
  /**
   * Runs `fn` once with the exports of a Node built-in (`'https'`): now if the process has loaded it,
   * else when the host first loads it (so a plugin never loads a built-in the host does not use).
   * Nothing runs after the plugin closes.
   */
  onBuiltinLoad(name: string, fn: (exports: unknown) => void): void;
  /**
   * Replaces `target[key]` with `make(original)`; the host restores it when the plugin closes (see
   * src/patch.ts). Returns the undo, for a plugin that wants to restore it earlier.
   */
  patch<T extends object, K extends keyof T>(target: T, key: K, make: (original: T[K]) => T[K]): () => void;
  /**
   * Asks for SIGTERM/SIGINT handling so that `flush` runs, bounded by `boundMs`, before the process exits.
   * Only for data that would be lost otherwise (a push exporter's buffer). While no running plugin asks,
   * the preload adds no signal listener at all, so the host's signals behave exactly as bare — even with
   * a blocked event loop, where a JavaScript listener could never run.
   */
  flushOnExit(flush: (timeoutMs: number) => Promise<void>, boundMs: number): void;
}

export interface RuntimeInfo {
  profile: Profile;
  plugins: { name: string; state: string; reason?: string }[];
  options: Record<string, Record<string, unknown>>;
}

export interface Telemetry {
  meter: Meter;
  /** The resolved `service.name`. */
  serviceName: string;
  /** Present only when traces are configured: hot paths check it and build no span otherwise. */
  tracer: Tracer | undefined;
  /** Makes `ctx` the active context for the rest of this synchronous run and its async continuations. */
  enterContext(ctx: Context): void;
  /** True for servers the preload itself runs (the metrics endpoint), which must not be measured. */
  isOwnServer(server: unknown): boolean;
  /**
   * Serves `handler` at `path` on the metrics server (loopback by default). Returns false when no metrics
   * server runs (`OTEL_METRICS_EXPORTER=none`). The handler decides who may call it.
   */
  addRoute(path: string, handler: (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => void): boolean;
  /**
   * This process and its place among the processes of the app that share the metrics port: `leader`
   * serves `/metrics` (the sum over all) and `/debug/*` (about itself only), `follower` reports to it.
   */
  processInfo(): { pid: number; role: 'pm2-instance' | 'cluster-worker' | 'cluster-primary' | 'process'; metrics: 'starting' | 'leader' | 'follower' | 'none'; processes: number };
  /** The interface the metrics server is configured on (`telemetry.metricsHost`), known before it listens. */
  metricsHost: string;
  /** After how long without a measurement a series is dropped (`telemetry.staleSeriesAfterMs`; 0 never): bounded labels forget their values alike. */
  staleSeriesAfterMs: number;
  /** Where the metrics server listens, once it does (never in a follower). */
  metricsAddress(): { host: string; port: number } | undefined;
  /** Bounded flush of pending telemetry (traces), used on shutdown. */
  flush(timeoutMs: number): Promise<void>;
}

export interface PluginDefinition<S extends Shape = Shape> {
  name: string;
  /** One line for the docs. */
  description: string;
  dependsOn?: string[];
  /**
   * Plugins this one uses when they run, set up before it if present; `use()` returns undefined for one
   * that is off. Unlike `dependsOn`, their absence does not disable this plugin.
   */
  optionalDependsOn?: string[];
  /** The modules it instruments, matched by the host wherever they are installed; see src/hooks.ts. */
  modules?: readonly ModuleTarget[];
  schema: ObjectSchema<S>;
  /** Defaults drawn from the active profile; they sit between built-in defaults and the config file. */
  profileDefaults?: (profile: Profile) => Partial<ObjectSchema<S>['_input']>;
  /** A standard switch that turns the plugin off (`OTEL_SDK_DISABLED=true` for telemetry): the reason, or undefined. */
  offBy?: (env: NodeJS.ProcessEnv) => string | undefined;
  /** Standard variables outside our `PLANDEX_PERF_*` naming (e.g. `OTEL_*`), read as part of the environment layer. */
  fromEnv?: (env: NodeJS.ProcessEnv) => Partial<ObjectSchema<S>['_input']>;
  /** The variable `fromEnv` reads each field from, so that a bad value is reported under the name the user set. */
  fromEnvNames?: Partial<Record<keyof S & string, string>>;
  /**
   * A reduced form to run in when the configuration is invalid: the invalid fields fall back to their
   * defaults and these options are applied on top (telemetry turns its endpoint off on a bad port, so
   * the plugins that keep the host safe still run). Undefined keeps the plugin off.
   */
  whenInvalid?: (problems: ConfigProblem[]) => { options: Partial<ObjectSchema<S>['_input']>; effect: string } | undefined;
  setup(ctx: PluginContext, options: ObjectSchema<S>['_output']): void | Close | Promise<void | Close>;
}

export function definePlugin<S extends Shape>(definition: PluginDefinition<S>): PluginDefinition<S> {
  return definition;
}
