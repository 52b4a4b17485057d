import fs from 'node:fs';
import module from 'node:module';
import satisfies from 'semver/functions/satisfies.js';
import { fileURLToPath } from 'node:url';
import { coreSettings } from './core-settings.js';
import { log } from './log.js';
import { patchMethod } from './patch.js';
import { addWrapTargets, cjsFooter, esmFacade, hasWrapTargets, ORIGINAL_MARK, wrapLoadedCjs, wrapTargetFor, type WrapTarget, type Wrapper } from './wrap-exports.js';

/**
 * Module hooks for the modules plugins declare (`modules` in their definition), in ESM and CommonJS
 * hosts alike. The core names no module itself.
 *
 * A declared file is CommonJS (`pg` is, even when imported: its ESM wrapper imports lib/index.js), so one
 * hook on `pg/lib/index.js` sees every copy. We append one line to the module's source that hands its
 * `module.exports` (and its path, for the version check) to us after it has evaluated; everything else
 * passes through untouched.
 *
 * Node 22.15+ and 24 have `module.registerHooks` (synchronous, in-thread, applies to require and import).
 * Without it we fall back to wrapping `Module._load`, which sees CommonJS loads from both worlds.
 *
 * The hooks are in place only while someone uses them: the first listener or wrap target installs them,
 * and the undo of the last one (the host runs every undo when it closes) takes them out again, so a
 * module loaded after close loads untouched and nothing here holds a plugin's functions.
 */
type Listener = (exports: unknown) => void;

/** A module a plugin instruments: declared in its definition (`modules`), matched here by file path. */
export interface ModuleTarget {
  /** The package name as installed: `pg`, `generic-pool`, `@scope/name`. */
  name: string;
  /** The file inside the package whose `module.exports` the plugin receives: `lib/index.js`. */
  file: string;
  /** Supported versions (a semver range). Another version is one coded line; that copy is left alone. */
  versions: string;
}

interface Target {
  name: string;
  /** Matches the module's file path (forward slashes), wherever the package is installed (pnpm, workspaces). */
  file: RegExp;
  /**
   * The range each declaring plugin supports, by plugin: two plugins may hook the same file with different
   * ranges, and a copy outside one plugin's range must not be kept from the other.
   */
  versions: Map<string, string>;
  /** Each listener with the plugin that added it, whose range it is checked against. */
  listeners: Map<Listener, string>;
}

const GLOBAL_KEY = Symbol.for('plandex-perf.module-loaded');
/** By target key (`name/file`); several plugins may hook the same file (pg and pg-pool). */
const targets = new Map<string, Target>();
/** The hooks in place, with what takes them out. */
let installed: { mode: 'registerHooks' | 'legacy'; remove: () => void } | undefined;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const keyOf = (target: ModuleTarget) => `${target.name}/${target.file}`;

/**
 * Declares what `plugin` may hook, with its own version range per file; the host calls it before the
 * plugin's setup. Declarations stay when the hooks come out (a name, a pattern, a range per plugin and an
 * empty map each, bounded by the plugins' `modules`): a plugin that declared a module may still ask for it
 * later in its setup.
 */
export function declareModules(plugin: string, list: readonly ModuleTarget[]): void {
  for (const declared of list) {
    const key = keyOf(declared);
    let target = targets.get(key);
    if (target === undefined) {
      target = { name: declared.name, file: new RegExp(`/node_modules/${escape(declared.name)}/${escape(declared.file)}$`), versions: new Map(), listeners: new Map() };
      targets.set(key, target);
    }
    target.versions.set(plugin, declared.versions);
  }
}

