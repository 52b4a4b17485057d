import { coreSettings, topLevelSchema } from './core-settings.js';
import { disabledPlugins, findConfigFile, loadConfig, envOverrides, envSources, resolveSection, unknownSections, type RawConfig } from './config.js';
import { PluginHost, type PluginStatus } from './host.js';
import { log } from './log.js';
import { checkCustomProfiles, profileNames, resolveProfile, type CustomProfiles, type Profile } from './profiles.js';
import { installSignalHandlers } from './signals.js';
import { builtinPlugins } from './builtin.js';
import type { PluginDefinition } from './plugin.js';
import type { Code } from './errors.js';

export interface Runtime {
  profile: Profile;
  configFile: string | undefined;
  status(): PluginStatus[];
  /** Closes every plugin in reverse order; bounded by `timeoutMs` per plugin. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Configuration from code: wins over environment, file and profile. */
  config?: RawConfig;
  plugins?: readonly PluginDefinition[];
  /** Allow SIGTERM/SIGINT handling when a plugin needs a flush at exit (the preload does; an app calling the API may not want it). */
  handleSignals?: boolean;
}

const CLOSE_BOUND_MS = 2000;

/**
 * Loads the configuration and starts the plugins. Everything up to the first setup that waits for I/O
 * runs synchronously (see `PluginHost.start`), so the returned promise is often settled already; it never
 * waits on the config file or a plugin longer than their time limits.
 */
export function start(options: StartOptions = {}): Promise<Runtime> {
  const { settings, problems } = coreSettings();
  for (const problem of problems) log.error('PPERF_ERR_CONFIG_INVALID', `${problem.path}: ${problem.message}; using the default`);
  const configFile = findConfigFile();
  if (!configFile) return boot(options, undefined, {}, settings.setupTimeoutMs);
  let loaded: RawConfig | Promise<RawConfig>;
  try {
    loaded = loadConfig(configFile);
  } catch (error) {
    log.error('PPERF_ERR_CONFIG_LOAD', `could not load ${configFile}; running with defaults`, { error });
    return boot(options, configFile, {}, settings.setupTimeoutMs);
  }
  if (!(loaded instanceof Promise)) {
    log.debug(`config file: ${configFile}`);
    return boot(options, configFile, loaded, settings.setupTimeoutMs);
  }
  if (!process.execArgv.some((a) => a === '--import' || a.startsWith('--import='))) {
    log.warn('PPERF_WRN_025', `${configFile} uses top-level await: the preload starts only after it settles, so modules the app loads before then are not instrumented; remove the await or start with --import`);
  }
  return boundedConfig(loaded, settings.configTimeoutMs).then(
    (config) => {
      if (config === undefined) log.error('PPERF_ERR_CONFIG_TIMEOUT', `${configFile} did not finish loading within ${settings.configTimeoutMs} ms; running with defaults`);
      else log.debug(`config file: ${configFile}`);
      return boot(options, configFile, config ?? {}, settings.setupTimeoutMs);
    },
    (error: unknown) => {
      log.error('PPERF_ERR_CONFIG_LOAD', `could not load ${configFile}; running with defaults`, { error });
      return boot(options, configFile, {}, settings.setupTimeoutMs);
    },
  );
}

/** The config module's value, or undefined past `ms`. The timer is ref'd: a config awaiting forever must not let the host exit unseen. */
function boundedConfig(loading: Promise<RawConfig>, ms: number): Promise<RawConfig | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  return Promise.race([loading, limit]).finally(() => clearTimeout(timer));
}

/** One finding of the configuration pipeline; the preload logs it, `plandex-perf config` prints it. */
export interface Finding {
  level: 'error' | 'warn';
  code: Code;
  message: string;
  fields?: Record<string, unknown>;
}

export interface Plan {
  profile: Profile;
  /** Each plugin's validated options, or why it stays off. */
  resolved: Map<string, { options?: Record<string, unknown>; off?: string }>;
  findings: Finding[];
}

/**
 * The whole configuration pipeline, from the config file's value to each plugin's options: profiles,
 * sections, disable lists, precedence, reduced runs. Pure apart from reading `env`; the preload and
 * `plandex-perf config` both run exactly this, so the CLI can never call valid what the preload rejects.
 */
