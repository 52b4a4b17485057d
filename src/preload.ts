/**
 * The preload, bundled into `dist/register.js`: what `-r @plandex-perf/register` loads directly and what
 * `--import @plandex-perf/register` loads through `register.ts`, which also waits for it.
 *
 * It must never harm the host. It acts once per process, on the main thread only (an `--import` preload
 * is evaluated again in every worker thread), never in a launcher (npm, yarn, pnpm, PM2's CLI: see
 * attach.ts), and not at all on a Node without the module hooks it needs. If any part fails to load or
 * start, the error is logged with a code and the host runs uninstrumented.
 *
 * No top-level await: `require()` of an ES module (how `-r` loads it) refuses one. Start-up is
 * synchronous up to the first plugin that must wait for I/O, so under `-r` everything the app's first
 * module could touch (module hooks, pg, http) is in place before it runs.
 */
import { isMainThread } from 'node:worker_threads';
import { MIN_NODE, nodeSupported, toolName } from './attach.js';
import { log } from './log.js';

const STARTED = Symbol.for('plandex-perf.started');
const READY = Symbol.for('plandex-perf.ready');
const RUNTIME = Symbol.for('plandex-perf.runtime');
const state = globalThis as Record<symbol, unknown>;

/** Why this process is left alone (the debug line), or undefined when it is to be instrumented. */
function skipReason(): string | undefined {
  if (!isMainThread) return 'preload skipped (worker thread) [PPERF_WRN_004]';
  // The rollback switch costs nothing: with PLANDEX_PERF_DISABLE=all in the environment, not even the
  // OpenTelemetry SDK is initialised (a `disable: ['all']` in the config file is only known after loading it).
  if ((process.env.PLANDEX_PERF_DISABLE ?? '').split(',').some((name) => name.trim() === 'all')) return 'preload off: PLANDEX_PERF_DISABLE=all';
  const tool = toolName(process.argv[1]);
  if (tool) return `preload skipped (${tool} is a launcher: the processes it starts are instrumented, not it)`;
  return undefined;
}

function boot(): Promise<void> {
  if (state[READY]) {
    log.debug('preload skipped (already loaded) [PPERF_WRN_004]');
    return state[READY] as Promise<void>;
  }
  // Launchers first: `NODE_OPTIONS=--import … npm start` on an old Node would otherwise print the
  // unsupported-Node line twice, once from npm's process and once from the app.
  const reason = skipReason();
  if (reason !== undefined) {
    log.debug(reason);
    return Promise.resolve();
  }
  if (!nodeSupported()) {
    state[STARTED] = true;
    log.error(
      'PPERF_ERR_NODE_UNSUPPORTED',
      `Node ${process.version} is older than ${MIN_NODE.join('.')}: every capability is off (metrics, pg, pools, cache, heap budget need module.registerHooks); the host runs as bare`,
    );
    return Promise.resolve();
  }
  state[STARTED] = true;
  try {
    // `require`, not `import()`: esbuild inlines it as a synchronous, lazy initialiser, so the SDK is
    // evaluated only past the checks above and start-up does not wait for a microtask tick.
    const { start } = require('./start.js') as typeof import('./start.js');
    const runtime = start();
    state[RUNTIME] = runtime;
    return runtime.then(
      (value) => void (state[RUNTIME] = value),
      (error: unknown) => log.error('PPERF_ERR_PRELOAD', 'the preload failed to start; the host runs uninstrumented', { error }),
    );
  } catch (error) {
    log.error('PPERF_ERR_PRELOAD', 'the preload failed to start; the host runs uninstrumented', { error });
    return Promise.resolve();
  }
}

/** Settles when every plugin has set up (or failed alone); never rejects. */
export const ready: Promise<void> = boot();
state[READY] ??= ready;
