import type { CacheOptions } from './schema.js';
import type { EngineOptions } from './types.js';

/** The engine's options from the validated plugin options, plus what only the caller knows. */
export function engineOptions(options: CacheOptions, extra: Pick<EngineOptions, 'store' | 'log'> & Partial<EngineOptions>): EngineOptions {
  return {
    l1Bytes: options.l1Bytes,
    l1MaxEntryBytes: options.l1MaxEntryBytes,
    l1MaxTtl: options.l1MaxTtl,
    defaults: {
      ttl: options.ttl,
      grace: options.grace,
      staleIfError: options.staleIfError,
      softTimeout: options.softTimeout,
      hardTimeout: options.hardTimeout,
      negativeTtl: options.negativeTtl,
    },
    jitter: options.jitter,
    keyPrefix: options.keyPrefix,
    commandTimeoutMs: options.commandTimeoutMs,
    breakerThreshold: options.breakerThreshold,
    breakerCooldownMs: options.breakerCooldownMs,
    leaseMs: options.leaseMs,
    leaseWaitMs: options.leaseWaitMs,
    compressAboveBytes: options.compressAboveBytes,
    maxInFlight: options.maxInFlight,
    bus: options.bus,
    ...extra,
  };
}
