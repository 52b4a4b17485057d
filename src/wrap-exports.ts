import { initSync, parse } from 'es-module-lexer';

/**
 * Wrapping a module's exports when it loads, for capabilities configured without code changes (the
 * cache wraps `getUserPlans` of `./src/plans.js`). An ESM export binding is read-only to everyone but
 * its module, so for ESM the load hook serves a facade in place of the module: it re-exports the
 * original (loaded under a marked URL) and replaces the chosen exports with wrapped functions. For
 * CommonJS a footer replaces them on `module.exports`.
 */
export type Wrapper = (exportName: string, fn: (...args: unknown[]) => unknown, file: string) => (...args: unknown[]) => unknown;

export interface WrapTarget {
  /** Absolute path of the module file. */
  file: string;
  exports: string[];
}

const GLOBAL_KEY = Symbol.for('plandex-perf.wrap-export');
export const ORIGINAL_MARK = 'pperf-original';
/** One `addWrapTargets` call: its files with their export names, and its wrapper. */
interface Registration {
  files: Map<string, Set<string>>;
  wrap: Wrapper;
}
const registrations = new Set<Registration>();
let lexerReady = false;

/** What the load hooks' generated code calls: each registration that chose this export wraps it in turn. */
function wrapExport(file: string, name: string, fn: unknown): unknown {
  let value = fn;
  for (const registration of registrations) {
    if (typeof value !== 'function' || !registration.files.get(file)?.has(name)) continue;
    try {
      value = registration.wrap(name, value as (...args: unknown[]) => unknown, file);
    } catch {
      // a wrapper that fails leaves the function as it was
    }
  }
  return value;
}

/**
 * Adds targets; the returned undo takes them out again. Once none is left, the global the generated code
 * reads is deleted too, so a module evaluated later keeps its own functions and nothing holds the wrappers.
 */
export function addWrapTargets(list: WrapTarget[], wrap: Wrapper): () => void {
  const files = new Map<string, Set<string>>();
  for (const { file, exports } of list) files.set(file, new Set([...(files.get(file) ?? []), ...exports]));
  const registration: Registration = { files, wrap };
  registrations.add(registration);
  const shared = globalThis as Record<symbol, unknown>;
  shared[GLOBAL_KEY] ??= wrapExport;
  return () => {
    registrations.delete(registration);
    if (registrations.size === 0 && shared[GLOBAL_KEY] === wrapExport) delete shared[GLOBAL_KEY];
  };
}

export function wrapTargetFor(file: string): string[] | undefined {
  let names: Set<string> | undefined;
  for (const registration of registrations) {
    const chosen = registration.files.get(file);
    if (chosen) names = new Set([...(names ?? []), ...chosen]);
  }
  return names && [...names];
}

export function hasWrapTargets(): boolean {
  return registrations.size > 0;
}

/** The facade that stands in for an ES module: everything re-exported, the chosen exports wrapped. */
export function esmFacade(url: string, file: string, source: string, wrapped: string[]): string {
  if (!lexerReady) {
    initSync();
    lexerReady = true;
  }
  const [, exported] = parse(source);
  const names = new Set(exported.map((e) => e.n));
  const original = `${url}${url.includes('?') ? '&' : '?'}${ORIGINAL_MARK}`;
  const lines = [`import * as __pperf_original from ${JSON.stringify(original)};`, `export * from ${JSON.stringify(original)};`];
  lines.push("const __pperf_wrap = globalThis[Symbol.for('plandex-perf.wrap-export')] ?? ((_f, _n, fn) => fn);");
  wrapped.forEach((name, i) => {
    if (!names.has(name)) return;
    const value = `__pperf_wrap(${JSON.stringify(file)}, ${JSON.stringify(name)}, __pperf_original[${JSON.stringify(name)}])`;
    lines.push(name === 'default' ? `export default ${value};` : `const __pperf_${i} = ${value};\nexport { __pperf_${i} as ${JSON.stringify(name)} };`);
  });
  if (names.has('default') && !wrapped.includes('default')) lines.push('export default __pperf_original.default;');
  return lines.join('\n');
}

/** The footer that wraps a CommonJS module's exports once it has run. */
export function cjsFooter(file: string, wrapped: string[]): string {
  return `\n;(() => { const w = globalThis[Symbol.for('plandex-perf.wrap-export')]; if (!w) return; for (const n of ${JSON.stringify(wrapped)}) { const fn = module.exports?.[n]; if (typeof fn === 'function') module.exports[n] = w(${JSON.stringify(file)}, n, fn); } })();\n`;
}

/** Wraps the chosen exports of an already-loaded CommonJS module in place (the legacy hook's path). */
export function wrapLoadedCjs(file: string, exports: unknown): void {
  const wrapped = wrapTargetFor(file);
  if (!wrapped || exports === null || typeof exports !== 'object') return;
  const target = exports as Record<string, unknown>;
  for (const name of wrapped) if (typeof target[name] === 'function') target[name] = wrapExport(file, name, target[name]);
}
