import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ConfigProblem, PluginDefinition } from './plugin.js';
import type { Profile } from './profiles.js';
import type { Kind } from './schema.js';
import { importModule } from './import-module.js';

/** The raw configuration: one section per plugin, plus a few top-level keys. */
export type RawConfig = Record<string, unknown>;

export const configFileNames = ['plandex-perf.config.mjs', 'plandex-perf.config.js', 'plandex-perf.config.json'];
const topLevelKeys = new Set(['profile', 'profiles', 'disable']);

export type { ConfigProblem } from './plugin.js';

/** `PLANDEX_PERF_CONFIG` wins; otherwise the first config file found in the working directory. */
export function findConfigFile(cwd = process.cwd(), env = process.env): string | undefined {
  if (env.PLANDEX_PERF_CONFIG) return path.resolve(cwd, env.PLANDEX_PERF_CONFIG);
  for (const name of configFileNames) {
    const candidate = path.join(cwd, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

const requireConfig = createRequire(import.meta.url);

function asConfig(file: string, value: unknown): RawConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${file} must export an object (got ${Array.isArray(value) ? 'an array' : typeof value})`);
  }
  return value as RawConfig;
}

const exported = (mod: Record<string, unknown>): unknown => ('default' in mod ? mod.default : mod);

/**
 * Loads the config file synchronously when it can — JSON, CommonJS, and ES modules without top-level
 * `await` (Node 22.12+ `require()`s those) — so the preload can start before the app's first module even
 * under `-r`. A module with top-level `await` comes back as a promise, which the caller bounds in time.
 */
export function loadConfig(file: string): RawConfig | Promise<RawConfig> {
  if (file.endsWith('.json')) return asConfig(file, JSON.parse(fs.readFileSync(file, 'utf8')));
  try {
    return asConfig(file, exported(requireConfig(file) as Record<string, unknown>));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error;
    return importModule(pathToFileURL(file).href).then((mod) => asConfig(file, exported(mod)));
  }
}

export async function loadConfigFile(file: string): Promise<RawConfig> {
  return loadConfig(file);
}

/** `metricsPort` → `METRICS_PORT`; plugin `pg-pool` → `PG_POOL`. */
export function envName(plugin: string, field: string): string {
  const snake = field.replace(/([a-z0-9])([A-Z])/g, '$1_$2');
  return `PLANDEX_PERF_${plugin.replace(/-/g, '_')}_${snake}`.toUpperCase();
}

function coerce(raw: string, kind: Kind): unknown {
  if (kind === 'integer' || kind === 'number') {
    const n = Number(raw);
    return raw.trim() !== '' && Number.isFinite(n) ? n : raw; // left as a string so validation names the field
  }
  if (kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return raw;
  }
  if (kind === 'array') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

/** Reads `PLANDEX_PERF_<PLUGIN>_<FIELD>` for every top-level field of the plugin's schema. */
export function envOverrides(plugin: PluginDefinition, env = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(plugin.fromEnv?.(env) ?? {}) };
  for (const [field, { meta }] of Object.entries(plugin.schema.fields)) {
    const raw = env[envName(plugin.name, field)];
    if (raw !== undefined) out[field] = coerce(raw, meta.kind);
  }
  return out;
}

/**
 * Where each field of the environment layer comes from, as `NAME=value` with the value as given
 * (`OTEL_TRACES_SAMPLER_ARG=abc`), so a problem names what the user set rather than a config path.
 * Same precedence as `envOverrides`: our `PLANDEX_PERF_*` name wins over a standard one.
 */
export function envSources(plugin: PluginDefinition, env = process.env): Map<string, string> {
  const sources = new Map<string, string>();
  for (const [field, name] of Object.entries(plugin.fromEnvNames ?? {})) {
    const raw = typeof name === 'string' ? env[name] : undefined;
    if (raw !== undefined && raw !== '') sources.set(field, `${name}=${raw}`);
  }
  for (const field of Object.keys(plugin.schema.fields)) {
    const name = envName(plugin.name, field);
    const raw = env[name];
    if (raw !== undefined) sources.set(field, `${name}=${raw}`);
  }
  return sources;
}

export interface ResolvedSection {
  options: Record<string, unknown> | undefined;
  problems: ConfigProblem[];
}

/**
 * Precedence, lowest first: built-in default (the schema) < profile < config file < environment < code.
 * All problems of a section are reported at once, each with its field path.
 */
export function resolveSection(
  plugin: PluginDefinition,
  layers: { profile: Profile; file?: unknown; env?: Record<string, unknown>; code?: unknown; envSources?: ReadonlyMap<string, string> },
  /** For a reduced run: fields to drop from every layer (back to their defaults) and options to force. */
  reduce?: { omit: ReadonlySet<string>; set: Record<string, unknown> },
): ResolvedSection {
  const problems: ConfigProblem[] = [];
  const section = (value: unknown, source: string): Record<string, unknown> => {
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ path: plugin.name, message: `must be an object in the ${source}` });
      return {};
    }
    return value as Record<string, unknown>;
  };
  const merged = {
    ...(plugin.profileDefaults?.(layers.profile) ?? {}),
    ...section(layers.file, 'config file'),
    ...(layers.env ?? {}),
    ...section(layers.code, 'code'),
  };
  if (reduce) {
    for (const field of reduce.omit) delete merged[field];
    Object.assign(merged, reduce.set);
  }
  // Validate the rest even when a layer was unusable, so every problem is reported in one go.
  const result = plugin.schema.safeParse(merged);
  if (result.success && problems.length === 0) return { options: result.data as Record<string, unknown>, problems };
  if (result.success) return { options: undefined, problems };
  const code = layers.code !== null && typeof layers.code === 'object' ? (layers.code as Record<string, unknown>) : {};
  for (const issue of result.issues) {
    const field = String(issue.path[0] ?? '');
    // Code wins over the environment, so a bad value set in code is not the variable's.
    const env = field in code || !(field in (layers.env ?? {})) ? undefined : layers.envSources?.get(field);
    problems.push({ path: [plugin.name, ...issue.path.map(String)].join('.'), ...(env === undefined ? {} : { env }), message: issue.message });
  }
  return { options: undefined, problems };
}

/** Top-level keys that are neither a plugin nor a known key: likely typos. */
export function unknownSections(config: RawConfig, pluginNames: Iterable<string>): string[] {
  const known = new Set(pluginNames);
  return Object.keys(config).filter((key) => !known.has(key) && !topLevelKeys.has(key));
}

/** `PLANDEX_PERF_DISABLE=cache,pg-pool` plus the config file's `disable` list; `all` turns everything off. */
export function disabledPlugins(config: RawConfig, env = process.env): Set<string> {
  const names = new Set<string>();
  for (const name of (env.PLANDEX_PERF_DISABLE ?? '').split(',')) if (name.trim()) names.add(name.trim());
  if (Array.isArray(config.disable)) for (const name of config.disable) if (typeof name === 'string') names.add(name);
  return names;
}
