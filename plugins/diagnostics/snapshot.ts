import v8 from 'node:v8';
import type { RuntimeInfo } from '../../src/plugin.js';
import type { CachePlugin } from '../cache/index.js';
import type { HeapBudget } from '../heap-budget/index.js';
import type { PgInstrumentation } from '../pg/index.js';
import type { GcStats, LoopStats } from './runtime-stats.js';

/** Where each section of `/debug/snapshot` comes from; plugins that may be off are read per request. */
export interface SnapshotSources {
  gc: GcStats;
  loop: LoopStats;
  heapBudget: () => HeapBudget | undefined;
  pg: () => PgInstrumentation | undefined;
  cache: () => CachePlugin | undefined;
  runtimeInfo: () => RuntimeInfo;
}

/** A section that fails is reported as its error, so one broken source does not hide the others. */
function section<T>(read: () => T): T | { error: string } {
  try {
    return read();
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The whole picture in one request. Cheap: no walk of the heap, only counters the runtime keeps. */
export function buildSnapshot(src: SnapshotSources): Record<string, unknown> {
  const interval = src.loop.read();
  const budget = src.heapBudget();
  const { profile, ...config } = src.runtimeInfo();
  return {
    time: new Date().toISOString(),
    heap: section(() => ({ statistics: v8.getHeapStatistics(), spaces: v8.getHeapSpaceStatistics() })),
    gc: section(() => src.gc.read()),
    eventLoop: { ...interval.eventLoop, intervalMs: interval.intervalMs },
    process: section(() => ({
      pid: process.pid,
      nodeVersion: process.version,
      uptimeSeconds: process.uptime(),
      memory: process.memoryUsage(),
      cpu: { ...interval.cpu, intervalMs: interval.intervalMs, total: process.cpuUsage() },
    })),
    pools: section(() => src.pg()?.pools() ?? null),
    shedding: section(() => (budget ? { state: budget.state(), lastSample: budget.lastSample() ?? null } : null)),
    // L1 bytes, entries and budget, L2 store and breaker state, hit and miss counts; null with the cache off.
    cache: section(() => src.cache()?.snapshot() ?? null),
    // Already redacted by the host: option names that look like secrets show as [redacted].
    config,
    profile,
  };
}
