// Load generation for the benchmarks: autocannon, run in a separate process.
//
// Why a separate process: autocannon is CPU-hungry. If it ran inside the
// benchmark process it would compete with the timers that sample the app's RSS
// and, on small machines, skew the numbers it is supposed to measure. A forked
// worker gets its own event loop (and, scheduler willing, its own core).
//
// Usage:
//   const r = await runLoad({
//     baseUrl: 'http://127.0.0.1:3000',
//     paths: ['/users/{id}'],                       // or requests: [{ method, path, body, headers, weight }]
//     ids: { max: 1000, distribution: 'zipf', s: 1.0, seed: 1 },
//     connections: 16, durationSec: 10, warmupSec: 2,
//     cpu: 1,                                       // optional: pin the worker (see cpu.mjs)
//   });
//   // → { requests, rps, latency: { p50, p90, p99, max }, errors, non2xx, timeouts, ... }
//
// Everything passed to runLoad must be structured-cloneable (it crosses a
// process boundary), which is why request selection is described by data
// (templates + an id distribution) rather than by a callback.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from './cpu.mjs';
import { createZipf as zipf, mulberry32 } from '../k6/lib/zipf.js';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

/**
 * Run one load test in a forked worker and resolve with its summary.
 *
 * @param {object} o
 * @param {string} o.baseUrl            e.g. http://127.0.0.1:3000
 * @param {string|string[]} [o.paths]   GET path templates, one picked uniformly per request;
 *                                      `{id}` is replaced by a sampled id
 * @param {Array<{method?:string,path:string,body?:string|object,headers?:object,weight?:number}>} [o.requests]
 *                                      explicit request mix (weighted pick per request); `{id}`
 *                                      is substituted in path and body
 * @param {{max?:number,distribution?:'uniform'|'zipf',s?:number,seed?:number}} [o.ids]
 * @param {number} [o.connections=16]
 * @param {number} [o.durationSec=10]
 * @param {number} [o.warmupSec=0]     load applied (same mix) and discarded before measuring
 * @param {number} [o.pipelining=1]
 * @param {number} [o.timeoutSec=10]    per-request timeout
 * @param {number} [o.cpu]              pin the worker to this CPU with taskset, when possible
 *                                      (the result's `cpu` says whether it was: the CPU or null)
 */
export function runLoad(o) {
  if (!o?.baseUrl) throw new TypeError('runLoad: baseUrl is required');
  if (!o.paths && !o.requests) throw new TypeError('runLoad: give paths or requests');
  const options = {
    baseUrl: o.baseUrl,
    paths: o.paths == null ? undefined : [].concat(o.paths),
    requests: o.requests,
    ids: { max: 1000, distribution: 'uniform', s: 1.0, seed: 1, ...o.ids },
    connections: o.connections ?? 16,
    durationSec: o.durationSec ?? 10,
    warmupSec: o.warmupSec ?? 0,
    pipelining: o.pipelining ?? 1,
    timeoutSec: o.timeoutSec ?? 10,
  };

  return new Promise((resolve, reject) => {
    // Started without the flags the benchmark itself was started with (e.g.
    // a preload), and without NODE_OPTIONS, so the load generator is plain node.
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    // spawn with an 'ipc' stdio slot is what fork() does underneath; spelled
    // out so the command can be prefixed with taskset. The channel's fd is
    // inherited across taskset's exec, so send()/'message' work either way.
    const command = pinnedCommand(o.cpu, process.execPath, [WORKER]);
    const child = spawn(command.file, command.args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result;
    child.once('message', (msg) => {
      result = msg;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (result?.ok) resolve({ ...result.result, cpu: command.pinned });
      else if (result) reject(new Error(`load worker failed: ${result.error}`));
      else reject(new Error(`load worker exited without a result (code ${code}, signal ${signal})`));
    });
    child.send(options);
  });
}

// ---------------------------------------------------------------------------
// Seeded random numbers and id distributions. Seeded so that two runs (or two
// variants in one run) see the same request mix, which matters for cache
// benchmarks where the hit ratio depends on the key sequence.

// mulberry32 and the Zipf sampler are shared with the k6 scripts (plain JavaScript, no Node APIs).
export { mulberry32 };

/** Uniform integers in 1..n. */
export function createUniform({ n, seed = 1 }) {
  const rnd = mulberry32(seed);
  return () => 1 + Math.floor(rnd() * n);
}

/** Zipf-distributed integers in 1..n: P(k) ∝ 1 / k^s, rank 1 (id 1) the hottest; see ../k6/lib/zipf.js. */
export function createZipf({ n, s = 1.0, seed = 1 }) {
  if (!(n >= 1)) throw new RangeError('createZipf: n must be >= 1');
  return zipf(n, s, mulberry32(seed));
}

/** Build an id sampler from the `ids` option of runLoad. */
export function createIdSampler({ max = 1000, distribution = 'uniform', s = 1.0, seed = 1 } = {}) {
  if (distribution === 'zipf') return createZipf({ n: max, s, seed });
  if (distribution === 'uniform') return createUniform({ n: max, seed });
  throw new RangeError(`unknown id distribution: ${distribution}`);
}
