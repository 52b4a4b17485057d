// wrk as the overhead bench's second load generator: C, one thread, pinned like autocannon's worker, so the
// bench can show that a ratio does not come from one generator's own cost. Its text output is parsed into
// the shape runLoad (../lib/load.mjs) resolves with: { requests, rps, latency: { p50, p99 }, errors, ... }.

import { spawn, spawnSync } from 'node:child_process';
import { pinnedCommand } from '../lib/cpu.mjs';

let available;
/** True when a `wrk` binary answers on the PATH (probed once). */
export function wrkAvailable() {
  if (available === undefined) {
    const probe = spawnSync('wrk', ['--version'], { stdio: 'ignore' });
    available = !probe.error; // wrk --version exits 1 after printing its version
  }
  return available;
}

/**
 * @param {{ baseUrl: string, path: string, connections: number, durationSec: number, cpu?: number,
 *           script?: string, scriptArgs?: (string|number)[], timeoutSec?: number }} o
 */
export function runWrk(o) {
  const args = ['-t1', `-c${o.connections}`, `-d${o.durationSec}s`, `--timeout`, `${o.timeoutSec ?? 10}s`, '--latency'];
  if (o.script) args.push('-s', o.script);
  args.push(`${o.baseUrl}${o.path}`);
  if (o.scriptArgs?.length) args.push('--', ...o.scriptArgs.map(String));
  const command = pinnedCommand(o.cpu, 'wrk', args);
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      const parsed = parseWrk(out);
      if (code !== 0 || !parsed) return reject(new Error(`wrk failed (exit ${code}): ${(err || out).trim().slice(-500)}`));
      resolve({ ...parsed, cpu: command.pinned });
    });
  });
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };

/** wrk's report → figures; null when it is not one. Exported for tests. */
export function parseWrk(text) {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(text);
  if (!rps || !total) return null;
  const latency = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(text);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    rps: Number(rps[1]),
    latency: { p50: latency(50), p90: latency(90), p99: latency(99) },
    errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}
