import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { heapFlags } from '../heap-flags.js';
import type { Profile } from '../profiles.js';
import { helpOption, parseFlags, reportUsage, splitCommand, UsageError } from './args.js';
import { profileFromArgs } from './profile-args.js';

export const runUsage = `Usage: plandex-perf run [--profile P] [--] command [its arguments…]

Starts the command with the profile's heap flags (--max-old-space-size, --max-semi-space-size),
UV_THREADPOOL_SIZE and the preload: on node's command line for \`node …\`, in NODE_OPTIONS for anything
else (\`npm start\`). Flags the command already sets win. Signals are forwarded to its process group and
its exit status is returned (or the signal it died of).
  --profile P          the profile (default: auto, or PLANDEX_PERF_PROFILE, or the config file's)

Everything from the first argument that is not one of these flags (or after \`--\`) is the command,
verbatim: plandex-perf run --profile container-512m -- node --inspect server.js
`;

const options = { ...helpOption, profile: { type: 'string' } } as const;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** The `--import` entry of this build (dist/src/register.js), which waits for the preload bundle to set up. */
export function preloadUrl(): string {
  return pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../register.js')).href;
}

const isNode = (command: string) => command === process.execPath || /^node(\.exe)?$/.test(path.basename(command)) || /(^|\/)node\d*$/.test(command);

/**
 * The child command with the profile applied. For `node …`, flags go on its command line (where the
 * app's own explicit flags still win: ours are added only when absent); for anything else (`npm start`),
 * they go into NODE_OPTIONS, which every node it starts reads.
 */
export function buildCommand(command: string[], profile: Profile, env: NodeJS.ProcessEnv, preload = preloadUrl()): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  const [file, ...args] = command;
  if (file === undefined) throw new Error('nothing to run: give a command after --, e.g. plandex-perf run -- node server.js');
  const flags = [...heapFlags(profile, [...args, ...(env.NODE_OPTIONS ?? '').split(/\s+/)]), `--import=${preload}`];
  const childEnv: NodeJS.ProcessEnv = { ...env, PLANDEX_PERF_PROFILE: profile.name };
  childEnv.UV_THREADPOOL_SIZE ??= String(profile.uvThreadpoolSize);
  if (isNode(file)) return { file: file === 'node' ? process.execPath : file, args: [...flags, ...args], env: childEnv };
  childEnv.NODE_OPTIONS = [env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ');
  return { file, args, env: childEnv };
}

/** `plandex-perf run [--profile P] -- node server.js`: signals go to the child; its exit status is ours. */
export async function runCommand(argv: string[]): Promise<number> {
  const { flags, command } = splitCommand(argv, options);
  let values;
  try {
    ({ values } = parseFlags(flags, options));
    if (!values.help && command.length === 0) throw new UsageError('nothing to run: give the command, e.g. plandex-perf run -- node server.js');
  } catch (error) {
    return reportUsage(error, runUsage);
  }
  if (values.help) {
    process.stdout.write(runUsage);
    return 0;
  }
  const profile = await profileFromArgs(values.profile);
  const { file, args, env } = buildCommand(command, profile, process.env);
  // Its own process group, so a signal reaches every process of the tree: `npm start` runs `sh -c`,
  // which runs node, and neither npm nor sh passes SIGTERM on reliably (the app was orphaned).
  const group = process.platform !== 'win32';
  const child = spawn(file, args, { stdio: 'inherit', env, detached: group });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      child.kill(signal);
    }
  };
  const handlers = SIGNALS.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`plandex-perf run: cannot start "${file}": ${error.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      for (const [s, handler] of handlers) process.removeListener(s, handler);
      if (signal) {
        // Die of the same signal so our parent sees what it would have seen without us.
        process.kill(process.pid, signal);
        resolve(128 + (os.constants.signals[signal] ?? 0));
      } else {
        resolve(code ?? 1);
      }
    });
  });
}
