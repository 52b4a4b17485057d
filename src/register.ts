/**
 * The preload: `node --import @plandex-perf/register server.js`.
 *
 * It must never harm the host. Nothing heavy is imported statically: if any part fails to load or start,
 * the error is logged with a code and the host runs on uninstrumented. It acts once per process, on the
 * main thread only (an `--import` preload is evaluated again in every worker thread).
 */
import { isMainThread } from 'node:worker_threads';
import { log } from './log.js';

const STARTED = Symbol.for('plandex-perf.started');
const state = globalThis as Record<symbol, unknown>;

// The rollback switch costs nothing: with PLANDEX_PERF_DISABLE=all in the environment, not even the
// OpenTelemetry SDK is initialised (a `disable: ['all']` in the config file is only known after loading it).
const allOff = (process.env.PLANDEX_PERF_DISABLE ?? '').split(',').some((name) => name.trim() === 'all');

if (!isMainThread || state[STARTED]) {
  log.debug(`preload skipped (${isMainThread ? 'already loaded' : 'worker thread'}) [PPERF_WRN_004]`);
} else if (allOff) {
  state[STARTED] = true;
  log.debug('preload off: PLANDEX_PERF_DISABLE=all');
} else {
  state[STARTED] = true;
  try {
    const { start } = await import('./start.js');
    state[Symbol.for('plandex-perf.runtime')] = await start();
  } catch (error) {
    log.error('PPERF_ERR_PRELOAD', 'the preload failed to start; the host runs uninstrumented', { error });
  }
}

export {};
