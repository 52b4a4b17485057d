import { findConfigFile, loadConfigFile } from '../config.js';
import { PerfError } from '../errors.js';
import { checkCustomProfiles, profileNames, resolveProfile, type CustomProfiles, type Profile } from '../profiles.js';

/** The profile named on the command line, else by PLANDEX_PERF_PROFILE, else the config file, else auto. */
export async function profileFromArgs(name: string | undefined): Promise<Profile> {
  const file = findConfigFile();
  const config = file ? await loadConfigFile(file) : {};
  const problems = checkCustomProfiles(config.profiles);
  if (problems.length > 0) throw new Error(`PPERF_ERR_CONFIG_INVALID: ${problems.join('; ')}`);
  const custom = (config.profiles as CustomProfiles | undefined) ?? {};
  const wanted = name ?? process.env.PLANDEX_PERF_PROFILE ?? (typeof config.profile === 'string' ? config.profile : undefined);
  const profile = resolveProfile(wanted, undefined, custom);
  // A usage error here, not the preload's warning: the command would otherwise act for a machine nobody asked for.
  if (!profile) throw new PerfError('PPERF_ERR_PROFILE_UNKNOWN', `PPERF_ERR_PROFILE_UNKNOWN: unknown profile "${wanted}" (known: ${profileNames(custom).join(', ')})`);
  return profile;
}
