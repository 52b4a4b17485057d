// Imported FIRST (before the preload under test) by overhead-profile.mjs: counts the background work a
// preload starts — setInterval timers with their period, event-loop delay monitors with their resolution,
// performance observers with their entry types — and reports it once on stderr as
//   probe {"intervals":[…],"loopMonitors":[…],"observers":[…],"active":{…}}
// A profiling aid only; nothing here is part of the package.

import module from 'node:module';
import perfHooks from 'node:perf_hooks';
import path from 'node:path';
import v8 from 'node:v8';

const seen = { intervals: [], loopMonitors: [], observers: [] };
const caller = () => {
  const line = new Error().stack?.split('\n').slice(3).find((l) => !l.includes('probe.mjs') && !l.includes('node:internal')) ?? '';
  return line.trim().replace(process.cwd() + path.sep, '');
};

const setIntervalOriginal = globalThis.setInterval;
globalThis.setInterval = function probedSetInterval(fn, ms, ...rest) {
  const timer = setIntervalOriginal.call(this, fn, ms, ...rest);
  seen.intervals.push({ ms, at: caller() });
  return timer;
};
const monitor = perfHooks.monitorEventLoopDelay;
perfHooks.monitorEventLoopDelay = function probedMonitor(options) {
  seen.loopMonitors.push({ resolution: options?.resolution ?? 10, at: caller() });
  return monitor.call(this, options);
};
const observe = perfHooks.PerformanceObserver.prototype.observe;
perfHooks.PerformanceObserver.prototype.observe = function probedObserve(options) {
  seen.observers.push({ entryTypes: options?.entryTypes ?? [options?.type], at: caller() });
  return observe.call(this, options);
};
module.syncBuiltinESMExports();

const delay = Number(process.env.PROBE_AFTER_MS ?? 3000);
setTimeout(() => {
  const active = {};
  for (const kind of process.getActiveResourcesInfo()) active[kind] = (active[kind] ?? 0) + 1;
  process.stderr.write(`probe ${JSON.stringify({ ...seen, active })}\n`);
}, delay).unref();

// The young generation's size when the app stops: V8 grows it (up to 3 × --max-semi-space-size) when many
// objects survive scavenges, and that growth is most of a preload's RSS after load.
process.once('exit', () => {
  const young = v8.getHeapSpaceStatistics().filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space');
  process.stderr.write(`probe-exit ${JSON.stringify(Object.fromEntries(young.map((s) => [s.space_name, { sizeMB: +(s.space_size / 2 ** 20).toFixed(1), physicalMB: +(s.physical_space_size / 2 ** 20).toFixed(1) }])))}\n`);
});

// PROBE_HEAP_SAMPLES=FILE: V8's sampling heap profiler with the samples of collected objects kept, so the profile
// is everything allocated while the app ran (per request, once divided), not only what was still live at exit
// (which is what `--heap-prof` writes). The in-thread inspector session answers synchronously, so it can be
// stopped in an 'exit' listener.
if (process.env.PROBE_HEAP_SAMPLES) {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  process.once('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(process.env.PROBE_HEAP_SAMPLES, JSON.stringify(result.profile));
    });
  });
}
