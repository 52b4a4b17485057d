import { coreSettings } from './core-settings.js';
import type { Code } from './errors.js';

/**
 * The preload's own log: one line per event on stderr, prefixed so it is easy to grep out of the host's output.
 * Level and format are the validated core settings (`PLANDEX_PERF_LOG_LEVEL`, `PLANDEX_PERF_LOG_FORMAT`,
 * src/core-settings.ts), read when this module loads so that the first line already obeys them; a bad
 * value falls back to its default here, and `start()` reports it.
 */
const levels = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
type Level = Exclude<keyof typeof levels, 'silent'>;

const settings = coreSettings().settings;
let threshold: number = levels[settings.logLevel];
const json = settings.logFormat === 'json';
const once = new Set<string>();

function write(level: Level, code: Code | undefined, message: string, fields?: Record<string, unknown>): void {
  if (levels[level] > threshold) return;
  try {
    let line: string;
    if (json) {
      line = JSON.stringify({ time: new Date().toISOString(), level, source: 'plandex-perf', code, message, ...fields });
    } else {
      const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields, errorReplacer)}` : '';
      line = `[plandex-perf] ${level}${code ? ` ${code}` : ''}: ${message}${extra}`;
    }
    process.stderr.write(`${line}\n`);
  } catch {
    // Logging must never throw into the host (stderr closed, circular fields).
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export const log = {
  error: (code: Code, message: string, fields?: Record<string, unknown>) => write('error', code, message, fields),
  warn: (code: Code, message: string, fields?: Record<string, unknown>) => write('warn', code, message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write('info', undefined, message, fields),
  debug: (message: string, fields?: Record<string, unknown>) => write('debug', undefined, message, fields),
  /** Logs a coded line once per key for the life of the process: for things that would otherwise repeat per request. */
  once(key: string, level: 'error' | 'warn', code: Code, message: string, fields?: Record<string, unknown>): void {
    if (once.has(key)) return;
    once.add(key);
    write(level, code, message, fields);
  },
  setLevel(name: keyof typeof levels): void {
    threshold = levels[name];
  },
};
