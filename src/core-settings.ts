import { s, type Output } from './schema.js';

/**
 * The preload's own knobs, outside any plugin. They are read from the environment (the config file is
 * loaded under one of them) and validated like plugin options: a bad value is a coded line naming the
 * variable and its raw text, and the default is used.
 */
const fields = {
  setupTimeoutMs: s
    .integer({ min: 1, max: 60_000 })
    .default(2000)
    .describe('Time limit of one plugin setup that waits for I/O; past it the plugin is disabled alone. Env `PLANDEX_PERF_SETUP_TIMEOUT_MS`.'),
  configTimeoutMs: s
    .integer({ min: 1, max: 60_000 })
    .default(2000)
    .describe('Time limit for a config module with top-level `await`; past it the preload runs with defaults. Env `PLANDEX_PERF_CONFIG_TIMEOUT_MS`.'),
  logLevel: s.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info').describe('What the preload logs (to stderr, prefixed `[plandex-perf]`). Env `PLANDEX_PERF_LOG_LEVEL`.'),
  logFormat: s.enum(['text', 'json']).default('text').describe('`json`: one JSON object per line, for log shippers. Env `PLANDEX_PERF_LOG_FORMAT`.'),
  hooks: s
    .enum(['auto', 'legacy'])
    .default('auto')
    .describe('How modules are hooked: `auto` uses `module.registerHooks` (CommonJS and ESM alike) where Node has it; `legacy` wraps `Module._load` instead, which sees CommonJS loads only (for a host whose own loader hooks clash). Env `PLANDEX_PERF_HOOKS`.'),
};

/**
 * The config file's top-level keys beside the plugin sections, validated by `plan()` like a section (a bad
 * value is `PPERF_ERR_CONFIG_INVALID` with its path, and is ignored). `profiles` (custom profiles) has its
 * schema beside the built-in profiles it extends (`customProfilesSchema`, src/profiles.ts).
 */
export const topLevelFields = {
  profile: s
    .string({ min: 1 })
    .optional()
    .describe('The profile: `auto` (the default), `container-512m`, `laptop-4g`, `server-16g`, or a name under `profiles`. Env `PLANDEX_PERF_PROFILE` wins over the file.'),
  disable: s
    .array(s.string({ min: 1 }), { max: 50 })
    .optional()
    .describe('Plugins to switch off, by name, or `all`. Env `PLANDEX_PERF_DISABLE` (comma-separated) adds to the list.'),
};
export const topLevelSchema = s.object(topLevelFields);

/** `profiles` in the options table; its figures' rows come from `customProfileSchema` (src/profiles.ts). */
export const PROFILES_OPTION = {
  type: 'object',
  description: 'Custom profiles by name, e.g. `{ "small-vm": { "extends": "laptop-4g", "memoryBytes": 2147483648, "cpus": 2 } }`: machine figures only (docs/profiles.md lists them); a plugin option here is refused with the option that replaces it.',
};

export const coreSchema = s.object(fields);
export type CoreSettings = Output<typeof fields>;

export const ENV: Record<keyof typeof fields, string> = {
  setupTimeoutMs: 'PLANDEX_PERF_SETUP_TIMEOUT_MS',
  configTimeoutMs: 'PLANDEX_PERF_CONFIG_TIMEOUT_MS',
  logLevel: 'PLANDEX_PERF_LOG_LEVEL',
  logFormat: 'PLANDEX_PERF_LOG_FORMAT',
  hooks: 'PLANDEX_PERF_HOOKS',
};

/** Names of the fields whose values are words, matched case-insensitively (`WARN` is `warn`). */
const WORDS = new Set<string>(['logLevel', 'logFormat', 'hooks']);

/**
 * One bad variable: the shape of a ConfigProblem (src/plugin.ts), spelled here so that log.ts can read
 * these settings without an import cycle through plugin.ts.
 */
export interface SettingProblem {
  path: string;
  message: string;
}

export function coreSettings(env: NodeJS.ProcessEnv = process.env): { settings: CoreSettings; problems: SettingProblem[] } {
  const raw: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(ENV)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const n = Number(text);
    raw[field] = WORDS.has(field) ? text.toLowerCase() : text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  const problems: SettingProblem[] = [];
  const settings = { ...coreSchema.defaults() };
  for (const [field, value] of Object.entries(raw) as [keyof CoreSettings, unknown][]) {
    const result = coreSchema.safeParse({ ...coreSchema.defaults(), [field]: value });
    if (result.success) (settings as Record<string, unknown>)[field] = result.data[field];
    else for (const issue of result.issues) problems.push({ path: `${ENV[field]}=${env[ENV[field]] ?? ''}`, message: issue.message });
  }
  return { settings, problems };
}
