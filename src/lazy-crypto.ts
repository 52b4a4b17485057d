import type * as Crypto from 'node:crypto';

/**
 * `node:crypto`, loaded at first use. Loading it costs ~6 ms of start-up on Node 24, and the default path
 * uses it only on demand (cache keys of long arguments, L2 leases, the cluster leader, a diagnostics
 * token check), so a host that never needs it never pays for it.
 */
export const crypto = (): typeof Crypto => process.getBuiltinModule('node:crypto');
