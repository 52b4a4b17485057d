import { s, type Output } from '../../src/schema.js';

const fields = {
  max: s.integer({ min: 1, max: 10_000 }).default(4).describe('Pool size when the pool sets none. Default from the profile: one per CPU, two per CPU in a `tuned` (named) profile, at most 16.'),
  min: s.integer({ min: 0, max: 10_000 }).default(0).describe('Resources kept when idle.'),
  acquireTimeoutMillis: s
    .integer({ min: 1 })
    .default(5_000)
    .describe('Fail an acquirer that waited this long, with a coded error. generic-pool waits forever by default.'),
  maxWaitingClients: s
    .integer({ min: 1 })
    .default(1_000)
    .describe('Bound on queued acquirers; beyond it `acquire()` fails at once with a coded error. generic-pool queues without limit by default.'),
  evictionRunIntervalMillis: s
    .integer({ min: 0 })
    .default(10_000)
    .describe('How often idle resources are checked for eviction. generic-pool defaults to 0, which never evicts, so `idleTimeoutMillis` does nothing.'),
  idleTimeoutMillis: s.integer({ min: 1 }).default(30_000).describe('Evict resources idle this long.'),
  createBackoffMs: s
    .integer({ min: 1 })
    .default(100)
    .describe('After a failed `create`, wait this long before the next attempt, doubling per failure: generic-pool retries at once, a busy loop when the factory keeps failing.'),
  createBackoffMaxMs: s.integer({ min: 1 }).default(10_000).describe('Upper bound of the create back-off.'),
  leakDetectionMs: s.integer({ min: 0 }).default(30_000).describe('A resource borrowed longer than this gets one warning with the stack of its `acquire`; `0` off.'),
  pools: s
    .record(
      s.object({
        module: s.string({ min: 1 }).describe('Module exporting the factory (`{ create, destroy, validate? }`), relative to the working directory.'),
        export: s.string({ min: 1 }).default('default').describe('Name of the export.'),
        max: s.integer({ min: 1 }).optional(),
        min: s.integer({ min: 0 }).optional(),
        acquireTimeoutMillis: s.integer({ min: 1 }).optional(),
      }),
      { max: 100 },
    )
    .default({})
    .describe('Pools declared in the config file, built at start-up: `{ compressors: { module: "./pools/compress.js", max: 2 } }`; get one with `getPool(name)` from the API.'),
  hookGenericPool: s
    .boolean()
    .default(true)
    .describe("Apply these defaults and fixes to every `generic-pool` pool the app creates (zero-code); `false` limits them to `createPool` from the API."),
};

export const schema = s.object(fields);
export type ObjectPoolOptions = Output<typeof fields>;
