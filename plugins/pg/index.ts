import { performance } from 'node:perf_hooks';
import { SpanKind, SpanStatusCode, context, type Attributes, type Histogram, type Span } from '@opentelemetry/api';
import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { requestScope, type RequestScope } from '../../src/request-scope.js';
import { boundedLabel } from '../../src/bounded.js';
import { AttributeSets } from '../../src/attribute-sets.js';
import { schema } from './schema.js';
import { SummaryCache } from './sql.js';
import { PoolRegistry, type CheckoutWatcher, type ForeignPool, type PgPool, type PoolInfo } from './pools.js';
export type { CheckoutWatcher, ForeignPool, PendingConnect, PgPool, PoolCounts, PoolInfo } from './pools.js';
import * as sc from './semconv.js';

type QueryFn = (this: PgClient, ...args: unknown[]) => unknown;
interface PgClient {
  database?: string;
  query: QueryFn;
}
interface PgModule {
  Client?: { prototype: PgClient };
  Pool?: { prototype: PgPool };
}


type Handler = (this: unknown, ...args: unknown[]) => unknown;
/** A submittable (pg.Query, pg-cursor, pg-query-stream): the client drives it through these methods. */
interface Submittable {
  submit: unknown;
  text?: unknown;
  cursor?: { text?: unknown };
  handleError?: Handler;
  handleReadyForQuery?: Handler;
}

/** The statement text of a query config: its own `text`, or its cursor's (pg-query-stream keeps it there). */
function queryText(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  const c = config as Partial<Submittable> | null | undefined;
  const text = c?.text ?? c?.cursor?.text;
  return typeof text === 'string' ? text : undefined;
}

/**
 * A submittable ends, for the protocol, at its ReadyForQuery (all rows read, or the cursor closed) or at
 * its first error; the client calls these two methods on it whatever the callback or event style. We
 * wrap them on the instance rather than listening to events: an `error` listener would swallow a stream
 * error that crashes the host bare, and a callback is never called by pg-cursor.
 */
function onSubmittableEnd(query: Submittable, call: QueryCall): boolean {
  const { handleError, handleReadyForQuery } = query;
  if (typeof handleError !== 'function' || typeof handleReadyForQuery !== 'function') return false;
  query.handleError = function (this: unknown, ...args: unknown[]) {
    call.end(args[0] ?? new Error('query failed'));
    return handleError.apply(this, args);
  };
  query.handleReadyForQuery = function (this: unknown, ...args: unknown[]) {
    call.end();
    return handleReadyForQuery.apply(this, args);
  };
  return true;
}

type PgCallback = (this: unknown, error: unknown, result: unknown) => unknown;

interface QueryRecorder {
  /** False once the plugin is closed: calls still in flight then record nothing. */
  active: boolean;
  readonly duration: Histogram;
  readonly queryListeners: readonly ((event: QueryEvent) => void)[];
  onError(failure: unknown): void;
}

/**
 * One query being timed: a plain object with its fields, so a query costs this record and, for a
 * callback, one wrapper function — not a closure per step (what every query of the host pays). Once it
 * ends it is also the event the query listeners get (no second object per query).
 */
class QueryCall implements QueryEvent {
  private readonly started = performance.now();
  done = false;
  durationMs = 0;
  error: unknown = undefined;

  constructor(
    private readonly recorder: QueryRecorder,
    readonly text: string | undefined,
    private readonly attributes: Attributes,
    private readonly span: Span | undefined,
    readonly scope: RequestScope | undefined,
    private readonly ends: ((error?: unknown) => void)[] | undefined,
  ) {}

  get operation(): string | undefined {
    return this.attributes[sc.ATTR_DB_OPERATION_NAME] as string | undefined;
  }

  /** The callback pg will call, ending this call first; `this` and the arguments pass through unchanged. */
  wrap(callback: PgCallback): PgCallback {
    const call = this;
    return function (this: unknown, error: unknown, result: unknown) {
      call.end(error);
      return callback.call(this, error, result);
    };
  }

