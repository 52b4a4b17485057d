#!/usr/bin/env node
/**
 * `plandex-perf`: the package's command-line tool; each command lives in src/commands/. Every command
 * parses its arguments strictly (src/commands/args.ts): a flag it does not know is exit 2 naming it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpOption, parseFlags, reportUsage, UsageError } from './commands/args.js';
import { configCommand } from './commands/config.js';
import { errorsCommand, optionsCommand } from './commands/docs.js';
import { runCommand } from './commands/run.js';
import { envCommand } from './commands/env.js';
import { runDbReport } from './commands/db-report/index.js';
import { profileCommand } from './commands/profile.js';
import { benchCommand } from './commands/bench.js';
import { cacheTriggersCommand } from './commands/cache-triggers.js';

const help = `Usage: plandex-perf <command> [options]

Commands:
  config               Run the preload's configuration pipeline (file, profiles, PLANDEX_PERF_* and OTEL_*
                       variables) and print each plugin's effective options and every coded finding;
                       exits 1 if a finding is an error.
  options [--write F]  Print the options table generated from the plugin schemas (or update it in F).
  errors [--write F]   Print the error-code reference (or write it to F).
  run [--profile P] -- node server.js
                       Start the command (everything after --, verbatim) with the profile's heap flags,
                       UV_THREADPOOL_SIZE and the preload; signals are forwarded and its exit status is returned.
  env [--profile P] [--format shell|docker|systemd|json] [--preload SPECIFIER]
                       Print the variables that apply a profile (for Docker, systemd or PM2).
  db-report [--json] [--url URL]
                       Report foreign keys without an index (with the CREATE INDEX statements to add),
                       the slowest statements, unused indexes and heavy sequential scans (DATABASE_URL);
                       exits 1 if it finds problems, 2 if it cannot run.
  profile doctor|flame|bubbleprof|heap [--load] [--profile P] -- node server.js
                       Run Clinic.js (optional; the command says how to install it) on the server
                       with the preload active; --load drives the reference load, then prints where
                       the report is. \`profile --help\` for its options.
  bench [--profile P] [--scenario S] [--compare previous.json] …
                       Run the reference app bare and with the plugin under the same load (from a checkout
                       of the repository); write the KPIs side by side (Markdown), an HTML report with
                       charts and JSON results; --compare exits 1 on a regression. \`bench --help\`.
  cache install-triggers|uninstall-triggers|list-triggers --tables a,b [--url URL]
                       Triggers that NOTIFY the cache of writes this process cannot see (another app,
                       psql); start the app with cache.listen: true. \`cache --help\`.
  version              Print the version (also --version, -v).

\`plandex-perf <command> --help\` prints a command's options. Exit status 2: bad usage (a coded message).

Add the preload to a server:  node --import @plandex-perf/register server.js
`;

function packageVersion(): string {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

const versionUsage = 'Usage: plandex-perf version (or plandex-perf --version, -v)\n\nPrints the version of the package.\n';

function version(argv: string[]): number {
  try {
    if (parseFlags(argv, helpOption).values.help) {
      process.stdout.write(versionUsage);
      return 0;
    }
  } catch (error) {
    return reportUsage(error, versionUsage);
  }
  console.log(packageVersion());
  return 0;
}

const commands: Record<string, (argv: string[]) => number | Promise<number>> = {
  config: configCommand,
  options: optionsCommand,
  errors: errorsCommand,
  run: runCommand,
  env: envCommand,
  'db-report': runDbReport,
  profile: profileCommand,
  bench: benchCommand,
  cache: cacheTriggersCommand,
  version,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command !== undefined && Object.hasOwn(commands, command)) return commands[command]!(args);
  switch (command) {
    case '--version':
    case '-v':
      return version(args);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(help);
      return 0;
    default:
      return reportUsage(new UsageError(command.startsWith('-') ? `unknown option "${command}"` : `unknown command "${command}"`), help);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
