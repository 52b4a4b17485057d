import { performance } from 'node:perf_hooks';
import type { Attributes, Meter } from '@opentelemetry/api';
import type { log as Log } from '../../src/log.js';
import { requestScope } from '../../src/request-scope.js';
import type { PgPoolOptions } from './schema.js';
import type { Applied } from './tune.js';
import type { PoolSizeHooks, WatchedPool } from './watch.js';
import * as sc from './semconv.js';

/** pg's own size: the floor of a pool nobody sized, so no configuration never means a smaller pool (issue 12). */
export const PG_DEFAULT_MAX = 10;

/** What one control window measured on one pool. */
export interface PoolWindow {
  /** Length of the window, ms. */
  ms: number;
  /** Connections handed to callers during the window. */
  acquired: number;
  /** Sum of the waits for a connection that ended during the window, ms. */
  waitedMs: number;
  /** Callers still waiting at the end of the window (a burst's first waiters have not settled yet). */
  queued: number;
  /** Checked-out connections integrated over the window, connection·ms: the sum of the hold times. */
  busyMs: number;
  /** The most connections checked out at once during the window. */
  peakBusy: number;
}

/** The server's connection slots, as read from `max_connections`, the reserved slots and `pg_stat_activity`. */
export interface ServerHeadroom {
  maxConnections: number;
  reserved: number;
  used: number;
}

export interface ControllerSettings {
  /** Never below this (pg's 10 for a pool nobody sized; `adaptiveMin` for one that opted in below its `max`). */
  floor: number;
  /** Never above this (`adaptiveMax`, or the app's own `max`). */
  ceiling: number;
  /** Share of the server's free slots one pool may take when it reads them. */
  serverShare: number;
  /** Re-read the server's headroom after this long, ms. */
  serverCheckMs: number;
  /** Connections must sit idle this long before the size steps back toward the floor, ms. */
  shrinkAfterMs: number;
  /** After a grow that only raised latency, no grow past the old size for this long, ms. */
  backoffMs: number;
}

export type Reason = 'callers waited' | 'latency rose' | 'connections idle' | 'server cap';
export interface Decision {
  from: number;
  to: number;
  reason: Reason;
  detail: Record<string, number>;
}

/** Growth is only worth a window's look with this many checkouts in it (fewer: too noisy to judge latency). */
const MIN_SAMPLES = 10;
/** Grow when on average half a caller or more waited for a connection through the window. */
const GROW_WAITERS = 0.5;
/** A grow is undone when the hold time rose by more than this share of the growth. */
const LATENCY_SHARE = 0.75;
/** A window counts as idle when (almost) nobody waited and at least one connection was never used. */
const IDLE_WAITERS = 0.05;

/** The cap the server allows this pool: what it holds now plus its share of the free slots. */
export function serverCap(h: ServerHeadroom, mine: number, share: number): number {
  const free = Math.max(0, h.maxConnections - h.reserved - h.used);
  return mine + Math.floor(free * share);
}

/**
 * The size of one pool, from what it measures (pure: the clock and the measurements are given).
 *
 * By Little's law the connections a pool's callers would hold if none waited are L = λ·W: the time-average
 * connections in use (Σ hold / window) plus the time-average callers waiting (Σ wait / window). While callers
 * wait, the size moves toward that figure, by at least one and at most ×1.5 a window. Every grow is a trial,
 * judged on the next window: if the hold time (the query's latency, for `pool.query`) rose by more than three
 * quarters of the growth (×1.5 connections for more than ×1.375 hold time: under 9 % more throughput), the
 * extra connections mostly queued inside the database or the app (HikariCP's point: past the server's
 * parallelism a bigger pool is slower), so the size goes back and does not retry past it for `backoffMs`.
 * Connections idle for `shrinkAfterMs` step the size back toward the floor. Above the floor it never goes
 * without having read the server's headroom, and never past the server's cap.
 */
