import { disabledPlugins, findConfigFile, loadConfigFile, envOverrides, resolveSection, unknownSections, type RawConfig } from './config.js';
import { PluginHost, type PluginStatus } from './host.js';
import { log } from './log.js';
import { checkCustomProfiles, profileNames, resolveProfile, type CustomProfiles, type Profile } from './profiles.js';
import { installSignalHandlers } from './signals.js';
import { builtinPlugins } from './builtin.js';
import type { PluginDefinition, Telemetry } from './plugin.js';

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
  plugins?: PluginDefinition[];
  /** Install SIGTERM/SIGINT handling (the preload does; an app calling the API may not want it). */
  handleSignals?: boolean;
}

export async function start(options: StartOptions = {}): Promise<Runtime> {
  const env = process.env;
  const plugins = options.plugins ?? builtinPlugins;
  const configFile = findConfigFile();
  let fileConfig: RawConfig = {};
  if (configFile) {
    try {
      fileConfig = await loadConfigFile(configFile);
      log.debug(`config file: ${configFile}`);
    } catch (error) {
      log.error('PPERF_ERR_CONFIG_LOAD', `could not load ${configFile}; running with defaults`, { error });
    }
  }
  const code = options.config ?? {};

  const profileProblems = checkCustomProfiles(fileConfig.profiles);
  if (profileProblems.length > 0) log.error('PPERF_ERR_CONFIG_INVALID', 'custom profiles are invalid and ignored', { problems: profileProblems });
  const custom = profileProblems.length === 0 ? ((fileConfig.profiles as CustomProfiles | undefined) ?? {}) : {};
  const profileName = [code.profile, env.PLANDEX_PERF_PROFILE, fileConfig.profile].find((p): p is string => typeof p === 'string' && p !== '');
  let profile = resolveProfile(profileName, undefined, custom);
  if (!profile) {
    log.warn('PPERF_WRN_005', `unknown profile "${profileName}"; using auto`, { profiles: profileNames(custom) });
    profile = resolveProfile('auto')!;
  }

  const names = plugins.map((p) => p.name);
  for (const section of [...unknownSections(fileConfig, names), ...unknownSections(code, names)]) {
    log.warn('PPERF_WRN_003', `config section "${section}" matches no plugin; ignored`, { plugins: names });
  }
  const disabled = disabledPlugins({ ...fileConfig, ...code }, env);
  for (const name of disabled) {
    if (name !== 'all' && !names.includes(name)) log.warn('PPERF_WRN_003', `cannot disable unknown plugin "${name}"`, { plugins: names });
  }

  const resolved = new Map<string, { options?: Record<string, unknown>; off?: string }>();
  for (const plugin of plugins) {
    if (disabled.has('all') || disabled.has(plugin.name)) {
      resolved.set(plugin.name, { off: 'disabled by PLANDEX_PERF_DISABLE or config' });
      continue;
    }
    if (plugin.name === 'telemetry' && env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
      resolved.set(plugin.name, { off: 'OTEL_SDK_DISABLED=true' });
      continue;
    }
    const section = resolveSection(plugin, { profile, file: fileConfig[plugin.name], env: envOverrides(plugin, env), code: code[plugin.name] });
    if (section.problems.length > 0) {
      log.error('PPERF_ERR_CONFIG_INVALID', `plugin "${plugin.name}" is disabled: its configuration is invalid`, { problems: section.problems });
      resolved.set(plugin.name, { off: 'invalid configuration' });
    } else {
      resolved.set(plugin.name, { options: section.options ?? {} });
    }
  }

  const setupTimeoutMs = Number(env.PLANDEX_PERF_SETUP_TIMEOUT_MS) || 2000;
  const host = new PluginHost(profile, setupTimeoutMs);
  await host.start(plugins, resolved);

  const telemetryOptions = resolved.get('telemetry')?.options as { shutdownFlushMs?: number } | undefined;
  const boundMs = telemetryOptions?.shutdownFlushMs ?? 2000;
  let closed: Promise<void> | undefined;
  const shutdown = (timeoutMs = boundMs): Promise<void> => (closed ??= host.close(timeoutMs));
  const telemetry = host.provided('telemetry') as Telemetry | undefined;
  const removeSignals =
    options.handleSignals === false ? () => {} : installSignalHandlers(() => shutdown(boundMs), () => telemetry?.flush(boundMs) ?? Promise.resolve(), boundMs);

  const running = [...host.status.values()].filter((s) => s.state === 'running').map((s) => s.name);
  log.debug(`started: ${running.join(', ') || 'nothing'} (profile ${profile.name})`);
  return {
    profile,
    configFile,
    status: () => [...host.status.values()],
    shutdown: async (timeoutMs) => {
      removeSignals();
      await shutdown(timeoutMs);
    },
  };
}
