import { hashText } from './keys.js';
import { functionKey } from './keys.js';
import { keyFromPaths } from './args.js';
import { parseDuration } from './duration.js';
import type { CachedOptions, Defaults } from './types.js';

export const UNKNOWN = 0;
export const ASYNC = 1;
export const SYNC = 2;

/** A cached function as the engine keeps it: its options resolved once, so the hot path reads plain fields. */
export interface Fn {
  readonly fn: (...args: unknown[]) => unknown;
  readonly options: CachedOptions;
  readonly name: string;
  /** `identity:version`, shared by all instances (L2 keys, bus messages). */
  readonly fnKey: string;
  /** This process's short L1 key prefix. */
  readonly prefix: string;
  readonly ttl: number;
  readonly grace: number;
  readonly staleIfError: number;
  readonly softTimeout: number;
  readonly hardTimeout: number;
  readonly negativeTtl: number;
  readonly tags: readonly string[] | undefined;
  readonly tagsOf: ((...args: unknown[]) => readonly string[]) | undefined;
  readonly keyOf: ((...args: unknown[]) => unknown) | undefined;
  readonly l2: boolean;
  /** `@fn:<fnKey>` on every entry, when the function is invalidated by other functions (`invalidatedBy`). */
  readonly selfTag: string | undefined;
  /** Sync or async is learnt from the first call unless the function is declared `async`. */
  mode: typeof UNKNOWN | typeof ASYNC | typeof SYNC;
  /** Set when a fallback-made function hands over to the plugin's engine, or to the function itself once it proved not to be a data loader. */
  delegate: ((...args: unknown[]) => unknown) | undefined;
  warned: Set<string>;
  /** The tags its entries carried lately (tables included), fetched with the entry from L2; bounded. */
  seenTags: string[];
}

/** Tags and the key function arrive typed for the caller's arguments; we call them with what the call got. */
type Loose = (...args: unknown[]) => unknown;

export function defaultName(fn: Loose): string {
  // The source hash keeps two different functions of the same name (or two arrow functions) apart.
  const hash = hashText(fn.toString()).slice(0, 8);
  return `${fn.name || 'anonymous'}~${hash}`;
}

function duration(value: number | string | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new TypeError(`cached(): ${field} must be a duration such as "30s", "500ms" or a number of ms (got ${JSON.stringify(value)})`);
  return ms;
}

export function resolveFn(fn: Loose, options: CachedOptions, defaults: Defaults, slot: number): Fn {
  const name = options.name ?? defaultName(fn);
  const tags = options.tags;
  return {
    fn,
    options,
    name,
    fnKey: functionKey(name, String(options.version ?? 1)),
    prefix: `${slot.toString(36)}\u0001`,
    ttl: Math.max(1, duration(options.ttl, defaults.ttl, 'ttl')),
    grace: duration(options.grace, defaults.grace, 'grace'),
    staleIfError: duration(options.staleIfError, defaults.staleIfError, 'staleIfError'),
    softTimeout: duration(options.softTimeout, defaults.softTimeout, 'softTimeout'),
    hardTimeout: duration(options.hardTimeout, defaults.hardTimeout, 'hardTimeout'),
    negativeTtl: duration(options.negativeTtl, defaults.negativeTtl, 'negativeTtl'),
    tags: Array.isArray(tags) ? Object.freeze([...(tags as readonly string[])]) : undefined,
    tagsOf: typeof tags === 'function' ? (tags as unknown as (...args: unknown[]) => readonly string[]) : undefined,
    keyOf: Array.isArray(options.key) ? keyFromPaths(options.key as readonly (number | string)[]) : (options.key as Loose | undefined),
    selfTag: options.selfTag === true ? fnTag(name, String(options.version ?? 1)) : undefined,
    l2: options.l2 !== false,
    mode: fn.constructor.name === 'AsyncFunction' ? ASYNC : UNKNOWN,
    delegate: undefined,
    warned: new Set(),
    seenTags: [],
  };
}

/** How long an entry is of any use: fresh, then served stale at most this long after. */
export function lifetime(f: Fn): number {
  return f.ttl + Math.max(f.grace, f.staleIfError);
}

/** The tag every entry of a function carries when other functions invalidate it. */
export function fnTag(name: string, version = '1'): string {
  return `@fn:${functionKey(name, version)}`;
}