export function plan(fileConfig: RawConfig, options: Pick<StartOptions, 'config' | 'plugins'> = {}, env: NodeJS.ProcessEnv = process.env): Plan {
  const findings: Finding[] = [];
  const plugins = options.plugins ?? builtinPlugins;
  const code = options.config ?? {};

  // The top-level keys beside the sections: a bad one is reported with its path and ignored.
  const topLevel = topLevelSchema.safeParse({ profile: fileConfig.profile, disable: fileConfig.disable });
  if (!topLevel.success) {
    const bad = new Set(topLevel.issues.map((issue) => String(issue.path[0])));
    findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_INVALID', message: `config ${[...bad].join(', ')} invalid and ignored`, fields: { problems: topLevel.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) } });
    fileConfig = { ...fileConfig };
    for (const key of bad) delete fileConfig[key];
  }
  const profileProblems = checkCustomProfiles(fileConfig.profiles);
  if (profileProblems.length > 0) findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_INVALID', message: 'custom profiles are invalid and ignored', fields: { problems: profileProblems } });
  const custom = profileProblems.length === 0 ? ((fileConfig.profiles as CustomProfiles | undefined) ?? {}) : {};
  const profileName = [code.profile, env.PLANDEX_PERF_PROFILE, fileConfig.profile].find((p): p is string => typeof p === 'string' && p !== '');
  let profile = resolveProfile(profileName, undefined, custom);
  if (!profile) {
    // Named as the user set it: the variable when the name came from the environment (code wins over it).
    const from = typeof code.profile !== 'string' && profileName === env.PLANDEX_PERF_PROFILE ? `PLANDEX_PERF_PROFILE=${profileName}: ` : '';
    findings.push({ level: 'warn', code: 'PPERF_WRN_005', message: `${from}unknown profile "${profileName}"; using auto`, fields: { profiles: profileNames(custom) } });
    profile = resolveProfile('auto')!;
  }

  const names = plugins.map((p) => p.name);
  for (const section of [...unknownSections(fileConfig, names), ...unknownSections(code, names)]) {
    findings.push({ level: 'warn', code: 'PPERF_WRN_003', message: `config section "${section}" matches no plugin; ignored`, fields: { plugins: names } });
  }
  const disabled = disabledPlugins({ ...fileConfig, ...code }, env);
  for (const name of disabled) {
    if (name !== 'all' && !names.includes(name)) findings.push({ level: 'warn', code: 'PPERF_WRN_003', message: `cannot disable unknown plugin "${name}"`, fields: { plugins: names } });
  }

  const resolved = new Map<string, { options?: Record<string, unknown>; off?: string }>();
  for (const plugin of plugins) {
    if (disabled.has('all') || disabled.has(plugin.name)) {
      resolved.set(plugin.name, { off: 'disabled by PLANDEX_PERF_DISABLE or config' });
      continue;
    }
    const offBy = plugin.offBy?.(env);
    if (offBy !== undefined) {
      resolved.set(plugin.name, { off: offBy });
      continue;
    }
    const layers = { profile, file: fileConfig[plugin.name], env: envOverrides(plugin, env), envSources: envSources(plugin, env), code: code[plugin.name] };
    const section = resolveSection(plugin, layers);
    if (section.problems.length === 0) {
      resolved.set(plugin.name, { options: section.options ?? {} });
      continue;
    }
    const reduced = plugin.whenInvalid?.(section.problems);
    const omit = new Set(section.problems.map((p) => p.path.split('.')[1]).filter((f): f is string => f !== undefined));
    const retry = reduced && resolveSection(plugin, layers, { omit, set: reduced.options as Record<string, unknown> });
    if (retry && retry.problems.length === 0) {
      findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_INVALID', message: `plugin "${plugin.name}" runs reduced: its configuration is invalid, ${reduced.effect}`, fields: { problems: section.problems } });
      resolved.set(plugin.name, { options: retry.options ?? {} });
    } else {
      findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_INVALID', message: `plugin "${plugin.name}" is disabled: its configuration is invalid`, fields: { problems: section.problems } });
      resolved.set(plugin.name, { off: 'invalid configuration' });
    }
  }
  return { profile, resolved, findings };
}

function boot(options: StartOptions, configFile: string | undefined, fileConfig: RawConfig, setupTimeoutMs: number): Promise<Runtime> {
  const plugins = options.plugins ?? builtinPlugins;
  const { profile, resolved, findings } = plan(fileConfig, options);
  for (const finding of findings) log[finding.level](finding.code, finding.message, finding.fields);

  const host = new PluginHost(profile, setupTimeoutMs);
  const finish = (): Runtime => {
    let closed: Promise<void> | undefined;
    const shutdown = (timeoutMs = CLOSE_BOUND_MS): Promise<void> => (closed ??= host.close(timeoutMs));
    // Signal handling only when a plugin would lose data without a flush (traces over OTLP): a pull
    // endpoint loses nothing at exit, and any JavaScript listener changes how a blocked host dies.
    const flushes = host.exitFlushes;
    const boundMs = Math.max(0, ...flushes.map((f) => f.boundMs));
    const flushAll = () => Promise.all(flushes.map((f) => f.flush(boundMs).catch(() => {}))).then(() => {});
    const removeSignals = options.handleSignals !== false && flushes.length > 0 ? installSignalHandlers(() => flushAll().then(() => shutdown(boundMs)), flushAll, boundMs) : () => {};

    const running = [...host.status.values()].filter((s) => s.state === 'running').map((s) => s.name);
    // What the loader (src/load.ts) did with the bundle's code cache; absent when the sources were loaded directly.
    const compileCache = (globalThis as Record<symbol, unknown>)[Symbol.for('plandex-perf.compile-cache')];
    log.debug(
      `started: ${running.join(', ') || 'nothing'} (profile ${profile.name})${flushes.length > 0 ? `; SIGTERM/SIGINT flush ${flushes.map((f) => f.name).join(', ')} within ${boundMs} ms` : '; no signal listener'}${compileCache === undefined ? '' : `; compile cache: ${String(compileCache)}`}`,
    );
    return {
      profile,
      configFile,
      status: () => [...host.status.values()],
      shutdown: async (timeoutMs) => {
        removeSignals();
        await shutdown(timeoutMs);
      },
    };
  };
  const pending = host.start(plugins, resolved);
  return pending ? pending.then(finish) : Promise.resolve(finish());
}
