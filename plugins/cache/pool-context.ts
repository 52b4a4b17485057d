import { keepAcrossQueues, type ContextKeeper } from '../../src/async-context.js';
import { currentTrace, traces, type LoadTrace } from './trace.js';

/**
 * pg-pool hands a client to a waiting `pool.query()` from inside the release of another one, so the
 * query would start in the async context of whoever released, and its tables would be recorded against
 * the wrong cached call (or none). The pg plugin re-enters the caller's values of the registered stores
 * when such a parked callback runs (src/async-context.ts); the cache registers its trace store there.
 * Nothing else changes: same client, same order, same errors.
 */
export function keepTracesAcrossQueues(): void {
  keepAcrossQueues(keeper);
}

const keeper: ContextKeeper<LoadTrace | undefined> = {
  current: currentTrace,
  run: (trace, fn) => (trace === undefined ? traces.storage.exit(fn) : traces.storage.run(trace, fn)),
};