  end(error?: unknown): void {
    const recorder = this.recorder;
    if (this.done || !recorder.active) return;
    this.done = true;
    try {
      const elapsedMs = performance.now() - this.started;
      if (this.ends !== undefined) for (const end of this.ends) end(error);
      const listeners = recorder.queryListeners;
      if (listeners.length > 0) {
        this.durationMs = elapsedMs;
        this.error = error;
        for (const listener of listeners) listener(this);
      }
      let attributes = this.attributes;
      if (error) {
        const code = (error as { code?: unknown }).code;
        attributes = { ...attributes, [sc.ATTR_ERROR_TYPE]: typeof code === 'string' ? code : 'error' };
        if (typeof code === 'string') attributes[sc.ATTR_DB_RESPONSE_STATUS_CODE] = code;
      }
      recorder.duration.record(elapsedMs / 1000, attributes);
      if (this.span) {
        if (error) this.span.setStatus({ code: SpanStatusCode.ERROR });
        this.span.end();
      }
    } catch (failure) {
      recorder.onError(failure);
    }
  }
}

/** One finished query, for plugins that listen (slow-query log, N+1 detection). Never the values. Read-only. */
export interface QueryEvent {
  readonly text: string | undefined;
  readonly operation: string | undefined;
  readonly durationMs: number;
  readonly error: unknown;
  /** The HTTP request the query was issued from, captured when it started (completion runs in the socket's context). */
  readonly scope: RequestScope | undefined;
}

/** A query about to be sent, for plugins that act before it runs and as soon as it ends (the cache). */
export interface QueryStart {
  text: string | undefined;
  /** The pg.Client that runs it (the pool's client for pool.query). */
  client: object;
  /** The first argument of `query` as passed: text, config or submittable (a stream). */
  query: unknown;
  /** The parameter values (`query(text, values)` or `config.values`): for the listener's own use, never recorded. */
  values: readonly unknown[] | undefined;
}
/** Called in the caller's async context; the function it returns runs when the query ends, before the caller sees the result. */
export type QueryStartListener = (start: QueryStart) => ((error?: unknown) => void) | void;

/** What the pg plugin offers to others. */
export interface PgInstrumentation {
  onQuery(listener: (event: QueryEvent) => void): void;
  onQueryStart(listener: QueryStartListener): void;
  /** The name a pool is reported under (`db.client.connection.pool.name`). */
  poolName(pool: PgPool): string;
  /** The pool's attributes, one frozen object per pool, for measurements of its connections. */
  poolAttributes(pool: PgPool): Attributes;
  /** Hears every pool connect as it starts and ends (through the one wrap of `Pool.prototype.connect`). */
  watchCheckouts(watcher: CheckoutWatcher | undefined): void;
  /** Every pool in use, with its current counts. */
  pools(): PoolInfo[];
  /** Reports a pool of pg.Clients that is not a pg.Pool (knex's) like one; returns its name (undefined past `maxPools`). */
  trackPool(pool: object, foreign: ForeignPool): string | undefined;
}

/**
 * PostgreSQL metrics through `pg`: every query (pool or client, promise, callback or submittable) is
 * timed by wrapping `Client.prototype.query` once per copy of pg. Labels are bounded: the operation,
 * the first table (capped) and the database — never the text or the values.
 */
