import { describe, expect, it } from 'vitest';
import { profileFromArgs } from '../../src/commands/profile-args.js';
import { PerfError } from '../../src/errors.js';

describe('the profile a command is given', () => {
  it('an unknown one is an error code (the command exits 2), not the preload warning', async () => {
    const error = await profileFromArgs('huge').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PerfError);
    expect(error).toMatchObject({ code: 'PPERF_ERR_PROFILE_UNKNOWN' });
    expect(String((error as Error).message)).toMatch(/^PPERF_ERR_PROFILE_UNKNOWN: unknown profile "huge" \(known: auto, container-512m/);
  });

  it('a known one resolves', async () => {
    expect((await profileFromArgs('laptop-4g')).name).toBe('laptop-4g');
  });
});
