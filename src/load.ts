/**
 * `dist/register.js`: what `-r @plandex-perf/register` loads, and what `--import` loads through
 * register.ts. It runs the preload's bundle (`dist/preload.cjs`, a CommonJS module) with a V8 code
 * cache of its own, so that a start after the first does not compile the bundle again.
 *
 * Compiling the bundle's ~550 KB was half of what the preload added to a host's start-up (measured on
 * Node 24.22: +68 ms → +38 ms with the cache). Node's own compile cache (`module.enableCompileCache()`,
 * `NODE_COMPILE_CACHE`) would do it too, but it is process-wide: it would cache the host's modules and
 * write for them, which is the host's decision, not a preload's. This cache holds only the bundle's code.
 *
 * - Where: `$TMPDIR/plandex-perf-compile-cache-<uid>/` (mode 0700), or the folder in
 *   `PLANDEX_PERF_COMPILE_CACHE`; `PLANDEX_PERF_COMPILE_CACHE=0` switches it off. A folder owned by
 *   another user than this one or root, or that others can write to, is not used (a cache is code the
 *   process runs; src/cache-folder.ts). A root-owned folder read-only to the app is a cache baked into an
 *   image at build time (docker/Dockerfile): read, never written.
 * - What: one file per bundle build, Node version, architecture and V8 flag set (V8 refuses a cache made
 *   by another V8 or with other flags, and checks only the source's length, so the file name keeps builds
 *   apart; `v8.cachedDataVersionTag()` is V8's own hash of its version, flags and CPU features, so a host
 *   started with and without, say, `--max-old-space-size` on Node 22 keeps two caches instead of refusing and
 *   rewriting each other's at every start). Written once, ~2 s after start-up, so it holds the functions
 *   start-up compiled, and not at all if V8's flags changed since start-up (heap-budget may turn on
 *   `--expose-gc`: the next start would refuse that cache); written to a temporary name and renamed, so
 *   workers starting together never read half a file. Files untouched for 30 days are removed when a new
 *   one is written.
 * - Anything that fails (no folder, a read-only disk, a rejected cache) falls back to compiling, as a
 *   plain `require` would; nothing is printed, the preload's debug line says what happened.
 *
 * It imports nothing but Node's built-ins, through `require` (an ES import of a built-in builds its ES
 * module facade, which costs start-up: see scripts/bundle.mjs).
 */
import { createRequire } from 'node:module';
import { folderRefusal } from './cache-folder.js';

declare const __PPERF_BUILD__: string;

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof import('node:fs');
const path = require('node:path') as typeof import('node:path');
const vm = require('node:vm') as typeof import('node:vm');
const v8 = require('node:v8') as typeof import('node:v8'); // loaded by the bundle anyway
const { fileURLToPath } = require('node:url') as typeof import('node:url');

const BUNDLE = fileURLToPath(new URL('./preload.cjs', import.meta.url));
const WRITE_AFTER_MS = 2000;
const KEEP_OTHERS_MS = 30 * 24 * 3600 * 1000;
/** Where the preload reads what happened, for its debug line. */
const STATUS = Symbol.for('plandex-perf.compile-cache');

export type CacheStatus = 'off' | 'hit' | 'miss' | 'rejected' | 'unsafe-folder' | 'failed';

interface Preload {
  ready: Promise<void>;
}

/** The folder to use, or why none: created if missing, refused unless this user or root owns it and only its owner can write to it. */
function cacheFolder(setting: string | undefined): string | CacheStatus {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const folder = setting ? path.resolve(setting) : path.join(require('node:os').tmpdir() as string, `plandex-perf-compile-cache-${uid ?? 'user'}`);
  fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(folder);
  if (folderRefusal(stat, uid) !== undefined) return 'unsafe-folder';
  return folder;
}

/** The module wrapper CommonJS gives a file, plus the loader's `import()` (src/import-module.ts). */
const WRAPPER = '(function (exports, require, module, __filename, __dirname, __pperf_import) {';

function run(script: import('node:vm').Script): Preload {
  const module = { exports: {} as Preload, filename: BUNDLE, id: BUNDLE };
  const compiled = script.runInThisContext() as (...args: unknown[]) => void;
  compiled.call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, path.dirname(BUNDLE), (specifier: string) => import(specifier));
  return module.exports;
}

function load(): Preload {
  const setting = process.env.PLANDEX_PERF_COMPILE_CACHE;
  const state = globalThis as Record<symbol, unknown>;
  if (setting === '0' || setting === 'false' || setting === 'off') {
    state[STATUS] = 'off';
    return require(BUNDLE) as Preload;
  }
  let script: import('node:vm').Script;
  let file: string | undefined;
  let status: CacheStatus;
  const flagsTag = v8.cachedDataVersionTag();
  try {
    const source = fs.readFileSync(BUNDLE, 'utf8');
    const stat = fs.statSync(BUNDLE);
    const folder = cacheFolder(setting);
    let cachedData: Buffer | undefined;
    if (folder === 'unsafe-folder') {
      status = folder;
    } else {
      file = path.join(folder, `${__PPERF_BUILD__}-${stat.size}-${Math.trunc(stat.mtimeMs)}-${process.version}-${process.arch}-${flagsTag.toString(16)}.bin`);
      try {
        cachedData = fs.readFileSync(file);
      } catch {}
      status = cachedData === undefined ? 'miss' : 'hit';
    }
    // The wrapper on a line of its own, and lineOffset -1: stack traces and source maps see the file's own lines.
    script = new vm.Script(`${WRAPPER}\n${source}\n})`, { filename: BUNDLE, lineOffset: -1, cachedData });
    if (cachedData !== undefined && script.cachedDataRejected) status = 'rejected';
  } catch {
    state[STATUS] = 'failed';
    return require(BUNDLE) as Preload;
  }
  state[STATUS] = status;
  const preload = run(script);
  if (file !== undefined && status !== 'hit') {
    const target = file;
    const write = (): void => {
      if (v8.cachedDataVersionTag() !== flagsTag) return; // flags changed at run time: the next start would refuse this cache
      try {
        const temporary = `${target}.${process.pid}.tmp`;
        fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(temporary, target);
        const folder = path.dirname(target);
        for (const name of fs.readdirSync(folder)) {
          const other = path.join(folder, name);
          if (other !== target && name.endsWith('.bin') && Date.now() - fs.statSync(other).mtimeMs > KEEP_OTHERS_MS) fs.rmSync(other, { force: true });
        }
      } catch {}
    };
    void Promise.resolve(preload.ready).then(() => setTimeout(write, WRITE_AFTER_MS).unref());
  }
  return preload;
}

export const { ready } = load();
