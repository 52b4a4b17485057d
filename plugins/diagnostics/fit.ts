/**
 * Whether a heap snapshot can be taken without pushing the process (or the machine) out of memory.
 * `heapSnapshotFit` is pure, for tests; `readMemoryRoom` reads the figures it needs.
 */
import fs from 'node:fs';
import os from 'node:os';

/**
 * Extra RSS a snapshot costs, per byte of used V8 heap. Measured (README, "What each costs the host",
 * `test/fixtures/snapshot-cost.mjs`): 6.90–7.09 × on Node 24 and 7.39–7.77 × on Node 22 with
 * `v8.writeHeapSnapshot`, for 40–300 MB heaps of small objects, the densest graph and so the worst case
 * per MB; V8 builds the whole snapshot graph in C++ memory next to the heap. Rounded up to 8.
 */
export const SNAPSHOT_RSS_FACTOR = 8;
/** Size of the written `.heapsnapshot` file per byte of used heap: measured 1.68–1.91 ×, rounded up. */
export const SNAPSHOT_FILE_FACTOR = 2;

export interface FitInput {
  /** The heap-budget plugin's state, or undefined when that plugin is off. */
  budgetState: 'ok' | 'soft' | 'shedding' | undefined;
  heapUsed: number;
  rss: number;
  /** The cgroup's memory limit (`memory.max`), undefined when there is none. */
  cgroupLimit: number | undefined;
  /** The profile's memory figure and name: what the process is meant to stay within. */
  profileMemory: number;
  profileName: string;
  /** Memory the system can still give (`MemAvailable`). */
  availableMemory: number;
  /** Free space where the file goes, and whether that is tmpfs (then the file is memory too). */
  diskFree: number;
  tmpfs: boolean;
}

export type Fit = { fits: true; needBytes: number; fileBytes: number } | { fits: false; reason: string; needBytes: number };

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * Refused whenever the heap budget already reports pressure, and when the estimated cost (RSS growth,
 * plus the file when it lands in tmpfs) would pass any of: the cgroup limit, the profile's memory, or the
 * memory the system has left. An OOM kill loses the process and the snapshot with it; on a shared
 * machine it may take a neighbour instead.
 */
export function heapSnapshotFit(input: FitInput): Fit {
  const fileBytes = input.heapUsed * SNAPSHOT_FILE_FACTOR;
  const needBytes = input.heapUsed * SNAPSHOT_RSS_FACTOR + (input.tmpfs ? fileBytes : 0);
  const cost = `a snapshot of ${mib(input.heapUsed)} of used heap needs about ${mib(needBytes)} more memory (${SNAPSHOT_RSS_FACTOR} × the used heap${input.tmpfs ? ', plus its file in tmpfs' : ''})`;
  if (input.budgetState === 'shedding' || input.budgetState === 'soft') {
    return { fits: false, needBytes, reason: `the heap budget is "${input.budgetState}": memory is already short, and ${cost}` };
  }
  const limits: [string, number][] = [];
  if (input.cgroupLimit !== undefined) limits.push([`the container's memory limit of ${mib(input.cgroupLimit)}`, input.cgroupLimit - input.rss]);
  limits.push([`profile "${input.profileName}"'s ${mib(input.profileMemory)}`, input.profileMemory - input.rss]);
  limits.push([`the ${mib(input.availableMemory)} the system has available`, input.availableMemory]);
  for (const [what, room] of limits) {
    if (needBytes > room) return { fits: false, needBytes, reason: `${cost}; with RSS at ${mib(input.rss)} that would exceed ${what}` };
  }
  // A margin on disk: a full disk hurts the host's own writes too.
  if (fileBytes * 1.25 > input.diskFree) {
    return { fits: false, needBytes, reason: `the snapshot file needs about ${mib(fileBytes)} and the temporary directory has ${mib(input.diskFree)} free` };
  }
  return { fits: true, needBytes, fileBytes };
}

/** cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`; "max", unreadable or ≥ physical memory = none. */
export function readCgroupLimit(read: (file: string) => string = (file) => fs.readFileSync(file, 'utf8')): number | undefined {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(file).trim();
    } catch {
      continue;
    }
    const value = Number(text);
    // cgroup v1 reports "no limit" as ~2^63, which is no limit either.
    return Number.isFinite(value) && value > 0 && value < os.totalmem() ? value : undefined;
  }
  return undefined;
}

/** `MemAvailable` (free plus reclaimable cache) on Linux; `os.freemem()` elsewhere. */
export function readAvailableMemory(read: (file: string) => string = (file) => fs.readFileSync(file, 'utf8')): number {
  try {
    const kb = /^MemAvailable:\s+(\d+) kB$/m.exec(read('/proc/meminfo'))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

const TMPFS_MAGIC = 0x01021994;

export function readDisk(dir: string): { diskFree: number; tmpfs: boolean } {
  try {
    const stats = fs.statfsSync(dir);
    return { diskFree: stats.bavail * stats.bsize, tmpfs: stats.type === TMPFS_MAGIC };
  } catch {
    return { diskFree: 0, tmpfs: false };
  }
}
