import fs from 'node:fs';
import path from 'node:path';
import type { PluginContext } from '../../src/plugin.js';
import type { Engine } from './engine.js';
import type { FunctionEntry } from './schema.js';
import type { CachedOptions } from './types.js';
import { WRN_WRAP_TARGET } from './codes.js';

type Loose = (...args: unknown[]) => unknown;
/** Offered by the host (src/hooks.ts) once zero-code wrapping lands; absent before. */
type WrapExports = (targets: { file: string; exports: string[] }[], wrap: (exportName: string, fn: Loose, file: string) => Loose) => void;

/** The `cached()` options of a `functions` entry; its identity defaults to `<module>#<export>`, relative to the working directory. */
export function entryOptions(entry: FunctionEntry, file: string, cwd: string): CachedOptions {
  const options: CachedOptions = { name: entry.name ?? `${path.relative(cwd, file).split(path.sep).join('/')}#${entry.export}` };
  for (const field of ['version', 'ttl', 'grace', 'staleIfError', 'softTimeout', 'hardTimeout', 'negativeTtl', 'tags', 'key', 'l2'] as const) {
    if (entry[field] !== undefined) Object.assign(options, { [field]: entry[field] });
  }
  return options;
}

/**
 * Asks the host to wrap each configured export when its module loads (ESM through a facade module, CommonJS
 * through its exports object). A target that cannot be found is reported once and skipped; the module
 * itself always loads as it would without us.
 */
export function wrapConfigured(ctx: PluginContext, engine: Engine, functions: readonly FunctionEntry[], cwd = process.cwd()): void {
  if (functions.length === 0) return;
  const wrapExports = (ctx as PluginContext & { wrapExports?: WrapExports }).wrapExports;
  if (typeof wrapExports !== 'function') {
    ctx.log.warn(WRN_WRAP_TARGET, 'cache: wrapping functions from the config needs module hooks this build does not offer; use cached() from the API', {
      functions: functions.map((f) => `${f.module}#${f.export}`),
    });
    return;
  }
  const byFile = new Map<string, Map<string, FunctionEntry>>();
  for (const entry of functions) {
    let file = path.resolve(cwd, entry.module);
    try {
      file = fs.realpathSync(file);
    } catch {
      ctx.log.warn(WRN_WRAP_TARGET, `cache: module ${entry.module} not found (resolved against ${cwd}); ${entry.export} is not cached`);
      continue;
    }
    const exports = byFile.get(file) ?? new Map<string, FunctionEntry>();
    exports.set(entry.export, entry);
    byFile.set(file, exports);
  }
  if (byFile.size === 0) return;
  wrapExports(
    [...byFile].map(([file, exports]) => ({ file, exports: [...exports.keys()] })),
    (exportName, fn, file) => {
      const entry = byFile.get(file)?.get(exportName);
      if (!entry || typeof fn !== 'function') return fn;
      try {
        return engine.cached(fn, entryOptions(entry, file, cwd));
      } catch (error) {
        ctx.log.warn(WRN_WRAP_TARGET, `cache: ${entry.module}#${exportName} could not be wrapped; it runs uncached`, { error });
        return fn;
      }
    },
  );
}
