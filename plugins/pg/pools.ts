import type { Attributes, Meter } from '@opentelemetry/api';
import type { log as Log } from '../../src/log.js';
import { bindToCaller, type CallObserver } from '../../src/async-context.js';
import type { PluginContext } from '../../src/plugin.js';
import * as sc from './semconv.js';

/** A pool as the pools() snapshot reports it (diagnostics, the pg-pool plugin). */
export interface PoolInfo {
  name: string;
  /** Who runs the pool: `pg` (a pg.Pool, tuned by pg-pool) or a library with its own pool of pg.Clients. */
  owner: 'pg' | 'knex';
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** The public surface of a pg (pg-pool) Pool that we read. */
export interface PgPool {
  connect(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
  totalCount?: number;
  idleCount?: number;
  waitingCount?: number;
  options?: { max?: number; host?: string; port?: number; database?: string; connectionString?: string; application_name?: string };
}

/** A pool's counts at one moment; `undefined` once the pool is gone (it is then dropped). */
export interface PoolCounts {
  idle: number;
  used: number;
  waiting: number;
  max: number;
  /** Connections the pool keeps open when idle (pg-pool's `min`, tarn's). */
  min?: number;
}

/** A pool of pg.Clients run by another library (knex's tarn pool), reported like a pg.Pool. */
export interface ForeignPool {
  owner: 'knex';
  /** Where it connects, for its name (no password is read). */
  target: PgPool['options'];
  read(): PoolCounts | undefined;
}

/** One connect in progress, as a watcher of checkouts sees it: told once how it ended, with the callback's arguments. */
export type PendingConnect = CallObserver<[error: unknown, client: unknown, release?: unknown]>;

/**
 * A plugin that measures checkouts (pg-pool's wait time, use time, leak detection). `begin` is called as
 * each connect starts, with the function to cut a captured stack at; what it returns is told how it ended.
 */
export interface CheckoutWatcher {
  begin(pool: PgPool, stackCut: (...args: never[]) => unknown): PendingConnect | undefined;
}

type ConnectCallback = (error: unknown, client: unknown, release: unknown) => unknown;

interface Entry {
  attributes: Attributes;
  owner: 'pg' | 'knex';
  read(): PoolCounts | undefined;
}

const kTracked = Symbol('plandex-perf.pg.pool');

/** A stable, password-free name for a pool: `database@host:port` (`#2`… for more pools to the same place). */
export function poolName(options: PgPool['options'] = {}): string {
  let { host, port, database } = options;
  if (options.connectionString) {
    try {
      const url = new URL(options.connectionString);
      host ??= url.hostname || undefined;
      port ??= url.port ? Number(url.port) : undefined;
      database ??= url.pathname.slice(1) || undefined;
    } catch {
      // Not a URL (a socket path or key=value string): fall back to what the options say.
    }
  }
  return `${database ?? process.env.PGDATABASE ?? 'postgres'}@${host ?? process.env.PGHOST ?? 'localhost'}:${port ?? process.env.PGPORT ?? 5432}`;
}

const pgCounts = (pool: PgPool): PoolCounts => {
  const total = pool.totalCount ?? 0;
  const idle = pool.idleCount ?? 0;
  return { idle, used: Math.max(0, total - idle), waiting: pool.waitingCount ?? 0, max: pool.options?.max ?? 10, min: (pool.options as { min?: number } | undefined)?.min ?? 0 };
};

/**
 * Tracks pools as they are first used (a pool is registered on its first `connect`, which `pool.query`
 * also goes through) and reports each one under its own name: several pools never share a counter.
 * Pools of pg.Clients run by other libraries (knex's) are registered here too, within the same bound.
 */
export class PoolRegistry {
  private readonly pools = new Map<object, Entry>();
  private readonly names = new Map<string, number>();
  private readonly count;
  private readonly max;
  private readonly pending;
  private readonly idleMax;
  private readonly idleMin;
  private watcher: CheckoutWatcher | undefined;
  private readonly patchedProtos = new WeakSet<object>();

  constructor(
    meter: Meter,
    private readonly maxPools: number,
    private readonly log: typeof Log,
  ) {
    this.count = meter.createObservableUpDownCounter(sc.METRIC_DB_CLIENT_CONNECTION_COUNT, {
      description: 'Connections in each state (idle, used), per pool.',
      unit: '{connection}',
    });
    this.max = meter.createObservableUpDownCounter(sc.METRIC_DB_CLIENT_CONNECTION_MAX, {
      description: 'The most connections each pool may open.',
      unit: '{connection}',
    });
    this.pending = meter.createObservableUpDownCounter(sc.METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS, {
      description: 'Requests waiting for a connection, per pool.',
      unit: '{request}',
    });
    this.idleMax = meter.createObservableUpDownCounter(sc.METRIC_DB_CLIENT_CONNECTION_IDLE_MAX, { description: 'The most idle connections a pool keeps.', unit: '{connection}' });
    this.idleMin = meter.createObservableUpDownCounter(sc.METRIC_DB_CLIENT_CONNECTION_IDLE_MIN, { description: 'The fewest idle connections a pool keeps.', unit: '{connection}' });
    meter.addBatchObservableCallback(
      (batch) => {
        for (const [pool, { attributes, read }] of this.pools) {
          const counts = this.read(pool, read);
          if (!counts) continue;
          batch.observe(this.count, counts.idle, { ...attributes, [sc.ATTR_CONNECTION_STATE]: 'idle' });
          batch.observe(this.count, counts.used, { ...attributes, [sc.ATTR_CONNECTION_STATE]: 'used' });
          batch.observe(this.pending, counts.waiting, attributes);
          batch.observe(this.max, counts.max, attributes);
          // pg-pool and tarn keep up to `max` idle connections and top up to `min`.
          batch.observe(this.idleMax, counts.max, attributes);
          batch.observe(this.idleMin, counts.min ?? 0, attributes);
        }
      },
      [this.count, this.max, this.pending, this.idleMax, this.idleMin],
    );
  }

