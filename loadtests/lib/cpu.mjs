// CPU pinning for the benchmarks, through taskset(1) when it is there.
//
// Why: on a small machine the app, the load generator and PostgreSQL fight
// for the same cores, and the scheduler moving them around is a large part of
// the run-to-run noise. Giving the app and the load generator a core each
// removes that fight between the two processes we control.
//
// `taskset -c N node …` execs node, so the child's pid is node's own pid:
// /proc/<pid>/status (RSS, VmHWM) and signals reach node, not a wrapper.
// Affinity is inherited by every thread node starts (V8's GC helpers, the
// libuv pool), so the whole process stays on that CPU.

import { spawnSync } from 'node:child_process';

const usable = new Map(); // cpu → boolean, so taskset is probed once per CPU

/**
 * True if this process can start children pinned to `cpu`: taskset exists
 * and the CPU is in our allowed set (a probe run of `taskset -c N true`
 * checks both at once, including cgroup/cpuset restrictions).
 */
export function canPin(cpu) {
  if (!Number.isInteger(cpu) || cpu < 0) return false;
  if (!usable.has(cpu)) {
    const probe = spawnSync('taskset', ['-c', String(cpu), 'true'], { stdio: 'ignore' });
    usable.set(cpu, !probe.error && probe.status === 0);
  }
  return usable.get(cpu);
}

/**
 * The command to spawn: `file args…` unchanged when `cpu` is undefined or
 * cannot be pinned, else `taskset -c cpu file args…`. `pinned` says which.
 */
export function pinnedCommand(cpu, file, args) {
  if (cpu == null || !canPin(cpu)) return { file, args, pinned: null };
  return { file: 'taskset', args: ['-c', String(cpu), file, ...args], pinned: cpu };
}

/**
 * The benches' layout: app on CPU 0, load generator on CPU 1. Off with
 * BENCH_PIN=0, and off (with the reason) when either CPU cannot be pinned:
 * pinning only one of the two would not separate them.
 * @returns {{ app?: number, load?: number, note: string }}
 */
export function benchPinning(env = process.env) {
  if (env.BENCH_PIN === '0') return { note: 'off (BENCH_PIN=0)' };
  if (!canPin(0) || !canPin(1)) return { note: 'off (taskset missing or fewer than 2 usable CPUs)' };
  return { app: 0, load: 1, note: 'app on CPU 0, load generator on CPU 1 (taskset); PostgreSQL unpinned' };
}
