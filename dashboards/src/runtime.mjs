/** Runtime and heap budget: event loop, GC, V8 heap, process memory, and the heap budget's state. */
import { budget, runtime } from './metrics.mjs';
import { UIDS, dashboard, quantile, rate, row, sel, stat, sumBy, svc, timeseries } from './panels.mjs';

const byInstance = (/** @type {import('./metrics.mjs').MetricRef} */ metric) => `max by (instance) (${svc(sel(metric))})`;
const overview = { title: 'Overview', uid: UIDS.overview };

export default function runtimeDashboard() {
  return dashboard({
    uid: UIDS.runtime,
    title: 'plandex-perf / Runtime and heap budget',
    description: 'Node.js event loop, garbage collection, V8 heap and process memory, and the heap budget that sheds load before the heap runs out.',
    panels: [
      row('Event loop'),
      timeseries({ title: 'Event loop utilization', description: 'Share of time the loop was busy.', unit: 'percentunit', min: 0, max: 1, w: 8, links: [overview], thresholds: [{ value: 0.8, color: 'red' }] }, [
        { expr: byInstance(runtime.elu), legend: '{{instance}}' },
      ]),
      timeseries({ title: 'Event loop delay', description: 'How late timers fire (p50, p90, p99, max of the last sampling window).', unit: 's', w: 8 }, [
        { expr: byInstance(runtime.delayP50), legend: 'p50 {{instance}}' },
        { expr: byInstance(runtime.delayP90), legend: 'p90 {{instance}}' },
        { expr: byInstance(runtime.delayP99), legend: 'p99 {{instance}}' },
        { expr: byInstance(runtime.delayMax), legend: 'max {{instance}}' },
      ]),
      timeseries({ title: 'Event loop time', description: 'Seconds per second the loop spent active and idle.', unit: 's', min: 0, w: 8, stack: true }, [
        { expr: sumBy('instance, nodejs_eventloop_state', rate(runtime.loopTime)), legend: '{{nodejs_eventloop_state}} {{instance}}' },
      ]),
      row('Garbage collection'),
      timeseries({ title: 'Time in GC', description: 'Seconds per second spent in garbage collection, by kind.', unit: 'percentunit', min: 0, w: 8, stack: true }, [
        { expr: sumBy('v8js_gc_type', rate(runtime.gc, { part: 'sum' })), legend: '{{v8js_gc_type}}' },
      ]),
      timeseries({ title: 'Collections / s', description: 'By kind.', unit: 'ops', min: 0, w: 8 }, [
        { expr: sumBy('v8js_gc_type', rate(runtime.gc, { part: 'count' })), legend: '{{v8js_gc_type}}' },
      ]),
      timeseries({ title: 'GC pause p99', description: 'By kind.', unit: 's', w: 8 }, [{ expr: quantile(0.99, runtime.gc, 'v8js_gc_type'), legend: '{{v8js_gc_type}}' }]),
      row('Memory'),
      timeseries({ title: 'Heap used by space', description: 'V8 heap bytes in use per heap space.', unit: 'bytes', min: 0, stack: true }, [
        { expr: sumBy('v8js_heap_space_name', svc(sel(runtime.heapUsed))), legend: '{{v8js_heap_space_name}}' },
      ]),
      timeseries({ title: 'Process memory', description: 'Resident set size, the heap’s reserved, committed and still available bytes, and the heap limit.', unit: 'bytes', min: 0 }, [
        { expr: sumBy('instance', svc(sel(runtime.rss))), legend: 'RSS {{instance}}' },
        { expr: sumBy('instance', svc(sel(runtime.heapSpaceSize))), legend: 'heap size {{instance}}' },
        { expr: sumBy('instance', svc(sel(runtime.heapSpacePhysical))), legend: 'heap committed {{instance}}' },
        { expr: sumBy('instance', svc(sel(runtime.heapSpaceAvailable))), legend: 'heap available {{instance}}' },
        { expr: byInstance(budget.limit), legend: 'heap limit {{instance}}' },
      ]),
      row('Heap budget'),
      stat({ title: 'Heap used / limit', description: 'The budget’s last sample.', unit: 'percentunit', decimals: 1, thresholds: [{ value: 0.7, color: 'orange' }, { value: 0.85, color: 'red' }] }, {
        expr: `max(${svc(sel(budget.usedRatio))})`,
      }),
      stat({ title: 'Shedding now', description: 'Instances in the shedding state (answering 503 to new requests).', thresholds: [{ value: 1, color: 'red' }] }, {
        expr: `sum(${svc(sel(budget.state, { where: 'plandex_perf_heap_budget_state="shedding"' }))})`,
      }),
      stat({ title: 'Requests shed / s', description: 'Requests answered with 503 by the load shedder.', unit: 'reqps', thresholds: [{ value: 0.01, color: 'red' }] }, {
        expr: sumBy('', rate(budget.shed)),
      }),
      stat({ title: 'State changes', description: 'Transitions between ok, soft and shedding since the process started.', thresholds: [{ value: 1, color: 'orange' }] }, {
        expr: `sum(${svc(sel(budget.transitions))})`,
      }),
      timeseries({ title: 'Heap budget state', description: '1 for the state each instance is in: ok, soft (warned) or shedding.', unit: 'short', min: 0, max: 1, decimals: 0, w: 8 }, [
        { expr: `max by (instance, plandex_perf_heap_budget_state) (${svc(sel(budget.state))})`, legend: '{{plandex_perf_heap_budget_state}} {{instance}}' },
      ]),
      timeseries({ title: 'Time in each state', description: 'Share of time per state, averaged over the instances.', unit: 'percentunit', min: 0, max: 1, w: 8, stack: true }, [
        { expr: `avg by (plandex_perf_heap_budget_state) (${rate(budget.stateTime)})`, legend: '{{plandex_perf_heap_budget_state}}' },
      ]),
      timeseries({ title: 'Heap used / limit over time', description: 'Per instance, with the default soft (0.7) and hard (0.85) ratios.', unit: 'percentunit', min: 0, max: 1, w: 8, thresholds: [{ value: 0.7, color: 'orange' }, { value: 0.85, color: 'red' }] }, [
        { expr: byInstance(budget.usedRatio), legend: '{{instance}}' },
      ]),
    ],
  });
}
