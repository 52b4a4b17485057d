import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { log } from './log.js';
import { addWrapTargets, cjsFooter, esmFacade, hasWrapTargets, ORIGINAL_MARK, wrapLoadedCjs, wrapTargetFor, type WrapTarget, type Wrapper } from './wrap-exports.js';

/**
 * Module hooks for the few modules we instrument, in ESM and CommonJS hosts alike.
 *
 * `pg` is CommonJS even when imported (its ESM wrapper imports lib/index.js), so one hook on
 * `pg/lib/index.js` sees every copy. We append one line to the module's source that hands its
 * `module.exports` to us after it has evaluated; everything else passes through untouched.
 *
 * Node 22.15+ and 24 have `module.registerHooks` (synchronous, in-thread, applies to require and import).
 * Without it we fall back to wrapping `Module._load`, which sees CommonJS loads from both worlds.
 */
type Listener = (exports: unknown) => void;

interface Target {
  /** Matches the module's file path (forward slashes). */
  file: RegExp;
  listeners: Listener[];
}

/** Files we hook, by module name. Only these are ever touched. */
const knownTargets: Record<string, RegExp> = {
  pg: /\/node_modules\/pg\/lib\/index\.js$/,
  'generic-pool': /\/node_modules\/generic-pool\/index\.js$/,
};

const GLOBAL_KEY = Symbol.for('plandex-perf.module-loaded');
const targets = new Map<string, Target>();
let installed: 'registerHooks' | 'legacy' | undefined;

function notify(name: string, exports: unknown): void {
  const target = targets.get(name);
  if (!target) return;
  for (const fn of target.listeners) {
    try {
      fn(exports);
    } catch (error) {
      log.once(`hook:${name}`, 'error', 'PPERF_ERR_INSTRUMENTATION', `instrumenting ${name} failed; it runs uninstrumented`, { error });
    }
  }
}

function matchName(file: string): string | undefined {
  const normalized = file.replace(/\\/g, '/');
  for (const [name, target] of targets) if (target.file.test(normalized)) return name;
  return undefined;
}

export function onModuleLoad(name: string, fn: Listener): void {
  const file = knownTargets[name];
  if (!file) throw new Error(`no module hook is defined for "${name}"`);
  const target = targets.get(name) ?? { file, listeners: [] };
  target.listeners.push(fn);
  targets.set(name, target);
  install();
}

/** Wraps the given exports of the given module files when they load (see wrap-exports.ts). */
export function wrapExports(list: WrapTarget[], wrap: Wrapper): void {
  addWrapTargets(list, wrap);
  install();
  if (installed === 'legacy') log.warn('PPERF_ERR_HOOKS', 'module hooks run in legacy mode: only CommonJS modules can have their exports wrapped');
}

function install(): void {
  if (installed) return;
  (globalThis as Record<symbol, unknown>)[GLOBAL_KEY] = notify;
  const useLegacy = process.env.PLANDEX_PERF_HOOKS === 'legacy' || typeof module.registerHooks !== 'function';
  try {
    if (!useLegacy) {
      module.registerHooks({
        load(url, context, nextLoad) {
          const result = nextLoad(url, context);
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
          const name = matchName(fileURLToPath(url));
          if (name === undefined || result.source == null) return result;
          const footer = `\n;globalThis[Symbol.for('plandex-perf.module-loaded')]?.(${JSON.stringify(name)}, module.exports);\n`;
          return { ...result, source: String(result.source) + footer };
        },
      });
      installed = 'registerHooks';
    } else {
      installLegacy();
      installed = 'legacy';
    }
    log.debug(`module hooks installed (${installed})`);
  } catch (error) {
    log.error('PPERF_ERR_HOOKS', 'module hooks could not be installed; pg will not be instrumented', { error });
  }
}

function installLegacy(): void {
  const Module = module.Module as unknown as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
    _resolveFilename: (request: string, parent: unknown, isMain: boolean) => string;
  };
  const original = Module._load;
  const seen = new WeakSet<object>();
  Module._load = function load(this: unknown, request: string, parent: unknown, isMain: boolean) {
    const exports = original.call(this, request, parent, isMain);
    if (exports !== null && typeof exports === 'object' && !seen.has(exports)) {
      try {
        const file = Module._resolveFilename(request, parent, isMain);
        const name = matchName(file);
        if (name !== undefined) {
          seen.add(exports);
          notify(name, exports);
        } else if (hasWrapTargets() && wrapTargetFor(file)) {
          seen.add(exports);
          wrapLoadedCjs(file, exports);
        }
      } catch {
        // Resolution of builtins and odd requests can throw here; they are not ours.
      }
    }
    return exports;
  };
}

export function hooksMode(): string | undefined {
  return installed;
}
