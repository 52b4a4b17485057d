import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { Code } from '../errors.js';

/** A command line the command cannot take: printed as `CODE: message`, then the command's usage; exit 2. */
export class UsageError extends Error {
  readonly code: Code;
  constructor(message: string, code: Code = 'PPERF_ERR_CLI_USAGE') {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}

/** `--help`/`-h`, which every command takes. */
export const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/** Edit distance counting a swap of neighbours as one edit, for "did you mean": misspelled flags (`--profle`, `--quikc`). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The message of one of parseArgs's errors, reworded to name the argument (Node's wording differs between versions). */
function reword(error: { code?: unknown; message: string }, options: ParseArgsOptionsConfig): string {
  const quoted = /'([^' ]+)/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const name = quoted.replace(/^-+/, '').split('=')[0]!;
      const near = Object.keys(options).filter((known) => distance(name, known) <= Math.min(2, Math.floor(known.length / 3)));
      return `unknown option "${quoted}"${near.length > 0 ? ` (did you mean ${near.map((n) => `--${n}`).join(' or ')}?)` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(error.message)) return `${quoted} takes no value`;
      if (/ambiguous/.test(error.message)) return `${quoted} needs a value (one that starts with a dash is written ${quoted}=-x)`;
      return `${quoted} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`;
    default:
      return error.message;
  }
}

/**
 * `node:util` parseArgs in strict mode: an unknown or misspelled flag, a missing value or a stray argument
 * is a UsageError naming it (with `code`), never silently ignored. An empty string option (`--profile=`) counts as missing.
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(argv: readonly string[], options: O, code: Code = 'PPERF_ERR_CLI_USAGE', allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
  } catch (error) {
    if (error instanceof Error) throw new UsageError(reword(error, options), code);
    throw error;
  }
  for (const [name, value] of Object.entries(parsed.values)) if (value === '') throw new UsageError(`--${name} needs a value`, code);
  return parsed;
}

/**
 * Splits `[our flags…] [--] command…`: the command starts after `--` or at the first argument that is
 * neither a flag nor a flag's value, and is kept verbatim, its own flags included (`-- node --inspect s.js`).
 */
export function splitCommand(argv: readonly string[], options: ParseArgsOptionsConfig): { flags: string[]; command: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return { flags: argv.slice(0, i), command: argv.slice(i + 1) };
    if (!arg.startsWith('-') || arg === '-') return { flags: argv.slice(0, i), command: argv.slice(i) };
    // A string flag given as `--name value` takes the next argument with it.
    const long = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    const short = !arg.startsWith('--') && arg.length === 2 ? Object.values(options).find((o) => o.short === arg[1]) : undefined;
    if ((long ?? short)?.type === 'string') i++;
  }
  return { flags: [...argv], command: [] };
}

/** Prints a failed parse the same way for every command; anything else is rethrown. */
export function reportUsage(error: unknown, usage: string, stderr: { write(chunk: string): unknown } = process.stderr): 2 {
  if (!(error instanceof UsageError)) throw error;
  stderr.write(`${error.code}: ${error.message}\n\n${usage}`);
  return 2;
}
