// Start an app under test as a child process and watch it: start-up time,
// resident memory, and a clean stop.
//
// Contract expected from the app: it reads PORT / HOST from the environment
// and, once listening, prints one stdout line {"event":"listening","port":N}.
//
//   const app = await startApp({ script: 'loadtests/app/server.mjs', env: { DATABASE_URL }, cpu: 0 });
//   app.baseUrl, app.startupMs, app.rss.peak, await app.readRss()
//   const { code, signal } = await app.stop();

import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { pinnedCommand } from './cpu.mjs';

const STDERR_TAIL_BYTES = 16 * 1024;

/** The node binary startApp launches: the bench's own. */
const NODE = process.execPath;

/**
 * Settings a caller's shell may carry that change what an app under test does: the preload's and
 * OpenTelemetry's variables (a plugin turned on, another exporter, a config file), NODE_OPTIONS (an extra
 * preload or heap flag) and libuv's pool size. A bench measures the defaults plus what it sets itself, so
 * the apps it starts never inherit them (startApp) and a report can name the ones it ignored.
 */
export const isCallerSetting = (name) => /^(OTEL_|PLANDEX_PERF_)/.test(name) || name === 'NODE_OPTIONS' || name === 'UV_THREADPOOL_SIZE';

/** The caller's settings present in `env`, by name (sorted; values are not reported: they may hold secrets). */
export function callerSettings(env = process.env) {
  return Object.keys(env).filter(isCallerSetting).sort();
}

/** A copy of `env` without the caller's settings. */
export function withoutCallerSettings(env = process.env) {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !isCallerSetting(name)));
}

/**
 * Deletes the caller's settings from process.env, for a bench script whose every child (the apps, the CLI
 * it asks for a profile's flags, the load generators) must see the defaults. Returns the names removed.
 */
export function clearCallerSettings() {
  const names = callerSettings();
  for (const name of names) delete process.env[name];
  return names;
}

/**
 * Whether the node that startApp launches accepts `flag` (e.g. `--max-old-space-size-percentage`, which
 * not every Node 22.x has). Asked of that binary itself, so a bench never trips over a flag its app's
 * node would refuse at start-up.
 */
export function nodeAcceptsFlag(flag) {
  const r = spawnSync(NODE, ['-p', `process.allowedNodeEnvironmentFlags.has(${JSON.stringify(flag)})`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 10_000 });
  return r.status === 0 && r.stdout.trim() === 'true';
}

/**
 * @param {object} o
 * @param {string} o.script                 path of the app entry point
 * @param {string[]} [o.nodeArgs=[]]         node flags placed before the script (e.g. --import x)
 * @param {Record<string,string>} [o.env={}] added to process.env less the caller's settings (isCallerSetting);
 *                                          PORT defaults to 0, HOST to 127.0.0.1
 * @param {string} [o.cwd]
 * @param {number} [o.timeoutMs=20000]       how long to wait for the listening line
 * @param {number} [o.rssIntervalMs=100]
 * @param {boolean} [o.verbose=false]        forward the child's stdout/stderr to ours
 * @param {number} [o.cpu]                  pin the app to this CPU with taskset, when possible
 *                                          (result.cpu says whether it was: the CPU or null)
 */
