#!/usr/bin/env node
/**
 * `plandex-perf`: the package's command-line tool. Its first commands inspect configuration and write the
 * generated docs; later capabilities add their own (run, env, db-report, bench, profile).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinPlugins } from './builtin.js';
import { envOverrides, findConfigFile, loadConfigFile, resolveSection, unknownSections, type RawConfig } from './config.js';
import { errorsMarkdown, optionsMarkdown, replaceBlock } from './docs.js';
import { profileFromArgs } from './commands/profile-args.js';
import { runCommand } from './commands/run.js';
import { envCommand } from './commands/env.js';
import { runDbReport } from './commands/db-report/index.js';
import { profileCommand } from './commands/profile.js';
import { benchCommand } from './commands/bench.js';

const help = `Usage: plandex-perf <command> [options]

Commands:
  config               Validate the configuration (file, PLANDEX_PERF_* and OTEL_* variables) and print
                       each plugin's effective options; exits 1 if any section is invalid.
  options [--write F]  Print the options table generated from the plugin schemas (or update it in F).
  errors [--write F]   Print the error-code reference (or write it to F).
  run [--profile P] -- node server.js
                       Start the command with the profile's heap flags, UV_THREADPOOL_SIZE and the
                       preload; signals are forwarded and its exit status is returned.
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
  version              Print the version.

Add the preload to a server:  node --import @plandex-perf/register server.js
`;

function packageVersion(): string {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

async function config(): Promise<number> {
  const file = findConfigFile();
  let raw: RawConfig = {};
  if (file) {
    try {
      raw = await loadConfigFile(file);
    } catch (error) {
      console.error(`PPERF_ERR_CONFIG_LOAD: ${file}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  let profile;
  try {
    profile = await profileFromArgs(undefined);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  console.log(`config file: ${file ?? '(none)'}\nprofile: ${profile.name} (${Math.round(profile.memoryBytes / 2 ** 20)} MiB, ${profile.cpus} CPUs)`);
  let failed = false;
  for (const section of unknownSections(raw, builtinPlugins.map((p) => p.name))) console.error(`PPERF_WRN_003: section "${section}" matches no plugin`);
  for (const plugin of builtinPlugins) {
    const result = resolveSection(plugin, { profile, file: raw[plugin.name], env: envOverrides(plugin), code: undefined });
    if (result.problems.length > 0) {
      failed = true;
      console.error(`PPERF_ERR_CONFIG_INVALID in "${plugin.name}":`);
      for (const p of result.problems) console.error(`  ${p.path}: ${p.message}`);
    } else {
      console.log(`${plugin.name}: ${JSON.stringify(result.options)}`);
    }
  }
  return failed ? 1 : 0;
}

function writeOrPrint(args: string[], generated: string, merge: (current: string) => string): number {
  const at = args.indexOf('--write');
  if (at === -1) {
    process.stdout.write(`${generated}\n`);
    return 0;
  }
  const target = args[at + 1];
  if (!target) {
    console.error('--write needs a file');
    return 2;
  }
  const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  fs.writeFileSync(target, merge(current));
  console.log(`wrote ${target}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'config':
      return config();
    case 'options':
      return writeOrPrint(args, optionsMarkdown(builtinPlugins), (current) => replaceBlock(current, optionsMarkdown(builtinPlugins)));
    case 'errors':
      return writeOrPrint(args, errorsMarkdown(), () => errorsMarkdown());
    case 'run':
      return runCommand(args);
    case 'env':
      return envCommand(args);
    case 'db-report':
      return runDbReport(args);
    case 'profile':
      return profileCommand(args);
    case 'bench':
      return benchCommand(args);
    case 'version':
    case '--version':
      console.log(packageVersion());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(help);
      return 0;
    default:
      console.error(`unknown command "${command}"\n\n${help}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
