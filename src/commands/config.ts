import { coreSettings } from '../core-settings.js';
import { findConfigFile, loadConfig, type RawConfig } from '../config.js';
import { plan, type Finding } from '../start.js';
import { helpOption, parseFlags, reportUsage } from './args.js';

export const configUsage = `Usage: plandex-perf config

Runs the preload's configuration pipeline without starting anything: the preload's own variables
(PLANDEX_PERF_SETUP_TIMEOUT_MS…), the config file (PLANDEX_PERF_CONFIG, else plandex-perf.config.{mjs,js,json}
in this directory), profiles, PLANDEX_PERF_* and OTEL_* variables. Prints each plugin's effective options
(or why it is off), then every finding with its code, as the preload would log them.
Exit status: 0 valid; 1 a finding is an error (the preload would run that part reduced, disabled or on
defaults); 2 bad usage.
`;

const options = { ...helpOption } as const;

type Out = { write(chunk: string): unknown };

/** The config file's value as the preload gets it: the same loader and the same time limit for top-level await. */
async function loadFile(file: string, timeoutMs: number, findings: Finding[], notes: string[]): Promise<RawConfig> {
  try {
    const loaded = loadConfig(file);
    if (!(loaded instanceof Promise)) return loaded;
    notes.push(`${file} uses top-level await: the preload waits for it under --import, not under -r (PPERF_WRN_025)`);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, timeoutMs, undefined)));
    const config = await Promise.race([loaded, limit]).finally(() => clearTimeout(timer));
    if (config !== undefined) return config;
    findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_TIMEOUT', message: `${file} did not finish loading within ${timeoutMs} ms; the preload runs with defaults` });
  } catch (error) {
    findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_LOAD', message: `could not load ${file} (${error instanceof Error ? error.message : String(error)}); the preload runs with defaults` });
  }
  return {};
}

/** A finding's fields, one line each; the problem lists (the reason for most findings) one item a line. */
function formatFields(fields: Record<string, unknown> | undefined): string {
  let out = '';
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (key === 'problems' && Array.isArray(value)) {
      for (const p of value as unknown[]) out += `  ${typeof p === 'string' ? p : `${(p as { path: string }).path}: ${(p as { message: string }).message}`}\n`;
    } else {
      out += `  ${key}: ${Array.isArray(value) ? value.join(', ') : JSON.stringify(value)}\n`;
    }
  }
  return out;
}

/** `plandex-perf config`: exactly what `start()` resolves (coreSettings, findConfigFile/loadConfig, plan), printed. */
export async function configCommand(argv: string[], io: { stdout: Out; stderr: Out; env: NodeJS.ProcessEnv } = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  try {
    if (parseFlags(argv, options).values.help) {
      io.stdout.write(configUsage);
      return 0;
    }
  } catch (error) {
    return reportUsage(error, configUsage, io.stderr);
  }
  const findings: Finding[] = [];
  const notes: string[] = [];
  const { settings, problems } = coreSettings(io.env);
  for (const problem of problems) findings.push({ level: 'error', code: 'PPERF_ERR_CONFIG_INVALID', message: `${problem.path}: ${problem.message}; using the default` });
  const file = findConfigFile(process.cwd(), io.env);
  const raw = file ? await loadFile(file, settings.configTimeoutMs, findings, notes) : {};
  const result = plan(raw, {}, io.env);
  findings.push(...result.findings);

  const { profile } = result;
  io.stdout.write(`config file: ${file ?? '(none)'}\nprofile: ${profile.name} (${Math.round(profile.memoryBytes / 2 ** 20)} MiB, ${profile.cpus} CPUs)\n`);
  io.stdout.write(`setup time limit: ${settings.setupTimeoutMs} ms, config time limit: ${settings.configTimeoutMs} ms\n`);
  for (const note of notes) io.stdout.write(`note: ${note}\n`);
  for (const [name, { options: effective, off }] of result.resolved) io.stdout.write(off !== undefined ? `${name}: off (${off})\n` : `${name}: ${JSON.stringify(effective)}\n`);
  for (const finding of findings) io.stderr.write(`${finding.level} ${finding.code}: ${finding.message}\n${formatFields(finding.fields)}`);
  return findings.some((f) => f.level === 'error') ? 1 : 0;
}
