import type { Code } from '../../src/errors.js';

/**
 * The coded lines this plugin logs; src/errors.ts documents each with its cause and fix (`satisfies Code`
 * fails the build if one is missing there).
 */
export const WRN_NOT_SERVED = 'PPERF_WRN_014' satisfies Code;
export const ERR_CAPTURE_FAILED = 'PPERF_ERR_DIAG_CAPTURE_FAILED' satisfies Code;
export const ERR_SNAPSHOT_OFF = 'PPERF_ERR_DIAG_SNAPSHOT_OFF' satisfies Code;
export const ERR_SNAPSHOT_NO_FIT = 'PPERF_ERR_DIAG_SNAPSHOT_NO_FIT' satisfies Code;
export const WRN_AUTH_FAILED = 'PPERF_WRN_030' satisfies Code;