  /** Wraps `connect` and `end` of pg-pool's prototype, through the plugin's `ctx.patch` (closing restores them). */
  patch(proto: PgPool, patchMethod: PluginContext['patch']): void {
    if (this.patchedProtos.has(proto)) return;
    this.patchedProtos.add(proto);
    const registry = this;
    // The one wrap of `connect`, for every plugin: registers the pool, keeps a parked callback in its
    // caller's context, and tells the checkout watcher (pool.query's own connects come through here too).
    patchMethod(proto, 'connect', (connect) => {
      const patched = function poolConnect(this: PgPool): unknown {
        if (!(this as unknown as Record<symbol, unknown>)[kTracked]) registry.track(this);
        const pending = registry.watcher?.begin(this, patched);
        // `arguments`, not a rest parameter: pool.query's connect passes here on every query.
        // biome-ignore lint/complexity/noArguments: see above
        const args = arguments as unknown as unknown[];
        const last = args.length - 1;
        // The callback a pool may park: bound to its caller's async context (a parked callback can be called from
        // inside another caller's release, src/async-context.ts), telling the watcher first; one wrapper for both.
        if (last >= 0 && typeof args[last] === 'function') args[last] = bindToCaller(args[last] as ConnectCallback, pending);
        const result = connect.apply(this, args);
        if (pending !== undefined && result instanceof Promise) {
          result.then(
            (client: unknown) => pending.called(undefined, client),
            (error: unknown) => pending.called(error, undefined),
          );
        }
        return result;
      };
      return patched;
    });
    patchMethod(proto, 'end', (end) =>
      function (this: PgPool, ...args: unknown[]) {
        registry.pools.delete(this);
        return end.apply(this, args);
      },
    );
  }

  /** A pool's counts, or undefined (and dropped) once it is gone or cannot be read. */
  private read(pool: object, read: () => PoolCounts | undefined): PoolCounts | undefined {
    let counts: PoolCounts | undefined;
    try {
      counts = read();
    } catch {
      counts = undefined;
    }
    if (!counts) this.pools.delete(pool);
    return counts;
  }

  private readonly assigned = new WeakMap<object, string>();
  private readonly attributeSets = new WeakMap<object, Attributes>();

  /**
   * The pool's attributes (`db.client.connection.pool.name`), one frozen object per pool for every plugin that
   * measures it (hashed once by the metrics SDK, src/attribute-sets.ts); pools past the bound get theirs too.
   */
  attributesOf(pool: PgPool): Attributes {
    let attributes = this.attributeSets.get(pool);
    if (attributes === undefined) this.attributeSets.set(pool, (attributes = Object.freeze({ [sc.ATTR_POOL_NAME]: this.nameOf(pool) })));
    return attributes;
  }

  /** The pool's reported name, given on first ask: `database@host:port` (`knex:` before knex's), `#2` for a second one. */
  nameOf(pool: PgPool, prefix = ''): string {
    let name = this.assigned.get(pool);
    if (name === undefined) {
      const base = prefix + poolName(pool.options);
      const n = (this.names.get(base) ?? 0) + 1;
      this.names.set(base, n);
      name = n === 1 ? base : `${base}#${n}`;
      this.assigned.set(pool, name);
    }
    return name;
  }

  /** The plugin that measures checkouts (one: pg-pool). */
  watchCheckouts(watcher: CheckoutWatcher | undefined): void {
    this.watcher = watcher;
  }

  track(pool: PgPool): void {
    Object.defineProperty(pool, kTracked, { value: true });
    if (this.pools.size >= this.maxPools) {
      this.log.once('pg:maxPools', 'warn', 'PPERF_WRN_002', `more than ${this.maxPools} pools; the rest are not reported`);
      return;
    }
    this.pools.set(pool, { attributes: this.attributesOf(pool), owner: 'pg', read: () => pgCounts(pool) });
  }

  /** Registers another library's pool of pg.Clients (once per pool); returns its name, or undefined past the bound. */
  trackForeign(pool: object, foreign: ForeignPool): string | undefined {
    const known = this.pools.get(pool);
    if (known) return String(known.attributes[sc.ATTR_POOL_NAME]);
    if (this.pools.size >= this.maxPools) {
      this.log.once('pg:maxPools', 'warn', 'PPERF_WRN_002', `more than ${this.maxPools} pools; the rest are not reported`);
      return undefined;
    }
    const name = this.nameOf({ options: foreign.target } as PgPool, `${foreign.owner}:`);
    this.assigned.set(pool, name);
    this.pools.set(pool, { attributes: this.attributesOf(pool as PgPool), owner: foreign.owner, read: foreign.read });
    return name;
  }

  /** A point-in-time view of every reported pool. */
  snapshot(): PoolInfo[] {
    const out: PoolInfo[] = [];
    for (const [pool, { attributes, owner, read }] of this.pools) {
      const counts = this.read(pool, read);
      if (counts) out.push({ name: String(attributes[sc.ATTR_POOL_NAME]), owner, total: counts.idle + counts.used, idle: counts.idle, waiting: counts.waiting, max: counts.max });
    }
    return out;
  }

  close(): void {
    this.pools.clear();
  }
}
