import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/** Node's GC kinds (perf_hooks.constants.NODE_PERFORMANCE_GC_*), named as the `v8js.gc.type` attribute of the OpenTelemetry V8 conventions names them. */
export const GC_KINDS = ['major', 'minor', 'incremental', 'weakcb'] as const;
export type GcKind = (typeof GC_KINDS)[number];
type Listener = (kind: GcKind, durationMs: number) => void;

const KINDS: Record<number, GcKind> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const listeners = new Set<Listener>();
let observer: PerformanceObserver | undefined;

/**
 * One `gc` performance observer for the whole preload, read by every plugin that wants GC pauses (runtime's
 * histogram, the diagnostics snapshot's counts), as `loop-delay.ts` is for the event-loop delay. Node builds
 * an entry object per collection for every observer (with its deprecated accessors), so each extra observer
 * repeats that work at the GC-heaviest moments; the defaults ran two until 2026-12-03. Returns the
 * unsubscribe; the observer stops with the last listener.
 */
export function onGc(listener: Listener): () => void {
  listeners.add(listener);
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        // `detail.kind` is Node's GC kind (perf_hooks.constants); older typings do not declare `detail`.
        const kind = KINDS[(entry as PerformanceEntry & { detail?: { kind?: number } | null }).detail?.kind ?? -1];
        if (kind === undefined) continue;
        for (const fn of listeners) fn(kind, entry.duration);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      observer?.disconnect();
      observer = undefined;
    }
  };
}
