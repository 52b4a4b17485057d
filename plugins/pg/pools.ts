import type { Attributes, Meter } from '@opentelemetry/api';
import type { log as Log } from '../../src/log.js';
import * as sc from './semconv.js';
import type { PoolInfo } from './index.js';

/** The public surface of a pg (pg-pool) Pool that we read. */
export interface PgPool {
  connect(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
  totalCount?: number;
  idleCount?: number;
  waitingCount?: number;
  options?: { max?: number; host?: string; port?: number; database?: string; connectionString?: string; application_name?: string };
}

const kTracked = Symbol('plandex-perf.pg.pool');
const kPatchedPool = Symbol.for('plandex-perf.pg.pool.patched');

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

/**
 * Tracks pools as they are first used (a pool is registered on its first `connect`, which `pool.query`
 * also goes through) and reports each one under its own name: several pools never share a counter.
 */
export class PoolRegistry {
  private readonly pools = new Map<PgPool, Attributes>();
  private readonly names = new Map<string, number>();
  private readonly count;
  private readonly max;
  private readonly pending;

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
    meter.addBatchObservableCallback(
      (batch) => {
        for (const [pool, attributes] of this.pools) {
          const total = pool.totalCount ?? 0;
          const idle = pool.idleCount ?? 0;
          batch.observe(this.count, idle, { ...attributes, [sc.ATTR_CONNECTION_STATE]: 'idle' });
          batch.observe(this.count, Math.max(0, total - idle), { ...attributes, [sc.ATTR_CONNECTION_STATE]: 'used' });
          batch.observe(this.pending, pool.waitingCount ?? 0, attributes);
          batch.observe(this.max, pool.options?.max ?? 10, attributes);
        }
      },
      [this.count, this.max, this.pending],
    );
  }

  patch(proto: PgPool): void {
    if ((proto as unknown as Record<symbol, unknown>)[kPatchedPool]) return;
    Object.defineProperty(proto, kPatchedPool, { value: true });
    const { connect, end } = proto;
    const track = (pool: PgPool): void => this.track(pool);
    const untrack = (pool: PgPool): void => void this.pools.delete(pool);
    proto.connect = function (this: PgPool, ...args: unknown[]) {
      if (!(this as unknown as Record<symbol, unknown>)[kTracked]) track(this);
      return connect.apply(this, args);
    };
    proto.end = function (this: PgPool, ...args: unknown[]) {
      untrack(this);
      return end.apply(this, args);
    };
  }

  private readonly assigned = new WeakMap<PgPool, string>();

  /** The pool's reported name, given on first ask: `database@host:port`, `#2` for a second one. */
  nameOf(pool: PgPool): string {
    let name = this.assigned.get(pool);
    if (name === undefined) {
      const base = poolName(pool.options);
      const n = (this.names.get(base) ?? 0) + 1;
      this.names.set(base, n);
      name = n === 1 ? base : `${base}#${n}`;
      this.assigned.set(pool, name);
    }
    return name;
  }

  private track(pool: PgPool): void {
    Object.defineProperty(pool, kTracked, { value: true });
    if (this.pools.size >= this.maxPools) {
      this.log.once('pg:maxPools', 'warn', 'PPERF_WRN_002', `more than ${this.maxPools} pools; the rest are not reported`);
      return;
    }
    this.pools.set(pool, { [sc.ATTR_POOL_NAME]: this.nameOf(pool) });
  }

  /** A point-in-time view of every reported pool. */
  snapshot(): PoolInfo[] {
    return [...this.pools].map(([pool, attributes]) => ({
      name: String(attributes[sc.ATTR_POOL_NAME]),
      owner: 'pg' as const,
      total: pool.totalCount ?? 0,
      idle: pool.idleCount ?? 0,
      waiting: pool.waitingCount ?? 0,
      max: pool.options?.max ?? 10,
    }));
  }

  close(): void {
    this.pools.clear();
  }
}
