import type { Code } from '../../src/errors.js';

/**
 * The coded lines this plugin logs; src/errors.ts documents each with its cause and fix. Asserted to
 * `Code` so the folder builds on its own; once errors.ts lists them, `satisfies Code` says the same.
 */
export const WRN_NOT_SERVED = 'PPERF_WRN_014' as Code;
export const ERR_CAPTURE_FAILED = 'PPERF_ERR_DIAG_CAPTURE_FAILED' as Code;