/** The version in the package.json at the root of the package that `file` belongs to. */
function installedVersion(file: string, target: Target): string | undefined {
  const marker = `/node_modules/${target.name}/`;
  const root = file.slice(0, file.lastIndexOf(marker) + marker.length);
  try {
    const version = (JSON.parse(fs.readFileSync(`${root}package.json`, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** The installed version of each copy seen (by file), read once per copy; null when it cannot be read. */
const versionsSeen = new Map<string, string | null>();

function notify(key: string, exports: unknown, file: string): void {
  const target = targets.get(key);
  if (!target || target.listeners.size === 0) return;
  let version = versionsSeen.get(file);
  if (version === undefined) {
    version = installedVersion(file, target) ?? null;
    versionsSeen.set(file, version);
  }
  // The plugins that leave this copy alone, by the range they support: one line per range, naming them all.
  let skipped: Map<string, string[]> | undefined;
  for (const [fn, plugin] of target.listeners) {
    const range = target.versions.get(plugin) ?? '';
    if (version === null || !satisfies(version, range, { includePrerelease: true })) {
      skipped ??= new Map();
      const plugins = skipped.get(range);
      if (plugins) {
        if (!plugins.includes(plugin)) plugins.push(plugin);
      } else skipped.set(range, [plugin]);
      continue;
    }
    try {
      fn(exports);
    } catch (error) {
      log.once(`hook:${plugin}:${key}`, 'error', 'PPERF_ERR_INSTRUMENTATION', `plugin "${plugin}" failed to instrument ${target.name}; it runs without that plugin's instrumentation`, { error });
    }
  }
  if (skipped) {
    for (const [range, plugins] of skipped) {
      const names = plugins.map((p) => `"${p}"`).join(', ');
      log.once(`version:${range}:${file}`, 'warn', 'PPERF_WRN_026', `${target.name} ${version ?? '(unknown version)'} is outside the supported range ${range} of plugin${plugins.length > 1 ? 's' : ''} ${names}; ${plugins.length > 1 ? 'they leave' : 'it leaves'} this copy uninstrumented`, { file, plugins });
    }
  }
}

function matchKey(file: string): string | undefined {
  const normalized = file.replace(/\\/g, '/');
  for (const [key, target] of targets) if (target.listeners.size > 0 && target.file.test(normalized)) return key;
  return undefined;
}

/** Listeners for a built-in module the host has not loaded yet, by name without `node:`. */
const builtinWaiters = new Map<string, Set<Listener>>();

/** True when the built-in is loaded already; undefined when this Node does not say (`process.moduleLoadList`). */
export function builtinLoaded(name: string): boolean | undefined {
  const list = (process as { moduleLoadList?: readonly string[] }).moduleLoadList;
  return Array.isArray(list) ? list.includes(`NativeModule ${name}`) : undefined;
}

/** A built-in is being loaded by the host (a `require` or `import` of `node:name` or `name`). */
function builtinLoading(specifier: string): void {
  const name = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  const waiting = builtinWaiters.get(name);
  if (waiting === undefined) return;
  builtinWaiters.delete(name);
  const exports = process.getBuiltinModule(`node:${name}`);
  // The hooks stay in until the undo (taking them out from inside a hook call is not ours to risk).
  for (const fn of waiting) runBuiltinListener(name, fn, exports);
}

function runBuiltinListener(name: string, fn: Listener, exports: unknown): void {
  try {
    fn(exports);
  } catch (error) {
    log.once(`hook:node:${name}`, 'error', 'PPERF_ERR_INSTRUMENTATION', `instrumenting node:${name} failed; it runs uninstrumented`, { error });
  }
}

/**
 * Runs `fn` once with the exports of a built-in module (`https`): now if the process has loaded it, else
 * when the host first loads it. Loading a built-in is not free (`node:https` brings TLS and crypto, ~20 ms
 * of start-up on Node 24), so a patch of a module the host may never use waits for the host to use it.
 * Returns the undo (before the load: `fn` will not run).
 */
export function onBuiltinLoad(name: string, fn: Listener): () => void {
  const loaded = builtinLoaded(name);
  if (loaded !== false) {
    runBuiltinListener(name, fn, process.getBuiltinModule(`node:${name}`));
    return () => {};
  }
  let waiting = builtinWaiters.get(name);
  if (waiting === undefined) builtinWaiters.set(name, (waiting = new Set()));
  waiting.add(fn);
  install();
  return () => {
    builtinWaiters.get(name)?.delete(fn);
    if (builtinWaiters.get(name)?.size === 0) builtinWaiters.delete(name);
    uninstallWhenUnused();
  };
}

/**
 * Runs `fn` with the exports of module `name` each time a copy of it loads within the range `plugin`
 * declared. `name` must be among the plugin's declared `modules`. Returns the undo, which the host also
 * runs when the plugin closes.
 */
export function onModuleLoad(plugin: string, name: string, fn: Listener): () => void {
  const matching = [...targets.values()].filter((t) => t.name === name && t.versions.has(plugin));
  if (matching.length === 0) throw new Error(`module "${name}" is not declared in the \`modules\` of plugin "${plugin}"`);
  for (const target of matching) target.listeners.set(fn, plugin);
  install();
  return () => {
    for (const target of matching) target.listeners.delete(fn);
    uninstallWhenUnused();
  };
}

/** Wraps the given exports of the given module files when they load (see wrap-exports.ts). Returns the undo. */
export function wrapExports(list: WrapTarget[], wrap: Wrapper): () => void {
  const remove = addWrapTargets(list, wrap);
  install();
  if (installed?.mode === 'legacy') log.warn('PPERF_ERR_HOOKS', 'module hooks run in legacy mode: only CommonJS modules can have their exports wrapped');
  return () => {
    remove();
    uninstallWhenUnused();
  };
}

function uninstallWhenUnused(): void {
  if (!installed || hasWrapTargets() || builtinWaiters.size > 0 || [...targets.values()].some((t) => t.listeners.size > 0)) return;
  const { mode, remove } = installed;
  installed = undefined;
  // Both removals turn the hook into a pass-through before anything that could throw; an error still
  // reaches the host's undo, which logs it (PPERF_ERR_PLUGIN_CLOSE).
  try {
    remove();
  } finally {
    const shared = globalThis as Record<symbol, unknown>;
    if (shared[GLOBAL_KEY] === notify) delete shared[GLOBAL_KEY];
    versionsSeen.clear();
  }
  log.debug(`module hooks removed (${mode})`);
}

function install(): void {
  if (installed) return;
  const shared = globalThis as Record<symbol, unknown>;
  shared[GLOBAL_KEY] = notify;
  // Read at each install (validated; a bad value is reported by start() and means `auto`).
  const useLegacy = coreSettings().settings.hooks === 'legacy' || typeof module.registerHooks !== 'function';
  try {
    if (!useLegacy) {
      // Removal calls `deregister` (Node 22.15+ and 23.5+ return it), which takes the hook out of the chain.
      // `active` is the fallback where it is missing: the hook stays registered but passes every module
      // through unchanged (what it served before removal stays served: an ES module cannot be unloaded).
      let active = true;
      const hooks = module.registerHooks({
        load(url, context, nextLoad) {
          const result = nextLoad(url, context);
          if (!active) return result;
          if (url.startsWith('node:')) {
            if (builtinWaiters.size > 0) builtinLoading(url);
            return result;
          }
          if (!url.startsWith('file:')) return result;
          if (hasWrapTargets() && result.source != null) {
            const file = fileURLToPath(url);
            const wrapped = wrapTargetFor(file);
            if (wrapped && !url.includes(ORIGINAL_MARK)) {
              try {
                if (result.format === 'module') return { ...result, source: esmFacade(url, file, String(result.source), wrapped) };
                if (result.format === 'commonjs' || result.format == null) return { ...result, source: String(result.source) + cjsFooter(file, wrapped) };
              } catch (error) {
                log.once(`wrap:${file}`, 'error', 'PPERF_ERR_INSTRUMENTATION', `could not wrap the exports of ${file}; it loads unchanged`, { error });
              }
            }
          }
          const file = fileURLToPath(url);
          const key = matchKey(file);
          if (key === undefined || result.source == null) return result;
          const footer = `\n;globalThis[Symbol.for('plandex-perf.module-loaded')]?.(${JSON.stringify(key)}, module.exports, __filename);\n`;
          return { ...result, source: String(result.source) + footer };
        },
      });
      installed = {
        mode: 'registerHooks',
        remove: () => {
          active = false;
          (hooks as { deregister?: () => void } | undefined)?.deregister?.();
        },
      };
    } else {
      installed = { mode: 'legacy', remove: installLegacy() };
    }
    log.debug(`module hooks installed (${installed.mode})`);
  } catch (error) {
    if (shared[GLOBAL_KEY] === notify) delete shared[GLOBAL_KEY];
    log.error('PPERF_ERR_HOOKS', 'module hooks could not be installed; the modules plugins declare will not be instrumented', { error });
  }
}

/** Wraps `Module._load` through patch.ts, so the undo puts it back, or leaves a pass-through if another tool wrapped it since. */
function installLegacy(): () => void {
  const Module = module.Module as unknown as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
    _resolveFilename: (request: string, parent: unknown, isMain: boolean) => string;
  };
  const seen = new WeakSet<object>();
  return patchMethod(Module, '_load', (original) => function load(this: unknown, request: string, parent: unknown, isMain: boolean) {
    const exports = original.call(this, request, parent, isMain);
    if (builtinWaiters.size > 0 && module.isBuiltin(request)) builtinLoading(request);
    if (exports !== null && typeof exports === 'object' && !seen.has(exports)) {
      try {
        const file = Module._resolveFilename(request, parent, isMain);
        const key = matchKey(file);
        if (key !== undefined) {
          seen.add(exports);
          notify(key, exports, file);
        } else if (hasWrapTargets() && wrapTargetFor(file)) {
          seen.add(exports);
          wrapLoadedCjs(file, exports);
        }
      } catch {
        // Resolution of builtins and odd requests can throw here; they are not ours.
      }
    }
    return exports;
  });
}
