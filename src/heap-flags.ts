import type { ProfileFigures } from './profiles.js';

const MiB = 2 ** 20;
type HeapFigures = Pick<ProfileFigures, 'maxOldSpaceMb' | 'maxSemiSpaceMb'>;

/**
 * The node flags that apply a profile's heap, the only place they are spelled. `given` are flags the
 * command already has (its own argv, NODE_OPTIONS): an explicit flag there wins and ours is left out.
 */
export function heapFlags(profile: HeapFigures, given: readonly string[] = []): string[] {
  const has = (flag: string) => given.some((a) => a === flag || a.startsWith(`${flag}=`) || a.startsWith(`--${flag.slice(2).replaceAll('-', '_')}=`));
  const flags: string[] = [];
  if (!has('--max-old-space-size')) flags.push(`--max-old-space-size=${profile.maxOldSpaceMb}`);
  if (!has('--max-semi-space-size')) flags.push(`--max-semi-space-size=${profile.maxSemiSpaceMb}`);
  return flags;
}

/** The `NODE_OPTIONS` that apply a profile's heap flags and the preload (`plandex-perf env`, the heap advice). */
export function nodeOptionsFor(profile: HeapFigures, preload = '@plandex-perf/register'): string {
  return [...heapFlags(profile), '--import', preload].join(' ');
}

/** The heap figures in a list of node flags (what `plandex-perf env` printed, say); undefined where absent. */
export function parseHeapFlags(args: readonly string[]): Partial<HeapFigures> {
  const read = (flag: string) => {
    const value = args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
    return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
  };
  const figures: Partial<HeapFigures> = {};
  const old = read('--max-old-space-size');
  const semi = read('--max-semi-space-size');
  if (old !== undefined) figures.maxOldSpaceMb = old;
  if (semi !== undefined) figures.maxSemiSpaceMb = semi;
  return figures;
}

/** The limit V8 reports (`heap_size_limit`) under these flags: the old space plus three semi-spaces. */
export function heapLimitBytes(profile: HeapFigures): number {
  return (profile.maxOldSpaceMb + 3 * profile.maxSemiSpaceMb) * MiB;
}
