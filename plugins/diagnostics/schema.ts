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
    .describe(
      'Serve `/debug/heap-snapshot`. A snapshot stops the process for seconds and needs about 8 × the used heap in extra memory, so the default is `false` in a container or with 4 GiB or less (profiles `container-512m`, `laptop-4g`; `auto` on such a machine), where the route answers 403 `PPERF_ERR_DIAG_SNAPSHOT_OFF`; `true` elsewhere. Even on, a snapshot that would not fit in memory is refused (503 `PPERF_ERR_DIAG_SNAPSHOT_NO_FIT`).',
    ),
  heapSnapshotDir: s
    .string({ min: 1 })
    .optional()
    .describe('Where the snapshot file is written before it is streamed (unlinked at once, so nothing is left behind). Default: the system temporary directory. On tmpfs the file counts as memory in the fit check.'),
  downloadStallMs: s
    .integer({ min: 1000, max: 600_000 })
    .default(30_000)
    .describe('A heap-snapshot download that takes less than 64 KiB in this long (a stalled or trickling client) is dropped, so no client holds the file and its descriptor for long.'),
  authFailures: s
    .integer({ min: 1, max: 1000 })
    .default(10)
    .describe('Failed token checks allowed per client address (IPv6: per /64) in a burst; then every request from it gets 429 + `Retry-After` until its allowance refills over `authBackoffSeconds`.'),
  authBackoffSeconds: s
    .integer({ min: 1, max: 86_400 })
    .default(60)
    .describe('How long a client\'s allowance of failed token checks takes to refill completely (one more attempt every `authBackoffSeconds / authFailures`).'),
  snapshotsPerSecond: s
    .integer({ min: 1, max: 100 })
    .default(5)
    .describe('How many `/debug/snapshot` requests are answered per second (a token bucket of this size); more get 429.'),
};

export const schema = s
  .object(fields)
  .rule((o) =>
    o.cpuProfileSeconds > o.maxCpuProfileSeconds ? { path: ['cpuProfileSeconds'], message: `must not exceed maxCpuProfileSeconds (${o.maxCpuProfileSeconds}); got ${o.cpuProfileSeconds}` } : undefined,
  );
export type DiagnosticsOptions = Output<typeof fields>;
