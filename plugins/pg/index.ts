import { SpanKind, SpanStatusCode, context, type Attributes, type Span } from '@opentelemetry/api';
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
function onSubmittableEnd(query: Submittable, finish: (error?: unknown) => void): boolean {
  const { handleError, handleReadyForQuery } = query;
  if (typeof handleError !== 'function' || typeof handleReadyForQuery !== 'function') return false;
  query.handleError = function (this: unknown, ...args: unknown[]) {
    finish(args[0] ?? new Error('query failed'));
    return handleError.apply(this, args);
  };
  query.handleReadyForQuery = function (this: unknown, ...args: unknown[]) {
    finish();
    return handleReadyForQuery.apply(this, args);
  };
  return true;
}

/** One finished query, for plugins that listen (slow-query log, N+1 detection). Never the values. */
export interface QueryEvent {
  text: string | undefined;
  operation: string | undefined;
  durationMs: number;
  error: unknown;
  /** The HTTP request the query was issued from, captured when it started (completion runs in the socket's context). */
  scope: RequestScope | undefined;
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
    const telemetry = ctx.use<Telemetry>('telemetry');
    const tracer = telemetry.tracer;
    const duration = telemetry.meter.createHistogram(sc.METRIC_DB_CLIENT_OPERATION_DURATION, {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const pools = new PoolRegistry(telemetry.meter, options.maxPools, ctx.log);
    const summaries = new SummaryCache();
    let active = true;
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
      return attributeSets.get(client.database, summary.operation, summary.collection === undefined ? undefined : boundCollection(summary.collection));
    };

    /** Returns the callback that records the operation; it is called once, with the error if any. */
    const begin = (client: PgClient, config: unknown, values?: unknown): ((error?: unknown) => void) => {
      const started = performance.now();
      const text = queryText(config);
      let attributes = attributesFor(client, text);
      let span: Span | undefined;
      if (tracer) {
        const name = [attributes[sc.ATTR_DB_OPERATION_NAME], attributes[sc.ATTR_DB_COLLECTION_NAME]].filter(Boolean).join(' ') || 'postgresql';
        span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, context.active());
      }
      const scope = queryListeners.length > 0 ? requestScope.current() : undefined;
      const ends = startListeners.length > 0 ? notifyStart({ text: typeof text === 'string' ? text : undefined, client, query: config, values: Array.isArray(values) ? values : (config as { values?: unknown[] } | null)?.values }) : undefined;
      let done = false;
      return (error?: unknown) => {
        if (done || !active) return;
        done = true;
        try {
          if (ends !== undefined) for (const end of ends) end(error);
          if (queryListeners.length > 0) {
            const event: QueryEvent = {
              text,
              operation: attributes[sc.ATTR_DB_OPERATION_NAME] as string | undefined,
              durationMs: performance.now() - started,
              error,
              scope,
            };
            for (const listener of queryListeners) listener(event);
          }
          if (error) {
            const code = (error as { code?: unknown }).code;
            attributes = { ...attributes, [sc.ATTR_ERROR_TYPE]: typeof code === 'string' ? code : 'error' };
            if (typeof code === 'string') attributes[sc.ATTR_DB_RESPONSE_STATUS_CODE] = code;
          }
          duration.record((performance.now() - started) / 1000, attributes);
          if (span) {
            if (error) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          }
        } catch (failure) {
          ctx.log.once('pg:record', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording a pg query failed', { error: failure });
        }
      };
    };

    const patchedCopies = new WeakSet<object>();
    const patch = (exports: unknown): void => {
      const pg = exports as PgModule;
      const proto = pg.Client?.prototype;
      // The ESM wrapper and CommonJS load the same lib/index.js: one copy of pg is patched once.
      if (!proto || typeof proto.query !== 'function' || patchedCopies.has(proto)) return;
      patchedCopies.add(proto);
      // ctx.patch: closing the plugin puts pg's own query back (src/patch.ts).
      ctx.patch(proto, 'query', (original) => function query(this: PgClient, ...args: unknown[]): unknown {
        let finish: (error?: unknown) => void;
        try {
          finish = begin(this, args[0], args[1]);
        } catch {
          return original.apply(this, args);
        }
        const config = args[0] as Partial<Submittable> & { callback?: unknown } | undefined;
        const last = args.length - 1;
        if (config && typeof config === 'object' && typeof config.submit === 'function') {
          // A submittable, with or without a callback (knex passes one for streams): timed until it ends.
          if (!onSubmittableEnd(config as Submittable, finish)) finish = () => {};
        } else if (typeof args[last] === 'function') {
          const callback = args[last] as (error: unknown, result: unknown) => void;
          // Keeps its name: see scripts/bundle.mjs (without the bundle's `__name` on it V8 promoted whole requests).
          args[last] = function wrapped(this: unknown, error: unknown, result: unknown) {
            finish(error);
            return callback.call(this, error, result);
          };
        } else if (config && typeof config === 'object' && typeof config.callback === 'function') {
          const callback = config.callback as (error: unknown, result: unknown) => void;
          config.callback = function wrapped(this: unknown, error: unknown, result: unknown) {
            finish(error);
            return callback.call(this, error, result);
          };
        }
        const result = original.apply(this, args);
        if (result instanceof Promise) result.then(() => finish(), (error: unknown) => finish(error));
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
      active = false;
      pools.close();
    };
  },
});
