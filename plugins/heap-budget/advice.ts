import { heapLimitBytes, nodeOptionsFor } from '../../src/heap-flags.js';
import type { Profile } from '../../src/profiles.js';

const MiB = 2 ** 20;

/**
 * V8 fixes its heap limit at start-up (a preload calling v8.setFlagsFromString changes nothing), so the
 * preload can only compare and advise. The limit V8 reports is the old space plus three semi-spaces.
 */
export function heapLimitAdvice(profile: Profile, heapSizeLimit: number): { message: string; command: string } | undefined {
  const expected = heapLimitBytes(profile);
  if (Math.abs(heapSizeLimit - expected) <= expected * 0.05) return undefined;
  const command = `NODE_OPTIONS="${nodeOptionsFor(profile)}" node server.js   # or: npx plandex-perf run --profile ${profile.name} -- node server.js`;
  return {
    message: `the V8 heap limit is ${Math.round(heapSizeLimit / MiB)} MiB, not the ${Math.round(expected / MiB)} MiB of profile "${profile.name}"; heap flags must be given when Node starts`,
    command,
  };
}
