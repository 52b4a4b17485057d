import { crypto } from '../../src/lazy-crypto.js';
import { CALLBACK, classifyArg, DATA } from './args.js';

/**
 * Cache keys. An L1 key is the function's local prefix plus a stable text form of the arguments; the
 * L2 key adds the function's identity, its version and a 128-bit hash of that text, so two functions or
 * two deploys never read each other's entries: `pperf:<fn>:<version>:<hash>`.
 */

/** Argument text longer than this is replaced by its hash, so L1 keys stay small (they count against its budget). */
export const MAX_ARG_TEXT = 200;
const MAX_DEPTH = 16;

export class UnkeyableError extends Error {
  constructor(reason: string) {
    super(`arguments cannot be used as a cache key: ${reason}`);
    this.name = 'UnkeyableError';
  }
}

/** md5 where the platform allows it (FIPS builds refuse it), else sha256 truncated to the same 128 bits. */
let hashWith: ((text: string) => string) | undefined;
const hashText = (text: string): string => (hashWith ??= pickHash())(text);

/** Decided at the first hash, so that node:crypto loads only when a key needs hashing. */
function pickHash(): (text: string) => string {
  const c = crypto();
  try {
    c.hash('md5', 'probe');
    return (text: string) => c.hash('md5', text);
  } catch {
    return (text: string) => c.hash('sha256', text).slice(0, 32);
  }
}
export { hashText };

/** What the last `argsKey` call left out: a bit per handle argument (first 31), and whether one was a callback. */
export const scan = { handles: 0, callback: false };

/**
 * Stable text for the arguments of one call: object keys sorted, Dates, BigInts, Buffers, Maps and Sets
 * spelled out, strings length-prefixed so no two different argument lists give the same text. The common
 * case (a few numbers and short strings) allocates one string. Top-level handles (connections, contexts:
 * see args.ts) are left out, each as a placeholder so positions stay apart; `scan` says which.
 */
export function argsKey(args: ArrayLike<unknown>): string {
  const n = args.length;
  let out = '';
  scan.handles = 0;
  scan.callback = false;
  for (let i = 0; i < n; i++) {
    const a = args[i];
    // Fast paths first: these are what hot functions are called with.
    if (typeof a === 'string') out += `${a.length}:${a}`;
    else if (typeof a === 'number') out += `n${a},`;
    else if ((typeof a === 'object' && a !== null) || typeof a === 'function') {
      const kind = classifyArg(a, i === n - 1);
      if (kind === DATA) out += encode(a, 0);
      else {
        out += '~';
        if (kind === CALLBACK) scan.callback = true;
        scan.handles |= i < 31 ? 1 << i : 1 << 30;
      }
    } else out += encode(a, 0);
  }
  return out.length > MAX_ARG_TEXT ? `#${hashText(out)}` : out;
}

function encode(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new UnkeyableError(`nested deeper than ${MAX_DEPTH} levels (or circular)`);
  switch (typeof value) {
    case 'string':
      return `${value.length}:${value}`;
    case 'number':
      return `n${value},`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `b${value},`;
    case 'symbol':
    case 'function':
      throw new UnkeyableError(`a ${typeof value} has no stable value`);
  }
  if (value === null) return 'z';
  if (value instanceof Date) return `d${value.getTime()},`;
  if (ArrayBuffer.isView(value)) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')},`;
  if (Array.isArray(value)) {
    let out = '[';
    for (const item of value) out += encode(item, depth + 1);
    return `${out}]`;
  }
  if (value instanceof Map) {
    const parts = [...value].map(([k, v]) => encode(k, depth + 1) + encode(v, depth + 1)).sort();
    return `M${parts.length}${parts.join('')}]`;
  }
  if (value instanceof Set) {
    const parts = [...value].map((v) => encode(v, depth + 1)).sort();
    return `S${parts.length}${parts.join('')}]`;
  }
  const object = value as Record<string, unknown>;
  const proto = Object.getPrototypeOf(object) as { constructor?: { name?: string } } | null;
  // A class instance keeps its class name, so two shapes with the same fields stay apart.
  let out = proto === Object.prototype || proto === null ? '{' : `{${proto.constructor?.name ?? '?'}|`;
  for (const key of Object.keys(object).sort()) {
    const v = object[key];
    if (v === undefined) continue; // as JSON does: { a: undefined } and {} are the same call
    out += `${key.length}:${key}${encode(v, depth + 1)}`;
  }
  return `${out}}`;
}

/** The L2 key of one entry. */
export function l2Key(prefix: string, fnKey: string, argKey: string): string {
  return `${prefix}:${fnKey}:${hashText(argKey)}`;
}

/**
 * `<identity>:<version>`, the part of the key shared by every instance. Identities longer than 120
 * characters are shortened with a hash, keeping stores with bounded key columns (PostgreSQL: 255) happy.
 */
export function functionKey(identity: string, version: string): string {
  const id = identity.length > 120 ? `${identity.slice(0, 80)}~${hashText(identity).slice(0, 16)}` : identity;
  return `${id}:${version}`;
}
