import { clamp, type Profile } from '../../src/profiles.js';

const MiB = 2 ** 20;

/**
 * The L1 budget from a profile: a bounded share of the old space (shrunk further under heap pressure),
 * an eighth, 8 MiB–1 GiB. A `tuned` container profile leaves more of its small heap to the app: a sixteenth.
 */
export function l1BytesFor(profile: Profile): number {
  const share = profile.intent === 'tuned' && profile.constrained ? 1 / 16 : 1 / 8;
  return Math.round(clamp(profile.maxOldSpaceMb * share, 8, 1024)) * MiB;
}

export function cacheProfileDefaults(profile: Profile): { l1Bytes: number } {
  return { l1Bytes: l1BytesFor(profile) };
}
