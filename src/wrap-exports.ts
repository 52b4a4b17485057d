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
const targets = new Map<string, { exports: Set<string>; wrap: Wrapper }>();
let lexerReady = false;

export function addWrapTargets(list: WrapTarget[], wrap: Wrapper): void {
  for (const { file, exports } of list) {
    const entry = targets.get(file) ?? { exports: new Set<string>(), wrap };
    for (const name of exports) entry.exports.add(name);
    targets.set(file, entry);
  }
  (globalThis as Record<symbol, unknown>)[GLOBAL_KEY] ??= (file: string, name: string, fn: unknown) => {
    const entry = targets.get(file);
    if (!entry || typeof fn !== 'function') return fn;
    try {
      return entry.wrap(name, fn as (...args: unknown[]) => unknown, file);
    } catch {
      return fn; // a wrapper that fails leaves the app's function as it was
    }
  };
}

export function wrapTargetFor(file: string): string[] | undefined {
  const entry = targets.get(file);
  return entry ? [...entry.exports] : undefined;
}

export function hasWrapTargets(): boolean {
  return targets.size > 0;
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
  const w = (globalThis as Record<symbol, unknown>)[GLOBAL_KEY] as ((f: string, n: string, fn: unknown) => unknown) | undefined;
  if (!wrapped || !w || exports === null || typeof exports !== 'object') return;
  const target = exports as Record<string, unknown>;
  for (const name of wrapped) if (typeof target[name] === 'function') target[name] = w(file, name, target[name]);
}
