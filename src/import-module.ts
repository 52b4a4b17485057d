/**
 * Every dynamic `import()` of the preload that leaves the bundle (a config module, keyv, the trace
 * exporter, the inspector) goes through here.
 *
 * The bundle runs as a script compiled with its own V8 code cache (src/load.ts), and `import()` inside
 * such a script needs vm's experimental loader hook (an ExperimentalWarning in the host's stderr). The
 * loader passes its own `import()` instead, as `__pperf_import`: it sits next to the bundle, so bare
 * specifiers resolve from the same folder. Loaded any other way (a plain `require` of the bundle, the
 * sources under test), this is an ordinary `import()`. scripts/bundle.mjs fails the build if any other
 * `import(` is left in the bundle.
 */
declare const __pperf_import: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule<T = Record<string, unknown>>(specifier: string): Promise<T> {
  return (typeof __pperf_import === 'function' ? __pperf_import(specifier) : import(specifier)) as Promise<T>;
}
