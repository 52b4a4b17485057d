import { s, type Output } from '../../src/schema.js';

const fields = {
  token: s
    .string({ min: 16 })
    .optional()
    .describe(
      'Bearer token for the `/debug/*` routes (`Authorization: Bearer <token>`), compared in constant time; at least 16 characters. Needed whenever the metrics server is bound off loopback — without one the routes are not served there (PPERF_WRN_014). On a loopback-bound server, loopback callers need none. Shown redacted. Default: unset.',
    ),
  minIntervalMs: s
    .integer({ min: 0, max: 3_600_000 })
    .default(10_000)
    .describe('Minimum time between the end of one heavy operation (CPU profile, heap snapshot) and the start of the next; sooner gets 429 + `Retry-After`. `0` = only the one-at-a-time rule.'),
  cpuProfileSeconds: s.number({ min: 0.1, max: 600 }).default(10).describe('Length of a CPU profile when the request gives no `?seconds=`.'),
  maxCpuProfileSeconds: s
    .number({ min: 0.1, max: 600 })
    .default(60)
    .describe('Longest CPU profile a request may ask for; more gets 400. Must be ≥ `cpuProfileSeconds`.'),
  heapSnapshot: s
    .boolean()
    .default(true)
    .describe('`false` leaves `/debug/heap-snapshot` out: taking a snapshot stops the process while V8 walks the heap and needs about as much memory again as the heap.'),
  snapshotsPerSecond: s
    .integer({ min: 1, max: 100 })
    .default(5)
    .describe('How many `/debug/snapshot` requests are answered per second (a token bucket of this size); more get 429.'),
};

export const schema = s.object(fields);
export type DiagnosticsOptions = Output<typeof fields>;
