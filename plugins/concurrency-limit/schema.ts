import { s, type Output } from '../../src/schema.js';

const fields = {
  enabled: s
    .boolean()
    .default(false)
    .describe('Off by default: limiting concurrency changes what clients see (queueing, 503s). `true` turns it on (`PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED=1`).'),
  initialLimit: s.integer({ min: 1, max: 10_000 }).default(20).describe('Concurrent requests allowed before the first latency window has closed.'),
  minLimit: s
    .integer({ min: 1, max: 10_000 })
    .default(10)
    .describe(
      'The floor: the limit never goes below it, and baseline probes run at it. Must be ≤ `maxLimit`. A low floor finds the knee of a CPU-light app more exactly, but every probe then throttles harder; 10 (Netflix uses 20) keeps normal load untouched on the reference app.',
    ),
  maxLimit: s.integer({ min: 1, max: 10_000 }).default(1000).describe('The ceiling: the limit never goes above it.'),
  windowMs: s
    .integer({ min: 10, max: 60_000 })
    .default(200)
    .describe('A latency window closes once it is this old and holds `minSamples` samples; the limit moves once per window.'),
  minSamples: s.integer({ min: 1, max: 500 }).default(20).describe('Samples a window needs before it closes (a probe window needs 3×).'),
  smoothing: s
    .number({ min: 0.01, max: 1 })
    .default(0.2)
    .describe('Weight of the new estimate in each update (Gradient2\'s smoothing); `1` follows each window fully.'),
  tolerance: s
    .number({ min: 1, max: 4 })
    .default(1.25)
    .describe('How far above the no-load latency a window\'s median may sit before the limit shrinks: `1.25` = 25 % (Envoy\'s buffer).'),
  probeIntervalMs: s
    .integer({ min: 1000, max: 3_600_000 })
    .default(30_000)
    .describe('While the limit binds, the no-load latency is re-measured (one window at `minLimit`) when it is older than this.'),
  queueRatio: s
    .number({ min: 0, max: 10 })
    .default(0.5)
    .describe('Requests over the limit wait in a FIFO of `ceil(limit × queueRatio)` places; past that they get 503. `0` = no queue.'),
  maxQueueWaitMs: s
    .integer({ min: 1, max: 60_000 })
    .default(1000)
    .describe('A queued request that has waited this long gets 503 + `Retry-After`.'),
  retryAfterSeconds: s.integer({ min: 1, max: 3600 }).default(1).describe('`Retry-After` sent with a 503.'),
  exemptPaths: s
    .array(s.string({ startsWith: '/' }), { max: 100 })
    .default(['/health', '/healthz', '/live', '/livez', '/metrics'])
    .describe('Paths never limited nor counted (liveness, metrics); a path matches itself and anything below it.'),
  readinessPaths: s
    .array(s.string({ startsWith: '/' }), { max: 100 })
    .default(['/ready', '/readyz'])
    .describe('Readiness checks: never limited; answered 503 "not ready" by the plugin while it is rejecting requests, so a load balancer takes the instance out; passed to the app otherwise.'),
  notReadyMs: s
    .integer({ min: 0, max: 600_000 })
    .default(2000)
    .describe('How long after the last rejection readiness stays "not ready". `0` = readiness is never answered by the plugin.'),
};

export const schema = s
  .object(fields)
  .rule((o) => (o.minLimit > o.maxLimit ? { path: ['minLimit'], message: `must not exceed maxLimit (${o.maxLimit}); got ${o.minLimit}` } : undefined));
export type ConcurrencyLimitOptions = Output<typeof fields>;
