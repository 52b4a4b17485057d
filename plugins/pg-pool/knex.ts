import { createRequire } from 'node:module';
import type { ForeignPool, PoolCounts } from '../pg/index.js';

/** tarn's Pool, as far as we read it (knex may also be given another pool; then it is not reported). */
interface TarnPool {
  max: number;
  destroyed?: boolean;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}
interface KnexClient {
  pool?: unknown;
  connectionSettings?: unknown;
}
type Method = (this: KnexClient, ...args: unknown[]) => unknown;

/** The knex dialect file in a connect's stack: its module holds the dialect's Client class. */
const DIALECT_FILE = /((?:[A-Za-z]:)?[^\s()]*[\\/]knex[\\/]lib[\\/]dialects[\\/][^\s():]+\.js):\d+:\d+/;
const kPatched = Symbol.for('plandex-perf.pg-pool.knex');

function isTarn(pool: unknown): pool is TarnPool {
  const p = pool as Partial<TarnPool> | null | undefined;
  return typeof p?.numUsed === 'function' && typeof p.numFree === 'function' && typeof p.numPendingAcquires === 'function' && typeof p.max === 'number';
}

/** Where a knex client connects, without its password: knex takes a URL string or an object. */
function targetOf(settings: unknown): ForeignPool['target'] {
  if (typeof settings === 'string') return { connectionString: settings };
  const s = (settings ?? {}) as Record<string, unknown>;
  return {
    host: typeof s.host === 'string' ? s.host : undefined,
    port: typeof s.port === 'number' ? s.port : typeof s.port === 'string' ? Number(s.port) : undefined,
    database: typeof s.database === 'string' ? s.database : undefined,
    connectionString: typeof s.connectionString === 'string' ? s.connectionString : undefined,
  };
}

/**
 * Finds knex's pools (tarn, made of pg.Clients) so they are reported like any pool. We never load or hook
 * knex: the first connect made from a knex dialect names the dialect's file in its stack, and that
 * module, already loaded, exports the dialect's Client class. Its `acquireConnection` and
 * `releaseConnection` then register `this.pool` on their next call (a map lookup per call); the
 * connection being opened right now is released through the same path, so the pool is known after
 * its first query.
 */
export class KnexPools {
  private readonly require = createRequire(import.meta.url);

  constructor(private readonly track: (pool: object, foreign: ForeignPool) => void) {}

  /** Called with the stack of a connect that came from knex. Returns false when nothing could be patched. */
  seen(stack: string): boolean {
    const file = DIALECT_FILE.exec(stack)?.[1];
    const Dialect = file === undefined ? undefined : (this.require.cache[file]?.exports as { prototype?: Record<string | symbol, unknown> } | undefined);
    const proto = Dialect?.prototype;
    if (!proto || typeof proto.acquireConnection !== 'function' || typeof proto.releaseConnection !== 'function') return false;
    if (proto[kPatched]) return true;
    Object.defineProperty(proto, kPatched, { value: true });
    const register = (client: KnexClient): void => {
      const pool = client.pool;
      if (!isTarn(pool) || pool.destroyed) return;
      const read = (): PoolCounts | undefined => (pool.destroyed || client.pool !== pool ? undefined : { idle: pool.numFree(), used: pool.numUsed(), waiting: pool.numPendingAcquires(), max: pool.max });
      this.track(pool, { owner: 'knex', target: targetOf(client.connectionSettings), read });
    };
    for (const name of ['acquireConnection', 'releaseConnection'] as const) {
      const inherited = proto[name] as Method;
      // An own method on the dialect's prototype, so other dialects' clients (MySQL…) are untouched.
      proto[name] = function (this: KnexClient, ...args: unknown[]) {
        try {
          register(this);
        } catch {
          // Reporting must never change what knex does.
        }
        return inherited.apply(this, args);
      };
    }
    return true;
  }
}
