// Open-loop load: requests sent at a set arrival rate, whatever the server does with them (the closed-loop
// generator in load.mjs sends the next request only when one comes back, so an overloaded server slows its own
// load down and never sees the overload a real crowd of clients brings). Run in a separate process, as
// load.mjs does, and pinned with taskset when asked.
//
//   const r = await runOpenLoop({
//     baseUrl, requests: [{ path: '/users/{id}', weight: 2 }, …], ids: { max: 1000, distribution: 'zipf', s: 1 },
//     schedule: [{ name: 'before', rate: 800, durationSec: 5 }, { name: 'spike', rate: 3200, durationSec: 30 }, …],
//     timeoutMs: 5000, cpu: 1,
//   });
//   // → { phases: [{ name, rate, sent, ok, goodput, p50, p99, status503, otherStatus, timeouts, errors, dropped }],
//   //     perSecond: [{ t, phase, sent, okBySend, okByDone }] }
//
// Latency is measured from the moment a request was due, so time spent waiting for a free socket on the
// client counts (no coordinated omission). A request not answered within timeoutMs is aborted and counted as
// a timeout; a real client would have given up too.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from './cpu.mjs';

const WORKER = fileURLToPath(new URL('./open-loop-worker.mjs', import.meta.url));

/**
 * @param {object} o
 * @param {string} o.baseUrl
 * @param {Array<{method?:string,path:string,body?:string|object,weight?:number}>} o.requests  weighted mix; `{id}` substituted
 * @param {{max?:number,distribution?:'uniform'|'zipf',s?:number,seed?:number}} [o.ids]
 * @param {Array<{name:string,rate:number,durationSec:number}>} o.schedule   consecutive phases, requests/s
 * @param {number} [o.timeoutMs=5000]
 * @param {number} [o.maxSockets=1024]   connections the client may open (keep-alive)
 * @param {number} [o.maxPending=50000]  requests outstanding on the client at most; more are counted as dropped
 * @param {number} [o.cpu]
 */
export function runOpenLoop(o) {
  if (!o?.baseUrl || !o.requests?.length || !o.schedule?.length) throw new TypeError('runOpenLoop: baseUrl, requests and schedule are required');
  const options = {
    baseUrl: o.baseUrl,
    requests: o.requests,
    ids: { max: 1000, distribution: 'uniform', s: 1.0, seed: 1, ...o.ids },
    schedule: o.schedule,
    timeoutMs: o.timeoutMs ?? 5000,
    maxSockets: o.maxSockets ?? 1024,
    maxPending: o.maxPending ?? 50_000,
  };
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const command = pinnedCommand(o.cpu, process.execPath, [WORKER]);
    const child = spawn(command.file, command.args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result;
    child.once('message', (msg) => (result = msg));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (result?.ok) resolve({ ...result.result, cpu: command.pinned });
      else if (result) reject(new Error(`open-loop worker failed: ${result.error}`));
      else reject(new Error(`open-loop worker exited without a result (code ${code}, signal ${signal})`));
    });
    child.send(options);
  });
}
