/**
 * What a cached function's arguments and results are. Data forms the key; connection handles and
 * contexts (`pg.Pool`, `pg.Client`, a knex instance or transaction, an `IncomingMessage`, a Fastify request,
 * any class instance or object with methods) are left out of it, since they say how to read, not what;
 * a trailing plain function is a callback, which means the function is not a data loader at all.
 */
export const DATA = 0;
export const HANDLE = 1;
export const CALLBACK = 2;
export type ArgKind = typeof DATA | typeof HANDLE | typeof CALLBACK;

const DATA_PROTOS = new Set<unknown>([Object.prototype, null, Array.prototype, Date.prototype, Map.prototype, Set.prototype, RegExp.prototype]);

/** Own properties a bare function has: a callback has no others (a knex instance has dozens). */
function isBareFunction(fn: object): boolean {
  if (Object.getOwnPropertySymbols(fn).length > 0) return false;
  for (const key of Object.getOwnPropertyNames(fn)) if (key !== 'length' && key !== 'name' && key !== 'prototype') return false;
  return true;
}

function hasMethods(object: object): boolean {
  for (const key in object) if (typeof (object as Record<string, unknown>)[key] === 'function') return true;
  return false;
}

export function classifyArg(value: unknown, last: boolean): ArgKind {
  if (typeof value === 'function') return last && isBareFunction(value) ? CALLBACK : HANDLE;
  if (typeof value !== 'object' || value === null) return DATA;
  if (ArrayBuffer.isView(value)) return DATA;
  const proto: unknown = Object.getPrototypeOf(value);
  if (!DATA_PROTOS.has(proto)) return HANDLE;
  return (proto === Object.prototype || proto === null) && hasMethods(value) ? HANDLE : DATA;
}

/** A short name for the log: `Pool`, `function knex`, `object with methods`. */
export function describeArg(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return proto === Object.prototype || proto === null ? 'object with methods' : (proto?.constructor?.name ?? 'class instance');
}

/** A handle that reads inside a transaction: knex's transaction object, or a client the tracker saw BEGIN on. */
export function isTransactionHandle(value: unknown, inTransaction: ((client: object) => boolean) | undefined): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  if ((value as { isTransaction?: unknown }).isTransaction === true) return true;
  return inTransaction !== undefined && inTransaction(value);
}

/** Why a result shows the function is not a data loader, or undefined when it is plain data. */
export function notDataReason(value: unknown): string | undefined {
  if (typeof value === 'function') return 'it returned a function';
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return undefined;
  const proto: unknown = Object.getPrototypeOf(value);
  if (DATA_PROTOS.has(proto) || proto === Error.prototype) return undefined;
  if (typeof (value as { pipe?: unknown }).pipe === 'function' || typeof (value as { on?: unknown }).on === 'function') return `it returned a stream or event emitter (${describeArg(value)})`;
  return `it returned a class instance (${describeArg(value)})`;
}

/** Why `fn` cannot be wrapped at all: a class (called with `new`) or a generator. */
export function unwrappableReason(fn: (...args: unknown[]) => unknown): string | undefined {
  const kind = fn.constructor?.name;
  if (kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction') return 'it is a generator function';
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return 'it is a class';
  return undefined;
}

/** `key: [1, 2]` or `key: ['0.id']` from the config: the arguments (or their fields) that form the key. */
export function keyFromPaths(paths: readonly (number | string)[]): (...args: unknown[]) => unknown {
  const parsed = paths.map((p) => String(p).split('.'));
  return (...args: unknown[]) =>
    parsed.map((parts) => {
      let value: unknown = args;
      for (const part of parts) {
        if (value === null || value === undefined) return undefined;
        value = (value as Record<string, unknown>)[part];
      }
      return value;
    });
}
