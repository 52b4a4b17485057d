import type { Profile } from '../../src/profiles.js';

/**
 * heap-budget's thresholds from a profile. A container sheds earlier (0.70 / 0.85 of V8's limit), since its
 * cgroup also counts native memory, and is held to 90 % of its limit in RSS; a shared machine at 0.75 / 0.90.
 * No event-loop delay limit from any profile: that is for CPU-bound services to choose.
 */
export function heapBudgetProfileDefaults(profile: Profile) {
  return {
    softHeapRatio: profile.constrained ? 0.7 : 0.75,
    hardHeapRatio: profile.constrained ? 0.85 : 0.9,
    maxEventLoopDelayMs: 0,
    maxRssBytes: profile.constrained ? Math.round(profile.memoryBytes * 0.9) : 0,
  };
}
