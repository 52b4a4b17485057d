// Small helpers shared by the benchmarks: statistics, free ports, formatting, and how a profile
// launches the app (the flags and variables `plandex-perf env` prints).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';

const requireFrom = (file) => createRequire(path.resolve(file));

/** Median of the finite numbers in `values`; null when there are none. */
export function median(values) {
  const s = values.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `list` rotated left by `by`: variant order per round, so position favours none. */
export function rotate(list, by) {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Where and when a bench ran: the header of every results file. */
export function machine() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cpus: os.availableParallelism(),
    totalMemBytes: os.totalmem(),
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections at host:port within 1 s. */
export function reachable(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect(port, host, () => (socket.destroy(), resolve(true)));
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(false));
  });
}

export function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A positive (or, with allowZero, non-negative) number from the environment variable `name`, else `fallback`. */
export function positive(name, fallback, allowZero = false) {
  const raw = process.env[name];
  if (raw == null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${raw}`);
  return n;
}

export const mb = (bytes) => bytes / 2 ** 20;
export const fmt = (x, digits) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(digits));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** V8's heap limit for a plain `node` on this machine (it is sized from physical memory), in MB. */
export function defaultHeapLimitMB() {
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const out = execFileSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit'], { env, encoding: 'utf8' });
    return mb(Number(out.trim()));
  } catch {
    return null;
  }
}

/**
 * How `plandex-perf run --profile NAME` would start an app, asked from the built CLI (rather than read from
 * src/profiles.ts) so a bench measures exactly what a user pastes into a Dockerfile. The package specifier
 * becomes the built file, which an app outside node_modules cannot resolve by name.
 *
 * @param {{ cli: string, register: string, cwd: string, profile: string }} o
 * @returns {{ nodeArgs: string[], env: Record<string, string>, expectedHeapLimitMB: number, describe: string }}
 */
export function profileLaunch({ cli, register, cwd, profile }) {
  // The built CLI's own reading of its flags (src/heap-flags.ts), so the bench cannot disagree with it.
  const heapFlagsModule = requireFrom(cli)('./heap-flags.js');
  const vars = JSON.parse(execFileSync(process.execPath, [cli, 'env', '--profile', profile, '--format', 'json'], { cwd, encoding: 'utf8' }));
  const { NODE_OPTIONS = '', ...env } = vars;
  const nodeArgs = NODE_OPTIONS.split(/\s+/).filter(Boolean).map((a) => (a === '@plandex-perf/register' ? register : a));
  const { maxOldSpaceMb = NaN, maxSemiSpaceMb = NaN } = heapFlagsModule.parseHeapFlags(nodeArgs);
  return {
    nodeArgs,
    env,
    expectedHeapLimitMB: heapFlagsModule.heapLimitBytes({ maxOldSpaceMb, maxSemiSpaceMb }) / 2 ** 20,
    describe: `node ${NODE_OPTIONS.trim()}`,
  };
}

/** A load run's answers by status code, the 2xx count, and what failed (5xx, errors and timeouts). */
export function outcomes(load) {
  const codes = Object.fromEntries(Object.entries(load.statusCodes ?? {}).map(([c, s]) => [c, s.count]));
  const ok = Object.entries(codes).filter(([c]) => Number(c) >= 200 && Number(c) < 300).reduce((a, [, n]) => a + n, 0);
  const failed = Object.entries(codes).filter(([c]) => Number(c) >= 500).reduce((a, [, n]) => a + n, 0) + load.errors + load.timeouts;
  return { codes, ok, failed };
}