export default definePlugin({
  name: 'pg',
  description: 'PostgreSQL query duration and pool connection metrics for `pg`, in ESM and CommonJS hosts.',
  dependsOn: ['telemetry'],
  // pg 8 is the line this instrumentation reads (Client.prototype.query, Pool events); 9 is unknown ground.
  modules: [{ name: 'pg', file: 'lib/index.js', versions: '>=8.0.0 <9' }],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const tracer = telemetry.tracer;
    const duration = telemetry.meter.createHistogram(sc.METRIC_DB_CLIENT_OPERATION_DURATION, {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const pools = new PoolRegistry(telemetry.meter, options.maxPools, ctx.log);
    const summaries = new SummaryCache<{ database: string | undefined; attributes: Attributes }>();
    const queryListeners: ((event: QueryEvent) => void)[] = [];
    const startListeners: QueryStartListener[] = [];
    const notifyStart = (start: QueryStart): ((error?: unknown) => void)[] => startListeners.flatMap((listener) => listener(start) ?? []);
    const boundCollection = boundedLabel('tables', options.maxCollections);

    // One frozen object per database and statement summary: hashed once by the metrics SDK (src/attribute-sets.ts).
    const attributeSets = new AttributeSets((database: string | undefined, operation: string | undefined, collection: string | undefined): Attributes => {
      const attributes: Attributes = { [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_POSTGRESQL };
      if (database) attributes[sc.ATTR_DB_NAMESPACE] = database;
      if (operation !== undefined) attributes[sc.ATTR_DB_OPERATION_NAME] = operation;
      if (collection !== undefined) attributes[sc.ATTR_DB_COLLECTION_NAME] = collection;
      return attributes;
    });
    const attributesFor = (client: PgClient, text: string | undefined): Attributes => {
      if (text === undefined) return attributeSets.get(client.database);
      const summary = summaries.get(text);
      // The statement's attributes for the database it last ran against stay on its cached summary: one lookup a query.
      const memo = summary.memo;
      if (memo !== undefined && memo.database === client.database) return memo.attributes;
      const attributes = attributeSets.get(client.database, summary.operation, summary.collection === undefined ? undefined : boundCollection(summary.collection));
      summary.memo = { database: client.database, attributes };
      return attributes;
    };

    /** What `query` needs from the plugin to time one call: see QueryCall. */
    const recorder: QueryRecorder = {
      active: true,
      duration,
      queryListeners,
      onError: (failure) => ctx.log.once('pg:record', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording a pg query failed', { error: failure }),
    };

    /** Starts timing one query; its `end` is called once, with the error if any. */
    const begin = (client: PgClient, config: unknown, values?: unknown): QueryCall => {
      const text = queryText(config);
      const attributes = attributesFor(client, text);
      let span: Span | undefined;
      if (tracer) {
        const name = [attributes[sc.ATTR_DB_OPERATION_NAME], attributes[sc.ATTR_DB_COLLECTION_NAME]].filter(Boolean).join(' ') || 'postgresql';
        span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, context.active());
      }
      const scope = queryListeners.length > 0 ? requestScope.current() : undefined;
      const ends = startListeners.length > 0 ? notifyStart({ text, client, query: config, values: Array.isArray(values) ? values : (config as { values?: unknown[] } | null)?.values }) : undefined;
      return new QueryCall(recorder, text, attributes, span, scope, ends);
    };

    const patchedCopies = new WeakSet<object>();
    const patch = (exports: unknown): void => {
      const pg = exports as PgModule;
      const proto = pg.Client?.prototype;
      // The ESM wrapper and CommonJS load the same lib/index.js: one copy of pg is patched once.
      if (!proto || typeof proto.query !== 'function' || patchedCopies.has(proto)) return;
      patchedCopies.add(proto);
      // ctx.patch: closing the plugin puts pg's own query back (src/patch.ts).
      ctx.patch(proto, 'query', (original) => function query(this: PgClient): unknown {
        // `arguments`, not a rest parameter: no array per query; the callback is replaced in place.
        // biome-ignore lint/complexity/noArguments: see above
        const args = arguments as unknown as unknown[];
        let call: QueryCall;
        try {
          call = begin(this, args[0], args[1]);
        } catch {
          return original.apply(this, args);
        }
        const config = args[0] as (Partial<Submittable> & { callback?: unknown }) | undefined;
        const last = args.length - 1;
        if (config && typeof config === 'object' && typeof config.submit === 'function') {
          // A submittable, with or without a callback (knex passes one for streams): timed until it ends.
          if (!onSubmittableEnd(config as Submittable, call)) call.done = true;
        } else if (typeof args[last] === 'function') {
          args[last] = call.wrap(args[last] as PgCallback);
        } else if (config && typeof config === 'object' && typeof config.callback === 'function') {
          config.callback = call.wrap(config.callback as PgCallback);
        }
        const result = original.apply(this, args);
        if (result instanceof Promise) result.then(() => call.end(), (error: unknown) => call.end(error));
        return result;
      });
      if (pg.Pool?.prototype) pools.patch(pg.Pool.prototype, ctx.patch);
      ctx.log.debug('pg instrumented');
    };

    ctx.onModuleLoad('pg', patch);
    ctx.provide({
      onQuery: (listener) => void queryListeners.push(listener),
      onQueryStart: (listener) => void startListeners.push(listener),
      poolName: (pool) => pools.nameOf(pool),
      poolAttributes: (pool) => pools.attributesOf(pool),
      watchCheckouts: (watcher) => pools.watchCheckouts(watcher),
      pools: () => pools.snapshot(),
      trackPool: (pool, foreign) => pools.trackForeign(pool, foreign),
    } satisfies PgInstrumentation);
    return () => {
      // The prototype patches are put back by the host after this (ctx.patch); until then they stop recording.
      recorder.active = false;
      pools.close();
    };
  },
});
