import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { GC_KINDS, type GcKind, onGc } from '../../src/gc.js';
import { delayMs, type DelayReader } from '../../src/loop-delay.js';

export interface GcKindStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/**
 * GC counts and pause time by kind since the plugin started. Bounded by construction: four fixed
 * records, no list of pauses, whatever the GC rate.
 */
export class GcStats {
  private readonly byType = Object.fromEntries(GC_KINDS.map((t) => [t, { count: 0, totalMs: 0, maxMs: 0 }])) as Record<GcKind, GcKindStats>;
  private stopGc: (() => void) | undefined;
  private readonly since = Date.now();

  /** Listens to the preload's one GC observer (src/gc.ts). */
  start(): void {
    this.stopGc ??= onGc((kind, durationMs) => this.record(kind, durationMs));
  }

  stop(): void {
    this.stopGc?.();
    this.stopGc = undefined;
  }

  record(kind: GcKind, durationMs: number): void {
    const stats = this.byType[kind];
    stats.count++;
    stats.totalMs += durationMs;
    if (durationMs > stats.maxMs) stats.maxMs = durationMs;
  }

  read(): { since: string; byType: Record<GcKind, GcKindStats>; count: number; totalMs: number } {
    const byType = structuredClone(this.byType);
    const all = Object.values(byType);
    return { since: new Date(this.since).toISOString(), byType, count: all.reduce((n, s) => n + s.count, 0), totalMs: all.reduce((n, s) => n + s.totalMs, 0) };
  }
}

/**
 * Event-loop delay and utilization over the interval since the previous read (the first read covers the
 * time since start): a figure since process start would hide a recent stall behind hours of calm. The
 * delay comes from the shared sampler (heap-budget's `LoopDelay`), through this plugin's own reader.
 */
export class LoopStats {
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private cpu = process.cpuUsage();
  private at = performance.now();

  constructor(private readonly delay: DelayReader) {}

  stop(): void {
    this.delay.close();
  }

  read(): {
    intervalMs: number;
    eventLoop: { delayMs: { p50: number; p99: number; max: number; mean: number } | null; utilization: number };
    cpu: { user: number; system: number; utilization: number };
  } {
    const now = performance.now();
    const intervalMs = now - this.at;
    const delay = delayMs(this.delay.histogram);
    const elu = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(elu, this.elu).utilization;
    const cpu = process.cpuUsage(this.cpu);
    this.delay.reset();
    this.elu = elu;
    this.cpu = process.cpuUsage();
    this.at = now;
    return {
      intervalMs: Math.round(intervalMs),
      eventLoop: { delayMs: delay, utilization },
      // Seconds of CPU in the interval, and their share of the wall time (above 1 with busy worker threads).
      cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6, utilization: intervalMs > 0 ? (cpu.user + cpu.system) / 1e3 / intervalMs : 0 },
    };
  }
}