export class PoolSizeController {
  target: number;
  /** The caller should read the server's headroom (set when a grow waits on it). */
  wantsServer = false;
  private cap: number | undefined;
  private capAt = Number.NEGATIVE_INFINITY;
  private trial: { from: number; holdMs: number; growth: number; windows: number } | undefined;
  private blocked: { size: number; until: number } | undefined;
  private idleFor = 0;
  private idlePeak = 0;

  constructor(
    private readonly settings: ControllerSettings,
    private readonly now: () => number,
  ) {
    this.target = settings.floor;
  }

  /** The highest size allowed now: the ceiling, the server's cap (the floor while unknown), never below the floor. */
  limit(): number {
    return Math.max(this.settings.floor, Math.min(this.settings.ceiling, this.cap ?? this.settings.floor));
  }

  /** True when the server's headroom was never read, or not for `serverCheckMs`. */
  serverStale(): boolean {
    return this.cap === undefined || this.now() - this.capAt >= this.settings.serverCheckMs;
  }

  /** The server's headroom was read while this pool held `mine` connections. */
  headroom(h: ServerHeadroom, mine: number): Decision | undefined {
    this.cap = serverCap(h, mine, this.settings.serverShare);
    this.capAt = this.now();
    this.wantsServer = false;
    return this.clampToLimit({ maxConnections: h.maxConnections, used: h.used, cap: this.cap });
  }

  /** Reading the headroom failed: no growth past the current size until the next read. */
  headroomUnknown(): void {
    this.cap = Math.min(this.cap ?? this.target, this.target);
    this.capAt = this.now();
    this.wantsServer = false;
  }

  /** The server refused a connection (too many clients): the cap becomes what the pool holds, re-read soon. */
  serverFull(total: number): Decision | undefined {
    this.cap = Math.min(this.cap ?? total, total);
    // Stale again after a tenth of the check period, so a freed server is seen again.
    this.capAt = this.now() - this.settings.serverCheckMs * 0.9;
    return this.clampToLimit({ cap: this.cap });
  }

  step(w: PoolWindow): Decision | undefined {
    if (w.ms <= 0) return undefined;
    const now = this.now();
    const waiters = Math.max(w.waitedMs / w.ms, w.queued);
    const busy = w.busyMs / w.ms;
    const holdMs = w.acquired > 0 ? w.busyMs / w.acquired : undefined;
    const enough = w.acquired >= MIN_SAMPLES && holdMs !== undefined && holdMs > 0;

    if (this.trial) {
      if (!enough) {
        if (++this.trial.windows > 4) this.trial = undefined;
        return undefined;
      }
      const trial = this.trial;
      this.trial = undefined;
      const rise = holdMs / trial.holdMs;
      // ×1.5 connections with ≤ ×1.375 hold time still buys ≥ 9 % throughput (X = busy / hold): kept. Half (×1.25)
      // rejected the remote one-query bench's gains (fixed 20 = 1.9× fixed 10 there) on an app near its CPU limit.
      if (rise > 1 + (trial.growth - 1) * LATENCY_SHARE && this.target > trial.from) {
        this.blocked = { size: trial.from, until: now + this.settings.backoffMs };
        return this.set(trial.from, 'latency rose', { holdMs: round(holdMs), holdBeforeMs: round(trial.holdMs), rise: round(rise) });
      }
    }

    if (waiters >= GROW_WAITERS && enough) {
      this.idleFor = 0;
      this.idlePeak = 0;
      if (this.serverStale()) this.wantsServer = true;
      let limit = this.limit();
      if (this.blocked && now < this.blocked.until) limit = Math.min(limit, this.blocked.size);
      if (this.target >= limit) return undefined;
      const wanted = Math.ceil(busy + waiters);
      const stepMax = Math.max(this.target + 2, Math.ceil(this.target * 1.5));
      const next = Math.min(limit, Math.max(this.target + 1, Math.min(wanted, stepMax)));
      this.trial = { from: this.target, holdMs, growth: next / this.target, windows: 0 };
      return this.set(next, 'callers waited', { waiting: round(waiters), busy: round(busy), holdMs: round(holdMs), limit });
    }

    if (waiters < IDLE_WAITERS && w.peakBusy < this.target) {
      this.idleFor += w.ms;
      this.idlePeak = Math.max(this.idlePeak, w.peakBusy);
      if (this.idleFor >= this.settings.shrinkAfterMs && this.target > this.settings.floor) {
        const next = Math.max(this.settings.floor, Math.min(this.target - 1, Math.max(this.idlePeak + 1, Math.floor(this.target * 0.75))));
        const peak = this.idlePeak;
        this.idleFor = 0;
        this.idlePeak = 0;
        return this.set(next, 'connections idle', { peakBusy: peak });
      }
    } else {
      this.idleFor = 0;
      this.idlePeak = 0;
    }
    return undefined;
  }