export async function startApp({
  script,
  nodeArgs = [],
  env = {},
  cwd,
  timeoutMs = 20_000,
  rssIntervalMs = 100,
  verbose = false,
  cpu,
}) {
  // The caller's settings would silently change what is being measured (an extra preload in the "bare"
  // variant, the concurrency limit turned on in the plugin's), so they are dropped unless passed in `env`.
  const childEnv = { ...withoutCallerSettings(process.env), PORT: '0', HOST: '127.0.0.1', ...env };

  const t0 = performance.now();
  // With taskset, child.pid is still node's pid (taskset execs it), so the
  // RSS sampling and the signals below reach the app itself.
  const command = pinnedCommand(cpu, NODE, [...nodeArgs, script]);
  const child = spawn(command.file, command.args, {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  // Keep only the tail of stderr: enough to explain a crash, bounded for a
  // chatty app under minutes of load. The pipes must always be drained, or a
  // child that logs a lot would block on write.
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (verbose) process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });

  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  // series: [ms since spawn, bytes], at most one point per 500 ms (memory-over-time charts).
  const rss = { peak: 0, last: 0, hwm: 0, samples: 0, series: [] };
  const sample = async () => {
    const r = await readRssOf(child.pid);
    if (!r) return;
    const t = Math.round(performance.now() - t0);
    if (rss.series.length === 0 || t - rss.series.at(-1)[0] >= 500) rss.series.push([t, r.rss]);
    rss.last = r.rss;
    rss.hwm = r.hwm;
    rss.samples++;
    if (r.rss > rss.peak) rss.peak = r.rss;
  };
  // Sampling starts at spawn so the peak covers start-up too (the kernel's
  // VmHWM is kept alongside as a cross-check that misses no spike).
  const timer = setInterval(sample, rssIntervalMs);
  timer.unref();
  exited.then(() => clearInterval(timer));

  let port;
  try {
    port = await waitForListening(child, exited, timeoutMs, verbose, () => stderrTail);
  } catch (err) {
    clearInterval(timer);
    child.kill('SIGKILL');
    throw err;
  }
  const startupMs = performance.now() - t0;
  await sample();

  let stopping;
  return {
    pid: child.pid,
    port,
    baseUrl: `http://${childEnv.HOST}:${port}`,
    startupMs,
    /** performance.now() at spawn: time 0 of rss.series (and of a metrics sampler's series). */
    startedAt: t0,
    cpu: command.pinned,
    rss, // bytes; updated in place every rssIntervalMs
    child,
    exited,
    stderrTail: () => stderrTail,
    /** Take a fresh RSS sample now and return it (bytes), updating rss.* too. */
    async readRss() {
      await sample();
      return rss.last;
    },
    /** SIGTERM, then SIGKILL after killAfterMs; resolves with { code, signal }. */
    stop({ killAfterMs = 3000 } = {}) {
      stopping ??= (async () => {
        clearInterval(timer);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          const result = await exited;
          clearTimeout(killer);
          return result;
        }
        return exited;
      })();
      return stopping;
    },
  };
}

// Resolve with the port from the first {"event":"listening"} stdout line;
// reject if the child exits first or nothing arrives in time. Either error
// carries the child's stderr tail, which is almost always where the reason is.
function waitForListening(child, exited, timeoutMs, verbose, getStderr) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let found = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (verbose) process.stdout.write(chunk);
      if (found) return; // keep draining, stop parsing
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const port = parseListening(line);
        if (port != null) {
          found = true;
          clearTimeout(timer);
          buffered = '';
          return resolve(port);
        }
      }
    });
    const fail = (why) =>
      reject(new Error(`${why}\n--- app stderr (tail) ---\n${getStderr().trim() || '(empty)'}`));
    const timer = setTimeout(
      () => fail(`app did not print {"event":"listening"} within ${timeoutMs} ms`),
      timeoutMs,
    );
    exited.then(({ code, signal }) => {
      if (found) return;
      clearTimeout(timer);
      // Give the stderr pipe a moment to deliver its last bytes.
      setTimeout(() => fail(`app exited before listening (code ${code}, signal ${signal})`), 50);
    });
  });
}

function parseListening(line) {
  if (!line.startsWith('{')) return null;
  try {
    const msg = JSON.parse(line);
    return msg?.event === 'listening' && Number.isInteger(msg.port) ? msg.port : null;
  } catch {
    return null;
  }
}

/** Current and high-water RSS of a pid, in bytes, from /proc; null if gone. */
export async function readRssOf(pid) {
  let text;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  const rss = kb('VmRSS');
  return rss ? { rss, hwm: kb('VmHWM') } : null; // zombies have no VmRSS
}
