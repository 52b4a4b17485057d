import fs from 'node:fs';
import path from 'node:path';
import type { PluginContext } from '../../src/plugin.js';
import type { Engine } from './engine.js';
import type { FunctionEntry } from './schema.js';
import type { CachedOptions } from './types.js';
import { fnTag } from './fn.js';
import { copyFunction } from './wrap.js';
import { WRN_WRAP_TARGET } from './codes.js';

type Loose = (...args: unknown[]) => unknown;

/** The `cached()` options of a `functions` entry; its identity defaults to `<module>#<export>`, relative to the working directory. */
export function entryOptions(entry: FunctionEntry, file: string, cwd: string): CachedOptions {
  const options: CachedOptions = { name: entry.name ?? `${path.relative(cwd, file).split(path.sep).join('/')}#${entry.export}` };
  for (const field of ['version', 'ttl', 'grace', 'staleIfError', 'softTimeout', 'hardTimeout', 'negativeTtl', 'tags', 'key', 'l2'] as const) {
    if (entry[field] !== undefined) Object.assign(options, { [field]: entry[field] });
  }
  if (entry.invalidatedBy !== undefined && entry.invalidatedBy.length > 0) options.selfTag = true;
  return options;
}

/** An export to cache, or one whose calls invalidate cached functions (`invalidatedBy`). */
type Target = { cache: FunctionEntry } | { invalidates: string[] };

/**
 * `fn` as it was, plus: when a call ends (returns, resolves or throws), every entry carrying one of `tags`
 * is dropped here before the caller sees the result, and on the other instances through the bus.
 */
export function invalidating(engine: Engine, fn: Loose, tags: readonly string[]): Loose {
  const drop = (): void => void engine.invalidateTags(tags).catch(() => {});
  const call = (self: unknown, args: IArguments): unknown => {
    let result: unknown;
    try {
      result = fn.apply(self, args as unknown as unknown[]);
    } catch (error) {
      drop();
      throw error;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        (value) => (drop(), value),
        (error: unknown) => {
          drop();
          throw error;
        },
      );
    }
    drop();
    return result;
  };
  const wrapper = Object.prototype.hasOwnProperty.call(fn, 'prototype')
    ? function (this: unknown): unknown {
        return call(this, arguments);
      }
    : {
        wrapper(this: unknown): unknown {
          return call(this, arguments);
        },
      }.wrapper;
  copyFunction(fn, wrapper as Loose);
  return wrapper as Loose;
}

/**
 * Asks the host to wrap each configured export when its module loads (ESM through a facade module, CommonJS
 * through its exports object). A target that cannot be found is reported once and skipped; the module
 * itself always loads as it would without us.
 */
export function wrapConfigured(ctx: PluginContext, engine: Engine, functions: readonly FunctionEntry[], cwd = process.cwd()): void {
  if (functions.length === 0) return;
  if (typeof ctx.wrapExports !== 'function') {
    ctx.log.warn(WRN_WRAP_TARGET, 'cache: wrapping functions from the config needs module hooks this build does not offer; use cached() from the API', {
      functions: functions.map((f) => `${f.module}#${f.export}`),
    });
    return;
  }
  const byFile = new Map<string, Map<string, Target[]>>();
  const add = (module: string, exportName: string, target: Target, what: string): void => {
    let file = path.resolve(cwd, module);
    try {
      file = fs.realpathSync(file);
    } catch {
      ctx.log.warn(WRN_WRAP_TARGET, `cache: module ${module} not found (resolved against ${cwd}); ${exportName} ${what}`);
      return;
    }
    const exports = byFile.get(file) ?? new Map<string, Target[]>();
    exports.set(exportName, [...(exports.get(exportName) ?? []), target]);
    byFile.set(file, exports);
  };
  for (const entry of functions) {
    add(entry.module, entry.export, { cache: entry }, 'is not cached');
    if (entry.invalidatedBy === undefined) continue;
    let file = path.resolve(cwd, entry.module);
    try {
      file = fs.realpathSync(file);
    } catch {
      continue;
    }
    const options = entryOptions(entry, file, cwd);
    const tag = fnTag(options.name!, String(options.version ?? 1));
    for (const by of entry.invalidatedBy) add(by.module, by.export, { invalidates: [tag] }, `does not invalidate ${entry.export}`);
  }
  if (byFile.size === 0) return;
  ctx.wrapExports(
    [...byFile].map(([file, exports]) => ({ file, exports: [...exports.keys()] })),
    (exportName, fn, file) => {
      const targets = byFile.get(file)?.get(exportName);
      if (!targets || typeof fn !== 'function') return fn;
      let wrapped = fn;
      try {
        const tags = targets.flatMap((t) => ('invalidates' in t ? t.invalidates : []));
        if (tags.length > 0) wrapped = invalidating(engine, wrapped, tags);
        const entry = targets.find((t): t is { cache: FunctionEntry } => 'cache' in t)?.cache;
        if (entry) wrapped = engine.cached(wrapped, entryOptions(entry, file, cwd));
        return wrapped;
      } catch (error) {
        ctx.log.warn(WRN_WRAP_TARGET, `cache: ${exportName} of ${file} could not be wrapped; it runs as it is`, { error });
        return fn;
      }
    },
  );
}
