import { s, type Output } from './schema.js';
import type { ConfigProblem } from './config.js';

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
};

export const coreSchema = s.object(fields);
export type CoreSettings = Output<typeof fields>;

const ENV: Record<keyof typeof fields, string> = {
  setupTimeoutMs: 'PLANDEX_PERF_SETUP_TIMEOUT_MS',
  configTimeoutMs: 'PLANDEX_PERF_CONFIG_TIMEOUT_MS',
};

export function coreSettings(env: NodeJS.ProcessEnv = process.env): { settings: CoreSettings; problems: ConfigProblem[] } {
  const raw: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(ENV)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const n = Number(text);
    raw[field] = text.trim() !== '' && Number.isFinite(n) ? n : text;
  }
  const problems: ConfigProblem[] = [];
  const settings = { ...coreSchema.defaults() };
  for (const [field, value] of Object.entries(raw) as [keyof CoreSettings, unknown][]) {
    const result = coreSchema.safeParse({ ...coreSchema.defaults(), [field]: value });
    if (result.success) settings[field] = result.data[field];
    else for (const issue of result.issues) problems.push({ path: `${ENV[field]}=${env[ENV[field]] ?? ''}`, message: issue.message });
  }
  return { settings, problems };
}
