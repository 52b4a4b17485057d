import { nodeOptionsFor } from '../../plugins/heap-budget/advice.js';
import type { Profile } from '../profiles.js';
import { profileFromArgs, takeOption } from './profile-args.js';

/** The variables that apply a profile: heap flags and the preload in NODE_OPTIONS, libuv's pool size, the profile. */
export function profileEnv(profile: Profile, preload = '@plandex-perf/register'): Record<string, string> {
  return {
    NODE_OPTIONS: nodeOptionsFor(profile, preload),
    UV_THREADPOOL_SIZE: String(profile.uvThreadpoolSize),
    PLANDEX_PERF_PROFILE: profile.name,
  };
}

const quote = (value: string) => `"${value.replace(/(["\\$`])/g, '\\$1')}"`;

export function formatEnv(vars: Record<string, string>, format: string): string {
  const entries = Object.entries(vars);
  switch (format) {
    case 'shell':
      return entries.map(([k, v]) => `export ${k}=${quote(v)}`).join('\n');
    case 'docker':
      return `ENV ${entries.map(([k, v]) => `${k}=${quote(v)}`).join(' \\\n    ')}`;
    case 'systemd':
      return entries.map(([k, v]) => `Environment=${quote(`${k}=${v}`)}`).join('\n');
    case 'json':
      return JSON.stringify(vars, null, 2);
    default:
      throw new Error(`unknown format "${format}" (shell, docker, systemd, json)`);
  }
}

/** `plandex-perf env [--profile P] [--format shell|docker|systemd|json] [--preload SPECIFIER]` (e.g. an absolute path in an image) */
export async function envCommand(argv: string[]): Promise<number> {
  const profileArg = takeOption(argv, 'profile');
  const formatArg = takeOption(profileArg.rest, 'format');
  const preloadArg = takeOption(formatArg.rest, 'preload');
  const profile = await profileFromArgs(profileArg.value);
  const vars = profileEnv(profile, preloadArg.value);
  process.stdout.write(`${formatEnv(vars, formatArg.value ?? 'shell')}\n`);
  if (profile.name === 'auto') {
    process.stderr.write('note: "auto" was sized for this machine; in an image build, name the profile of the machine it will run on (--profile container-512m).\n');
  }
  return 0;
}