  private clampToLimit(detail: Record<string, number>): Decision | undefined {
    const limit = this.limit();
    if (this.target <= limit) return undefined;
    this.trial = undefined;
    return this.set(limit, 'server cap', detail);
  }

  private set(to: number, reason: Reason, detail: Record<string, number>): Decision | undefined {
    if (to === this.target) return undefined;
    const from = this.target;
    this.target = to;
    return { from, to, reason, detail };
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** pg-pool's internals the resize relies on (3.x: `_isFull()` reads `options.max`; `_pulseQueue()` serves one waiter). */
interface PoolInternals extends WatchedPool {
  options: { max?: number };
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  ending?: boolean;
  ended?: boolean;
  _pendingQueue: unknown[];
  _pulseQueue: () => void;
  _isFull: () => boolean;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

function hasInternals(pool: WatchedPool): pool is PoolInternals {
  const p = pool as Partial<PoolInternals>;
  return typeof p._pulseQueue === 'function' && typeof p._isFull === 'function' && Array.isArray(p._pendingQueue) && typeof p.options?.max === 'number' && typeof p.totalCount === 'number';
}

const HEADROOM_SQL =
  "SELECT current_setting('max_connections')::int AS max_connections, " +
  "current_setting('superuser_reserved_connections')::int + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved, " +
  "(SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS used";

interface HeadroomRow {
  max_connections: number;
  reserved: number;
  used: number;
}

interface Tracked {
  pool: PoolInternals;
  name: string;
  attributes: Attributes;
  controller: PoolSizeController;
  acquired: number;
  waitedMs: number;
  busy: number;
  busyMs: number;
  peakBusy: number;
  last: number;
  windowStart: number;
  reading: boolean;
  /** What the pool watch calls per checkout and release (adopt makes it). */
  hooks: PoolSizeHooks;
}


/**
 * Runs one controller per adaptive pool: counts checkouts and hold times as the pool watch reports them, takes
 * each caller's wait from the pool watch, ticks every `adaptiveIntervalMs` on one unref'd timer, reads the
 * server's headroom through the pool (rarely, only when a grow needs it) and applies the size to
 * `pool.options.max`, which pg-pool reads on every checkout.
 */
export class AdaptivePools {
  private readonly pools = new Map<WatchedPool, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private readonly resizes;

  constructor(
    meter: Meter,
    private readonly options: PgPoolOptions,
    private readonly log: typeof Log,
    private readonly nameOf: (pool: WatchedPool) => string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.resizes = meter.createCounter(sc.METRIC_PG_POOL_RESIZES, { description: 'Changes of an adaptive pool’s size (its `db.client.connection.max`), by direction and reason.', unit: '{resize}' });
  }

  /**
   * Called once per new pool, with its `max` and where it came from; adapts it if the options say so, and
   * returns what the pool watch must call per checkout and release (undefined: the size stays fixed).
   */
  adopt(pool: WatchedPool, max: Applied | undefined): PoolSizeHooks | undefined {
    if (!this.options.adaptive || this.pools.size >= 1000) return undefined;
    const explicit = max !== undefined && max.from !== 'pg default';
    if (explicit && !this.options.adaptiveBelowMax) return undefined; // issue 12: an explicit size is kept as is
    const name = this.nameOf(pool);
    if (!hasInternals(pool)) {
      this.log.once('pg-pool:adaptive-internals', 'warn', 'PPERF_WRN_071', 'this pg-pool version lacks the internals the adaptive size needs; its pools keep a fixed size', { pool: name });
      return undefined;
    }
    const current = pool.options.max ?? PG_DEFAULT_MAX;
    const floor = explicit ? Math.min(this.options.adaptiveMin, current) : Math.max(PG_DEFAULT_MAX, current);
    const ceiling = explicit ? current : Math.max(floor, this.options.adaptiveMax);
    if (ceiling <= floor) return undefined;
    const controller = new PoolSizeController(
      { floor, ceiling, serverShare: this.options.adaptiveServerShare, serverCheckMs: 60_000, shrinkAfterMs: 10_000, backoffMs: 30_000 },
      this.now,
    );
    const start = this.now();
    const integrate = (at: number) => {
      t.busyMs += t.busy * (at - t.last);
      t.last = at;
    };
    const hooks: PoolSizeHooks = {
      waited: (ms, error, at = this.now()) => {
        t.waitedMs += ms;
        if (error === undefined || error === null) {
          integrate(at);
          t.acquired++;
          if (++t.busy > t.peakBusy) t.peakBusy = t.busy;
        } else if ((error as { code?: unknown }).code === '53300') {
          this.log.once(`pg-pool:adaptive-full:${t.name}`, 'warn', 'PPERF_WRN_072', 'the server refused a connection (too many clients): the adaptive pool stops growing at its current size and re-reads the server soon', { pool: t.name, connections: t.pool.totalCount });
          this.apply(t, t.controller.serverFull(t.pool.totalCount));
        }
      },
      released: (_error, client, at = this.now()) => {
        integrate(at);
        if (t.busy > 0) t.busy--;
        // After a shrink pg-pool keeps every client it has: a busy pool hands each released one straight to the
        // next waiter, so the surplus would never sit idle long enough to time out. Marking the client as ending
        // (pg's own flag, set by `end()`) makes pg-pool's release check remove and end it now (then it pulses its
        // queue, which opens nothing: full). Not `_poolUseCount = Infinity` (pg-pool's maxUses check): a number
        // where pg keeps a small integer changed the field's representation, gave the clients new hidden classes
        // and left pg's per-query code megamorphic (~2 k instructions a query, callgrind, 2026-12-02).
        if (pool.totalCount > (pool.options.max ?? floor) && typeof client === 'object' && client !== null && (client as { _ending?: unknown })._ending === false) (client as { _ending: boolean })._ending = true;
      },
    };
    // Checkouts and releases are heard through the pool watch (it holds `hooks` beside the pool's state), not as
    // listeners of the pool's `acquire`/`release` events: a listener makes pg-pool's every emit of them call into us.
    const t: Tracked = { pool, name, attributes: { [sc.ATTR_POOL_NAME]: name }, controller, acquired: 0, waitedMs: 0, busy: 0, busyMs: 0, peakBusy: 0, last: start, windowStart: start, reading: false, hooks };
    pool.options.max = floor;
    this.pools.set(pool, t);
    // Beside the one-time settings line, which says `max=10 (pg default)`: what happens to that 10.
    this.log.info(`pg pool "${name}": adaptive size ${floor}–${ceiling}${explicit ? ' (below its explicit max: adaptiveBelowMax)' : ` (pg's ${floor} is the floor; pg-pool.adaptive=false keeps it fixed)`}, within the server's headroom`);
    // Timer callbacks inherit the context they are created in: never tie them to the request that made the pool.
    this.timer ??= requestScope.run(undefined, () => setInterval(() => this.tick(), this.options.adaptiveIntervalMs).unref());
    return hooks;
  }

  /** Each release of a client, by pool (the pool watch calls the adopted pool's hooks directly). */
  released(pool: WatchedPool, error: unknown, client: unknown): void {
    this.pools.get(pool)?.hooks.released(error, client);
  }

  /** Each caller's wait for a connection, by pool, and a server that refused a connection (see `released`). */
  waited(pool: WatchedPool, ms: number, error: unknown): void {
    this.pools.get(pool)?.hooks.waited(ms, error);
  }

  private tick(): void {
    const at = this.now();
    for (const t of this.pools.values()) {
      try {
        if (t.pool.ending || t.pool.ended) {
          this.forget(t);
          continue;
        }
        t.busyMs += t.busy * (at - t.last);
        t.last = at;
        const window: PoolWindow = { ms: at - t.windowStart, acquired: t.acquired, waitedMs: t.waitedMs, queued: t.pool.waitingCount, busyMs: t.busyMs, peakBusy: t.peakBusy };
        t.windowStart = at;
        t.acquired = 0;
        t.waitedMs = 0;
        t.busyMs = 0;
        t.peakBusy = t.busy;
        this.apply(t, t.controller.step(window));
        // Only when a grow waits on it: an app whose callers never wait never sees this query, and a script
        // that ends without `pool.end()` keeps pg's idle timeout to the millisecond.
        if (t.controller.wantsServer && !t.reading) this.readServer(t);
      } catch (error) {
        this.log.once('pg-pool:adaptive-tick', 'error', 'PPERF_ERR_INSTRUMENTATION', 'the adaptive pool size failed; that pool keeps its current size', { error });
        this.forget(t);
      }
    }
  }

  /**
   * One small query, never in the app's way: on an idle connection of the pool when it has one; else (a
   * burst, every connection busy and callers queued, where a pool query would wait behind all of them) on
   * a one-off connection made with the pool's own Client class and options, closed at once.
   */
  private readServer(t: Tracked): void {
    t.reading = true;
    const done = (decision: Decision | undefined) => {
      t.reading = false;
      this.apply(t, decision);
    };
    this.headroomQuery(t.pool).then(
      ({ rows }) => {
        const row = rows[0];
        if (!row) return done(undefined);
        done(t.controller.headroom({ maxConnections: row.max_connections, reserved: row.reserved, used: row.used }, t.pool.totalCount));
        this.log.debug(`pg pool "${t.name}": server headroom`, { maxConnections: row.max_connections, reserved: row.reserved, used: row.used, cap: t.controller.limit() });
      },
      (error: unknown) => {
        this.log.once(`pg-pool:adaptive-headroom:${t.name}`, 'warn', 'PPERF_WRN_070', "the adaptive pool size could not read the server's headroom; the pool does not grow past its current size until the next try", {
          pool: t.name,
          error: error instanceof Error ? error.message : String(error),
        });
        t.controller.headroomUnknown();
        done(undefined);
      },
    );
  }

  private async headroomQuery(pool: PoolInternals): Promise<{ rows: HeadroomRow[] }> {
    if (pool.idleCount > 0 || typeof pool.Client !== 'function') return (await pool.query(HEADROOM_SQL)) as { rows: HeadroomRow[] };
    const client = new pool.Client(pool.options) as { connect(): Promise<void>; query(sql: string): Promise<{ rows: HeadroomRow[] }>; end(): Promise<void> };
    try {
      await client.connect();
      return await client.query(HEADROOM_SQL);
    } finally {
      client.end().catch(() => {});
    }
  }

  private apply(t: Tracked, decision: Decision | undefined): void {
    if (!decision) return;
    const pool = t.pool;
    pool.options.max = decision.to;
    // pg-pool only looks at `max` when a checkout or a release pulses its queue: serve the waiters the
    // new slots can take now (each pulse opens one connection for one waiter), not on the next release.
    if (decision.to > decision.from && !pool.ending) {
      const pulses = Math.min(decision.to - decision.from, pool._pendingQueue.length);
      for (let i = 0; i < pulses; i++) pool._pulseQueue();
    }
    this.resizes.add(1, { ...t.attributes, [sc.ATTR_RESIZE_DIRECTION]: decision.to > decision.from ? 'grow' : 'shrink', [sc.ATTR_RESIZE_REASON]: decision.reason });
    this.log.debug(`pg pool "${t.name}": size ${decision.from} → ${decision.to} (${decision.reason})`, decision.detail);
  }

  private forget(t: Tracked): void {
    this.pools.delete(t.pool);
    if (this.pools.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    for (const t of [...this.pools.values()]) this.forget(t);
  }
}
