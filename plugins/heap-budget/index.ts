import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import { nextState, type BudgetState, type Sample } from './budget.js';
import { installShedder } from './shed.js';
import { pathMatcher } from '../../src/paths.js';
import { heapLimitAdvice } from './advice.js';
import { loopDelay } from '../../src/loop-delay.js';
import { heapSnapshotFit, readAvailableMemory, readCgroupLimit, readDisk } from '../diagnostics/fit.js';
import * as sc from './semconv.js';
import { heapBudgetProfileDefaults } from './profile.js';

class SnapshotSkipped extends Error {}

/** What the plugin offers to others (the cache and the pools shrink on `soft`). */
export interface HeapBudget {
  state(): BudgetState;
  onChange(listener: (state: BudgetState, previous: BudgetState) => void): () => void;
  lastSample(): (Sample & { eventLoopUtilization: number }) | undefined;
}

export default definePlugin({
  name: 'heap-budget',
  description: 'Samples heap, RSS and the event loop; asks caches and pools to shrink under pressure, and sheds new requests with 503 before the heap runs out.',
  dependsOn: ['telemetry'],
  schema,
  profileDefaults: heapBudgetProfileDefaults,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const advice = heapLimitAdvice(ctx.profile, v8.getHeapStatistics().heap_size_limit);
    // Loud for a profile someone chose; quiet for `auto`, which only describes the machine.
    if (advice && ctx.profile.name !== 'auto') ctx.log.warn('PPERF_WRN_006', advice.message, { fix: advice.command });
    else if (advice) ctx.log.debug(advice.message, { fix: advice.command });

    let state: BudgetState = 'ok';
    let last: (Sample & { eventLoopUtilization: number }) | undefined;
    let snapshotTaken = false;
    const listeners = new Set<(state: BudgetState, previous: BudgetState) => void>();
    const timeIn: Record<BudgetState, number> = { ok: 0, soft: 0, shedding: 0 };
    let shed = 0;
    let transitions = 0;

    // The shared sampler runs only while someone reads it: here only with the delay rule on.
    const delay = options.maxEventLoopDelayMs > 0 ? loopDelay.open() : undefined;
    let elu = performance.eventLoopUtilization();
    let lastAt = performance.now();

    let gc: (() => void) | undefined;
    let lastGcAt = -Infinity;
    /** A full GC, at most once per `confirmWithGcMs`; true if one ran. */
    const collect = (now: number): boolean => {
      if (options.confirmWithGcMs === 0 || now - lastGcAt < options.confirmWithGcMs) return false;
      lastGcAt = now;
      // Without --expose-gc, the documented flag route: V8 exposes gc() to contexts created after it is set.
      gc ??= typeof globalThis.gc === 'function' ? globalThis.gc : (v8.setFlagsFromString('--expose-gc'), vm.runInNewContext('gc') as () => void);
      gc();
      return true;
    };

    const sample = (): void => {
      let heap = v8.getHeapStatistics();
      // Interval-based: the p99 and utilization of the last interval, not since start.
      const eventLoopDelayMs = delay && delay.histogram.count > 0 ? delay.histogram.percentile(99) / 1e6 : 0;
      delay?.reset();
      const nowElu = performance.eventLoopUtilization();
      const eventLoopUtilization = performance.eventLoopUtilization(nowElu, elu).utilization;
      elu = nowElu;
      const now = performance.now();
      timeIn[state] += (now - lastAt) / 1000;
      lastAt = now;
      const memory = process.memoryUsage();
      last = { heapUsed: heap.used_heap_size, heapLimit: heap.heap_size_limit, rss: memory.rss, external: memory.external, eventLoopDelayMs, eventLoopUtilization };
      let next = nextState(state, last, options);
      // Shedding on heap is confirmed (and, while shedding, re-checked) against live memory after a GC.
      if (next === 'shedding' && last.heapUsed / last.heapLimit >= options.hardHeapRatio && collect(now)) {
        heap = v8.getHeapStatistics();
        last = { ...last, heapUsed: heap.used_heap_size };
        next = nextState(state, last, options);
      }
      if (next === state) return;
      const previous = state;
      state = next;
      transitions++;
      const figures = {
        heapUsedMb: Math.round(last.heapUsed / 2 ** 20),
        heapLimitMb: Math.round(last.heapLimit / 2 ** 20),
        rssMb: Math.round(last.rss / 2 ** 20),
        eventLoopDelayMs: Math.round(eventLoopDelayMs),
      };
      if (next === 'shedding') ctx.log.warn('PPERF_WRN_007', options.shed ? 'heap budget exceeded: shedding new requests with 503' : 'heap budget exceeded (shedding is off)', figures);
      else ctx.log.info(`heap budget: ${previous} → ${next}`, figures);
      if (next === 'shedding' && options.heapSnapshotDir && !snapshotTaken) {
        snapshotTaken = true;
        try {
          fs.mkdirSync(options.heapSnapshotDir, { recursive: true });
          // The same check as /debug/heap-snapshot, less the budget rule (shedding is why we are here):
          // a snapshot that cannot fit would turn shedding into an OOM kill.
          const fit = heapSnapshotFit({
            budgetState: undefined,
            heapUsed: last.heapUsed,
            rss: last.rss,
            cgroupLimit: readCgroupLimit(),
            profileMemory: ctx.profile.memoryBytes,
            profileName: ctx.profile.name,
            availableMemory: readAvailableMemory(),
            ...readDisk(options.heapSnapshotDir),
          });
          if (!fit.fits) throw new SnapshotSkipped(fit.reason);
          const file = v8.writeHeapSnapshot(path.join(options.heapSnapshotDir, `heap-${process.pid}-${Date.now()}.heapsnapshot`));
          ctx.log.info(`heap snapshot written: ${file}`);
        } catch (error) {
          if (error instanceof SnapshotSkipped) ctx.log.warn('PPERF_WRN_031', `heap snapshot on shedding skipped: ${error.message}`);
          else ctx.log.error('PPERF_ERR_INSTRUMENTATION', 'writing the heap snapshot failed', { error });
        }
      }
      for (const listener of listeners) {
        try {
          listener(next, previous);
        } catch (error) {
          ctx.log.once('heap-budget:listener', 'error', 'PPERF_ERR_INSTRUMENTATION', 'a heap-budget listener threw', { error });
        }
      }
    };
    const timer = setInterval(sample, options.sampleMs).unref();
    sample();

    const isExempt = pathMatcher(options.exemptPaths);
    const removeShedder = options.shed
      ? installShedder({
          isShedding: () => state === 'shedding',
          isExempt,
          isReadiness: pathMatcher(options.readinessPaths),
          isOwnServer: telemetry.isOwnServer,
          retryAfterSeconds: options.retryAfterSeconds,
          onShed: () => void shed++,
          onHttps: (fn) => ctx.onBuiltinLoad('https', fn),
        })
      : () => {};

    const meter = telemetry.meter;
    const limit = meter.createObservableGauge(sc.METRIC_BUDGET_LIMIT, { description: 'The V8 heap limit the budget is measured against.', unit: 'By' });
    const used = meter.createObservableGauge(sc.METRIC_BUDGET_USED_RATIO, { description: 'Heap used / heap limit at the last sample.', unit: '1' });
    const stateGauge = meter.createObservableGauge(sc.METRIC_BUDGET_STATE, { description: '1 for the current state (ok, soft, shedding), 0 for the others.', unit: '{state}' });
    const shedCounter = meter.createObservableCounter(sc.METRIC_BUDGET_SHED_REQUESTS, { description: 'Requests answered with 503 by the load shedder.', unit: '{request}' });
    const stateTime = meter.createObservableCounter(sc.METRIC_BUDGET_STATE_TIME, { description: 'Time spent in each state.', unit: 's' });
    const transitionCounter = meter.createObservableCounter(sc.METRIC_BUDGET_TRANSITIONS, { description: 'State changes.', unit: '{transition}' });
    const observe = meter.addBatchObservableCallback.bind(meter);
    observe(
      (batch) => {
        if (!last) return;
        batch.observe(limit, last.heapLimit);
        batch.observe(used, last.heapUsed / last.heapLimit);
        for (const s of sc.STATES) {
          batch.observe(stateGauge, s === state ? 1 : 0, { [sc.ATTR_STATE]: s });
          batch.observe(stateTime, timeIn[s], { [sc.ATTR_STATE]: s });
        }
        batch.observe(shedCounter, shed);
        batch.observe(transitionCounter, transitions);
      },
      [limit, used, stateGauge, shedCounter, stateTime, transitionCounter],
    );

    ctx.provide({
      state: () => state,
      onChange(listener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
      lastSample: () => last,
    } satisfies HeapBudget);

    return () => {
      clearInterval(timer);
      delay?.close();
      removeShedder();
      listeners.clear();
    };
  },
});
