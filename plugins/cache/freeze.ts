/**
 * Cached values are shared by every caller, so they are deep-frozen when stored (only plain data is): an L1 hit hands out the
 * stored object itself, with no copy and no deserialization. The same walk estimates the value's size
 * (L1 is bounded in bytes) and tells whether `node:v8` can carry it to L2 without changing it.
 */
export interface Walk {
  /** Estimated bytes held, for the L1 budget. */
  bytes: number;
  /** False when it is not plain data (a class instance, a function, a symbol inside): then nothing was frozen. */
  portable: boolean;
  /** Why it is not portable, for the warning. */
  reason: string | undefined;
}

const PORTABLE_PROTOS = new Set<unknown>([Object.prototype, Array.prototype, null, Date.prototype, Map.prototype, Set.prototype, RegExp.prototype, Error.prototype]);
/** Walks stop here: a value this deep is almost certainly a graph not meant to be cached whole. */
const MAX_NODES = 1_000_000;

export function freezeAndMeasure(value: unknown): Walk {
  const walk: Walk = { bytes: 0, portable: true, reason: undefined };
  const seen = new Set<object>();
  const freezable: object[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    switch (typeof v) {
      case 'string':
        walk.bytes += 16 + 2 * v.length;
        continue;
      case 'number':
      case 'boolean':
      case 'undefined':
        walk.bytes += 8;
        continue;
      case 'bigint':
        walk.bytes += 16 + Math.ceil(v.toString(16).length / 2);
        continue;
      case 'symbol':
      case 'function':
        walk.bytes += 8;
        unportable(walk, `contains a ${typeof v}`);
        continue;
    }
    if (v === null) {
      walk.bytes += 8;
      continue;
    }
    const object = v as object;
    if (seen.has(object)) continue;
    seen.add(object);
    if (seen.size > MAX_NODES) {
      unportable(walk, `has more than ${MAX_NODES} objects`);
      break;
    }
    if (ArrayBuffer.isView(object)) {
      // Typed arrays cannot be frozen (their elements stay writable): documented as read-only by contract.
      walk.bytes += 64 + object.byteLength;
      continue;
    }
    if (object instanceof ArrayBuffer) {
      walk.bytes += 64 + object.byteLength;
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(object);
    if (!PORTABLE_PROTOS.has(proto)) unportable(walk, `contains an instance of ${(proto as { constructor?: { name?: string } } | null)?.constructor?.name ?? 'a class'}`);
    if (object instanceof Map) {
      walk.bytes += 64;
      for (const [k, item] of object) stack.push(k, item);
    } else if (object instanceof Set) {
      walk.bytes += 64;
      for (const item of object) stack.push(item);
    } else if (Array.isArray(object)) {
      walk.bytes += 32 + 8 * object.length;
      for (const item of object) stack.push(item);
    } else {
      const keys = Object.keys(object);
      walk.bytes += 32 + 16 * keys.length;
      for (const key of keys) {
        walk.bytes += 2 * key.length;
        stack.push((object as Record<string, unknown>)[key]);
      }
    }
    freezable.push(object);
  }
  // Frozen only when it is plain data through and through: a class instance inside may mutate itself
  // (lazy fields, caches), and freezing it would break the app. Such a result is not cached at all.
  if (walk.portable) for (const object of freezable) Object.freeze(object);
  return walk;
}

function unportable(walk: Walk, reason: string): void {
  if (walk.portable) {
    walk.portable = false;
    walk.reason = reason;
  }
}
