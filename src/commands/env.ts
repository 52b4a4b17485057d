import { nodeOptionsFor } from '../heap-flags.js';
import type { Profile } from '../profiles.js';
import { helpOption, parseFlags, reportUsage, UsageError } from './args.js';
import { profileFromArgs } from './profile-args.js';

export const envUsage = `Usage: plandex-perf env [--profile P] [--format shell|docker|systemd|json] [--preload SPECIFIER]

Prints the variables that apply a profile (NODE_OPTIONS with its heap flags and the preload,
UV_THREADPOOL_SIZE, PLANDEX_PERF_PROFILE) for a Dockerfile, a systemd unit, PM2 or a shell.
  --profile P          the profile of the machine it will run on (default: auto, or PLANDEX_PERF_PROFILE)
  --format F           shell (default), docker, systemd or json
  --preload SPECIFIER  what --import loads (default @plandex-perf/register; e.g. an absolute path in an image)
`;

const options = { ...helpOption, profile: { type: 'string' }, format: { type: 'string' }, preload: { type: 'string' } } as const;
const FORMATS = ['shell', 'docker', 'systemd', 'json'];

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

/** `plandex-perf env [--profile P] [--format shell|docker|systemd|json] [--preload SPECIFIER]` */
export async function envCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseFlags(argv, options));
    if (values.format !== undefined && !FORMATS.includes(values.format)) throw new UsageError(`unknown --format "${values.format}" (${FORMATS.join(', ')})`);
  } catch (error) {
    return reportUsage(error, envUsage);
  }
  if (values.help) {
    process.stdout.write(envUsage);
    return 0;
  }
  const profile = await profileFromArgs(values.profile);
  const vars = profileEnv(profile, values.preload);
  process.stdout.write(`${formatEnv(vars, values.format ?? 'shell')}\n`);
  if (profile.name === 'auto') {
    process.stderr.write('note: "auto" was sized for this machine; in an image build, name the profile of the machine it will run on (--profile container-512m).\n');
  }
  return 0;
}
