import { performance } from 'node:perf_hooks';
import type { Attributes, Meter } from '@opentelemetry/api';
import type { log as Log } from '../../src/log.js';
import type { PluginContext } from '../../src/plugin.js';
import { requestScope } from '../../src/request-scope.js';
import type { CheckoutWatcher, PgPool } from '../pg/index.js';
import type { KnexPools } from './knex.js';
import type { PgPoolOptions } from './schema.js';
import * as sc from './semconv.js';

type Listener = (...args: unknown[]) => void;
export interface WatchedPool extends PgPool {
  on(event: string, listener: Listener): unknown;
  query(...args: unknown[]): unknown;
  Client?: new (...args: unknown[]) => object;
}
/** A pooled client's current checkout: one record per client, reused for each of its checkouts (no per-checkout garbage). */
interface Checkout {
  /** Checked out now (false between a release and the next checkout). */
  out: boolean;
  at: number;
  /** Holds the stack of the checkout, captured cheaply (formatted only if a leak is reported). */
  site: { stack?: string } | undefined;
  warned: boolean;
  attributes: Attributes;
  /** Borrowed by `pool.query`, which releases it itself when the query ends: slow, never leaked. */
  internal: boolean;
}

/**
 * One adaptive pool's inputs (adaptive.ts makes them), held by the pool watch beside the pool's other per-pool state: the per-query
 * path reaches them with no lookup. `at` is the watch's own clock reading, so a query reads the clock once.
 */
export interface PoolSizeHooks {
  /** A caller's wait for a connection ended (with its error, if it got none). */
  waited(ms: number, error: unknown, at?: number): void;
  /** A client came back to the pool. */
  released(error: unknown, client: unknown, at?: number): void;
}

/**
 * What the watch keeps per adopted pool, on the pool itself (one property, set once as the pool is made, so
 * every pool of the class has the same shape): the per-query path reads it with no Map or WeakMap lookup.
 */
export interface PoolState {
  readonly attributes: Attributes;
  /** Set by `pool.query` around its own connect: that checkout is released by pg-pool itself, never leaked. */
  internal: boolean;
  /** The adaptive size's per-pool inputs, when the pool adapts (adaptive.ts). */
  size: PoolSizeHooks | undefined;
}
export const kState = Symbol('plandex-perf.pg-pool.state');
type StatefulPool = WatchedPool & { [kState]?: PoolState };

const kPooled = Symbol('plandex-perf.pg-pool.pooled');
const kCheckout = Symbol('plandex-perf.pg-pool.checkout');
/** A pool's connection wait bound when the options set it (not the app): kept off its options, index.ts applies it to the connects that can wait. */
export const kWaitBound = Symbol('plandex-perf.pg-pool.wait-bound');
type PooledClient = Record<symbol, unknown> & { [kCheckout]?: Checkout };
/** A pool library that keeps its own `pg.Client`s (knex, through tarn): recognised from the connect call's stack. */
const KNEX_FRAME = /[\\/]knex[\\/]lib[\\/]dialects[\\/]/;
const TIMEOUT_MESSAGE = /timeout exceeded when trying to connect/i;

/** What one `connect` call started with, until the pool answers it. */
class PendingCheckout {
  constructor(
    readonly watch: PoolWatch,
    readonly pool: WatchedPool,
    readonly state: PoolState,
    readonly started: number,
    readonly site: { stack?: string } | undefined,
    readonly internal: boolean,
  ) {}

  /** The connect's callback is called (or its promise settles): the wait is over. */
  called(error: unknown, client: unknown): void {
    this.watch.settled(this, error, client);
  }
}

/**
 * Everything measured per checkout, and the checks that run over checked-out clients. The pools themselves
 * are registered once, by the pg plugin (its registry names them, bounds them and reports their counts).
 */
export class PoolWatch implements CheckoutWatcher {
  /**
   * The clients of adopted pools, for the leak sweep. Added as each is made and dropped when its pool removes
   * it, never per checkout: a Map set and deleted per checkout rehashed its table and promoted its entries
   * (about 150 bytes a request into the old generation on the overhead bench, 2026-12-02).
   */
  private readonly clients = new Set<PooledClient>();
  private readonly unpooledProtos = new WeakSet<object>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly unpooledTimes: number[] = [];
  private unpooledWarned = false;
  /** Connections opened by knex's own pools since start. */
  private knexOpened = 0;
  private readonly waitTime;
  private readonly useTime;
  private readonly createTime;
  private readonly timeouts;
  private readonly leaked;
  private readonly idleErrors;
  private readonly unpooled;

