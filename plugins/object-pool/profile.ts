import { clamp, type Profile } from '../../src/profiles.js';

/**
 * The cap of each pool from a profile: one heavy resource per CPU (`auto`); a `tuned` profile allows two,
 * so one can be prepared while the other works. At most 16 either way.
 */
export function poolMaxFor(profile: Profile): number {
  return clamp(profile.intent === 'tuned' ? 2 * profile.cpus : profile.cpus, 1, 16);
}

export function objectPoolProfileDefaults(profile: Profile): { max: number } {
  return { max: poolMaxFor(profile) };
}
