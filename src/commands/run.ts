import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Profile } from '../profiles.js';
import { profileFromArgs, takeOption } from './profile-args.js';

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
  const flags: string[] = [];
  const all = [...args, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!all.some((a) => a.startsWith('--max-old-space-size'))) flags.push(`--max-old-space-size=${profile.maxOldSpaceMb}`);
  if (!all.some((a) => a.startsWith('--max-semi-space-size'))) flags.push(`--max-semi-space-size=${profile.maxSemiSpaceMb}`);
  flags.push(`--import=${preload}`);
  const childEnv: NodeJS.ProcessEnv = { ...env, PLANDEX_PERF_PROFILE: profile.name };
  childEnv.UV_THREADPOOL_SIZE ??= String(profile.uvThreadpoolSize);
  if (isNode(file)) return { file: file === 'node' ? process.execPath : file, args: [...flags, ...args], env: childEnv };
  childEnv.NODE_OPTIONS = [env.NODE_OPTIONS, ...flags].filter(Boolean).join(' ');
  return { file, args, env: childEnv };
}

/** `plandex-perf run [--profile P] -- node server.js`: signals go to the child; its exit status is ours. */
export async function runCommand(argv: string[]): Promise<number> {
  const { value, rest } = takeOption(argv, 'profile');
  const command = rest[0] === '--' ? rest.slice(1) : rest;
  const profile = await profileFromArgs(value);
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
