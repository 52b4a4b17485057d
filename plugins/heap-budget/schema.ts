import { s, type Output } from '../../src/schema.js';

const fields = {
  sampleMs: s.integer({ min: 50, max: 60_000 }).default(500).describe('How often heap, RSS and the event loop are sampled (an unref\'d timer).'),
  softHeapRatio: s
    .number({ min: 0.1, max: 1 })
    .default(0.75)
    .describe('Heap used / heap limit at which caches and idle pools are asked to shrink. Default from the profile.'),
  hardHeapRatio: s
    .number({ min: 0.1, max: 1 })
    .default(0.9)
    .describe('Heap used / heap limit at which new HTTP requests get 503 + `Retry-After`. Default from the profile.'),
  maxRssBytes: s
    .integer({ min: 0 })
    .default(0)
    .describe(
      'RSS at which requests are shed too, while the V8 heap plus Buffers is also past `softHeapRatio` (RSS left high by a freed spike sheds nothing); `0` = not on RSS. Default: 90 % of a container\'s memory limit, else `0`.',
    ),
  maxEventLoopDelayMs: s
    .number({ min: 0 })
    .default(0)
    .describe('Event-loop delay p99 (over the last sample interval, beyond the shared sampler\'s 20 ms period) at which requests are shed; `0` = not on delay, and no delay sampling for this plugin. Default from the profile.'),
  hysteresis: s
    .number({ min: 0, max: 0.5 })
    .default(0.05)
    .describe('How far below a threshold (as a fraction of the limit) a value must fall before the state eases, so it does not flap.'),
  confirmWithGcMs: s
    .integer({ min: 0, max: 600_000 })
    .default(2000)
    .describe(
      'Before shedding on heap, and then at most this often while shedding, run one full GC so the budget counts live memory, not garbage awaiting collection (an idle server may otherwise never collect and never recover). `0` = never force a GC.',
    ),
  shed: s.boolean().default(true).describe('`false` observes and reports the state but never sheds.'),
  retryAfterSeconds: s.integer({ min: 1, max: 3600 }).default(5).describe('`Retry-After` sent with a 503.'),
  exemptPaths: s
    .array(s.string({ startsWith: '/' }), { max: 100 })
    .default(['/health', '/healthz', '/live', '/livez', '/metrics'])
    .describe('Paths never shed (liveness checks: the process is up, even while it sheds); a path matches itself and anything below it.'),
  readinessPaths: s
    .array(s.string({ startsWith: '/' }), { max: 100 })
    .default(['/ready', '/readyz'])
    .describe(
      'Readiness checks: while shedding they answer 503 "not ready" with `Retry-After` (so a load balancer takes the host out of rotation) without calling the app; otherwise the app answers them. A path matches itself and anything below it; listed here it is never exempt. `[]` = leave readiness to the app.',
    ),
  heapSnapshotDir: s
    .string({ min: 1 })
    .optional()
    .describe('Off unless set. Writes one heap snapshot here when shedding starts, if it fits: it blocks the process for seconds and needs about 8 × the used heap in extra memory, so it is skipped (PPERF_WRN_031) when that would pass the cgroup limit, the profile\'s memory or the memory available.'),
};

export const schema = s
  .object(fields)
  .rule((o) => (o.softHeapRatio > o.hardHeapRatio ? { path: ['softHeapRatio'], message: `must not exceed hardHeapRatio (${o.hardHeapRatio}); got ${o.softHeapRatio}` } : undefined));
export type HeapBudgetOptions = Output<typeof fields>;