  constructor(
    meter: Meter,
    private readonly options: PgPoolOptions,
    private readonly log: typeof Log,
    private readonly attributesOf: (pool: PgPool) => Attributes,
    private readonly knexPools: KnexPools,
  ) {
    const histogram = (name: string, description: string) => meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: sc.TIME_BUCKETS } });
    this.waitTime = histogram(sc.METRIC_DB_CLIENT_CONNECTION_WAIT_TIME, 'Time to obtain a connection from the pool.');
    this.useTime = histogram(sc.METRIC_DB_CLIENT_CONNECTION_USE_TIME, 'Time between borrowing a connection and returning it.');
    this.createTime = histogram(sc.METRIC_DB_CLIENT_CONNECTION_CREATE_TIME, 'Time to open a new connection.');
    this.timeouts = meter.createCounter(sc.METRIC_DB_CLIENT_CONNECTION_TIMEOUTS, { description: 'Acquirers that gave up waiting for a connection.', unit: '{timeout}' });
    this.leaked = meter.createCounter(sc.METRIC_PG_LEAKED_CONNECTIONS, { description: 'Connections held longer than the leak-detection threshold.', unit: '{connection}' });
    this.idleErrors = meter.createCounter(sc.METRIC_PG_IDLE_CLIENT_ERRORS, { description: 'Errors of idle pooled clients, handled so they cannot crash the host.', unit: '{error}' });
    this.unpooled = meter.createCounter(sc.METRIC_PG_UNPOOLED_CONNECTS, { description: 'Connections opened outside any pool.', unit: '{connection}' });
    if (options.leakDetectionMs > 0) {
      this.timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, options.leakDetectionMs / 2))).unref();
    }
  }

  /** Watches a pool made through pg-pool's class; `size` is its adaptive size's hooks, if it adapts. */
  adopt(pool: WatchedPool, size?: PoolSizeHooks): PoolState {
    const attributes = this.attributesOf(pool);
    const state: PoolState = { attributes, internal: false, size };
    (pool as StatefulPool)[kState] = state;
    // An idle client's error (server restart, network cut) is emitted on the pool; with no listener it kills the host.
    pool.on('error', (error: unknown) => {
      this.idleErrors.add(1, attributes);
      this.log.once(`pg-pool:idle-error:${attributes[sc.ATTR_POOL_NAME]}`, 'warn', 'PPERF_WRN_008', 'an idle pg client failed; the pool dropped it and the host runs on (logged once per pool)', {
        pool: attributes[sc.ATTR_POOL_NAME],
        error: error instanceof Error ? error.message : String(error),
      });
    });
    pool.on('release', (error: unknown, client: unknown) => {
      const checkout = typeof client === 'object' && client !== null ? (client as PooledClient)[kCheckout] : undefined;
      const now = performance.now();
      if (checkout?.out) {
        checkout.out = false;
        checkout.site = undefined;
        this.useTime.record((now - checkout.at) / 1000, checkout.attributes);
      }
      state.size?.released(error, client, now); // one listener for both: pg-pool's emit copies its listener array when there are two
    });
    pool.on('remove', (client: unknown) => {
      if (typeof client === 'object' && client !== null) this.clients.delete(client as PooledClient);
    });
    // Time each new connection, and mark it as pooled for the per-request-client check.
    const Client = pool.Client;
    if (typeof Client === 'function') {
      const createTime = this.createTime;
      pool.Client = function PooledClient(...args: unknown[]) {
        const client = new Client(...args) as { connect: (...a: unknown[]) => unknown; connectionTimeoutHandle?: unknown } & PooledClient;
        client[kPooled] = true;
        // pg adds this field at connect only when a connect timeout is set, which the lazy wait bound (index.ts)
        // sets for the clients a waiting connect opens and not for the others: two hidden classes of client in one
        // pool, and pg's per-query code (query, _pulseQueryQueue) went megamorphic (~2 k instructions a query,
        // callgrind, 2026-12-02). Every client has it from the start (pg only clears and sets it: undefined is a no-op).
        if (!('connectionTimeoutHandle' in client)) client.connectionTimeoutHandle = undefined;
        const connect = client.connect;
        client.connect = function (this: unknown, ...a: unknown[]) {
          const started = performance.now();
          const done = () => createTime.record((performance.now() - started) / 1000, attributes);
          const last = a.length - 1;
          if (typeof a[last] === 'function') {
            const callback = a[last] as (...r: unknown[]) => unknown;
            a[last] = (...r: unknown[]) => (done(), callback(...r));
            return connect.apply(this, a);
          }
          const result = connect.apply(this, a);
          if (result instanceof Promise) result.then(done, () => {});
          return result;
        };
        return client;
      } as unknown as typeof Client;
    }
    return state;
  }

  /**
   * A connect of an adopted pool starts (the pg plugin's one wrap of `connect` calls this, pool.query's own
   * included): what it must be told when the pool answers. Other pools (not made through pg-pool's class) are not watched.
   */
  begin(pool: WatchedPool, stackCut: (...args: never[]) => unknown): PendingCheckout | undefined {
    const state = (pool as StatefulPool)[kState];
    if (state === undefined) return undefined;
    const internal = state.internal;
    let site: { stack?: string } | undefined;
    if (this.options.leakDetectionMs > 0 && !internal) {
      site = {};
      Error.captureStackTrace(site, stackCut);
    }
    return new PendingCheckout(this, pool, state, performance.now(), site, internal);
  }

  /** A checkout ended its wait: with a client (timed, and watched until released) or with an error. */
  settled(c: PendingCheckout, error: unknown, client: unknown): void {
    try {
      const now = performance.now();
      const attributes = c.state.attributes;
      c.state.size?.waited(now - c.started, error, now); // adaptive pool size
      if (error) {
        if (error instanceof Error && TIMEOUT_MESSAGE.test(error.message)) this.timedOut(c.pool, error, attributes);
        return;
      }
      this.waitTime.record((now - c.started) / 1000, attributes);
      if (typeof client === 'object' && client !== null) {
        const pooled = client as PooledClient;
        let checkout = pooled[kCheckout];
        if (checkout === undefined) {
          checkout = pooled[kCheckout] = { out: true, at: now, site: undefined, warned: false, attributes, internal: false };
          this.clients.add(pooled);
        }
        checkout.out = true;
        checkout.at = now;
        checkout.site = c.site;
        checkout.warned = false;
        checkout.attributes = attributes;
        checkout.internal = c.internal;
      }
    } catch {
      // Measurement must never change what the app gets.
    }
  }

  private timedOut(pool: WatchedPool, error: Error, attributes: Attributes): void {
    this.timeouts.add(1, attributes);
    // A stable code on the error the app receives; the message stays pg-pool's own.
    const coded = error as Error & { code?: string };
    coded.code ??= 'PPERF_ERR_PG_POOL_TIMEOUT';
    this.log.once(`pg-pool:timeout:${attributes[sc.ATTR_POOL_NAME]}`, 'error', 'PPERF_ERR_PG_POOL_TIMEOUT', 'a pg pool is exhausted: an acquirer gave up waiting for a connection (logged once per pool)', {
      pool: attributes[sc.ATTR_POOL_NAME],
      max: pool.options?.max,
      waiting: pool.waitingCount,
      connectionTimeoutMillis: (pool.options as { connectionTimeoutMillis?: number } | undefined)?.connectionTimeoutMillis ?? (pool as unknown as Record<symbol, unknown>)[kWaitBound],
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const client of this.clients) {
      const checkout = client[kCheckout];
      if (checkout === undefined || !checkout.out || checkout.internal || checkout.warned || now - checkout.at < this.options.leakDetectionMs) continue;
      checkout.warned = true;
      this.leaked.add(1, checkout.attributes);
      this.log.warn('PPERF_WRN_009', `a pg client has been checked out for ${Math.round(now - checkout.at)} ms without release (possible leak)`, {
        pool: checkout.attributes[sc.ATTR_POOL_NAME],
        checkedOutAt: checkout.site?.stack?.split('\n').slice(1, 8).map((l) => l.trim()) ?? 'stack not captured',
      });
    }
  }

  /** Counts connections opened outside any pool; a steady stream means a new pg.Client per request. */
  watchUnpooled(proto: { connect: (...args: unknown[]) => unknown }, patchMethod: PluginContext['patch']): void {
    if (this.unpooledProtos.has(proto)) return;
    this.unpooledProtos.add(proto);
    const self = this;
    patchMethod(proto, 'connect', (connect) =>
      function (this: Record<symbol, unknown>, ...args: unknown[]) {
        if (!this[kPooled]) self.outsidePgPool();
        return connect.apply(this, args);
      },
    );
  }

  /** A connect outside any pg.Pool: knex's own pool, or an app opening clients by hand. */
  private outsidePgPool(): void {
    try {
      // A connect is a network round trip; capturing its stack here costs a fraction of that.
      const site: { stack?: string } = {};
      Error.captureStackTrace(site, PoolWatch.prototype.outsidePgPool); // from the connect wrapper down
      if (!KNEX_FRAME.test(site.stack ?? '')) return this.countUnpooled(site.stack);
      const reported = this.knexPools.seen(site.stack ?? '');
      if (++this.knexOpened === 1) {
        this.log.info(
          `pg clients from knex's own pool (tarn): their queries are measured${reported ? ', the pool is reported as "knex:<database>@<host>:<port>"' : ''}; its size and timeouts are knex's (its \`pool\` option), not tuned by pg-pool, and its connections are not counted as unpooled`,
        );
      }
    } catch (error) {
      this.log.once('pg-pool:outside', 'error', 'PPERF_ERR_INSTRUMENTATION', 'classifying a pg connect failed', { error });
    }
  }

  private countUnpooled(stack: string | undefined): void {
    this.unpooled.add(1);
    const limit = this.options.unpooledConnectsPerMinute;
    if (limit === 0 || this.unpooledWarned) return;
    const now = performance.now();
    this.unpooledTimes.push(now);
    while (this.unpooledTimes.length > 0 && now - this.unpooledTimes[0]! > 60_000) this.unpooledTimes.shift();
    if (this.unpooledTimes.length < limit) return;
    this.unpooledWarned = true;
    this.log.warn('PPERF_WRN_012', `${this.unpooledTimes.length} PostgreSQL connections opened outside any pool in the last minute: a new pg.Client per request? Use a pg.Pool.`, {
      route: requestScope.current()?.route() ?? null,
      openedAt: stack?.split('\n').slice(2, 9).map((l) => l.trim()), // past "Error" and the connect wrapper
    });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.clients.clear();
  }
}
