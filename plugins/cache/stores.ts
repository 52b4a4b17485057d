import type { Keyv } from 'keyv';
import type { BusTransport } from './bus.js';
import { OWN_APPLICATION_NAME, PgListener, quoteIdent, type PgClientLike } from './pg-listen.js';
import { importModule } from '../../src/import-module.js';

/**
 * The L2 stores, on Keyv: Redis through `@keyv/redis` (on a node-redis client we create, so we can add
 * what Keyv leaves out: an error listener, a bounded reconnect, no offline queue, leases and pub/sub),
 * PostgreSQL through `@keyv/postgres` (on our own small pool, with an idle-error listener and a sweeper,
 * since that store has no TTL of its own). Each is imported only when configured.
 */
export interface Store {
  readonly kind: 'redis' | 'postgres';
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: string[]): Promise<void>;
  /** SET NX PX: true when this instance now holds the lease. Redis only. */
  lease?(key: string, token: string, ttlMs: number): Promise<boolean>;
  release?(key: string): Promise<void>;
  /** The invalidation bus on this store (Redis pub/sub, PostgreSQL LISTEN/NOTIFY) on `channel`. */
  busTransport?(channel: string): BusTransport;
  /** Deletes expired rows (stores without TTL). */
  sweep?(prefix: string, limit: number): Promise<number>;
  close(): Promise<void>;
}

/** The part of node-redis we use, typed here rather than through its very generic client type. */
export interface RedisLike {
  isReady: boolean;
  connect(): Promise<unknown>;
  duplicate(): RedisLike;
  on(event: 'error' | 'ready' | 'end' | 'reconnecting', listener: (error?: unknown) => void): unknown;
  set(key: string, value: string, options: { condition: 'NX'; expiration: { type: 'PX'; value: number } }): Promise<string | null>;
  del(keys: string[]): Promise<number>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  unref(): void;
  destroy(): void;
}

export interface StoreOptions {
  url: string;
  /** Connection attempts give up after this (then retry in the background). */
  connectTimeoutMs: number;
  table: string;
  onError: (error: unknown) => void;
}

/** Keyv wraps values as `{ value, expires }`; we keep our own text and the expiry in front of it, for the sweeper. */
const serialize = <Value>(data: { value?: Value; expires?: number | undefined }): string => `${data.expires ?? 0}|${String(data.value)}`;
const deserialize = <Value>(text: string): { value?: Value; expires?: number | undefined } | undefined => {
  const bar = text.indexOf('|');
  if (bar < 0) return undefined;
  const expires = Number(text.slice(0, bar));
  return { value: text.slice(bar + 1) as Value, expires: expires > 0 ? expires : undefined };
};

async function keyvOf(store: unknown): Promise<Keyv> {
  const { Keyv } = await importModule<typeof import('keyv')>('keyv');
  // throwOnErrors: a failing store must reach our breaker, not be swallowed as a miss.
  const keyv = new Keyv({ store: store as never, useKeyPrefix: false, serialize, deserialize, throwOnErrors: true, stats: false });
  // Keyv gives its store the namespace "keyv" by default, which @keyv/redis puts in front of every key;
  // our keys carry their own prefix, and leases and deletes go to Redis directly with the same keys.
  keyv.namespace = undefined;
  return keyv;
}

function strings(values: unknown[]): (string | undefined)[] {
  return values.map((v) => (typeof v === 'string' ? v : undefined));
}

export async function createRedisStore(options: StoreOptions): Promise<Store> {
  const redisModule = await importModule<typeof import('@keyv/redis')>('@keyv/redis');
  const client = redisModule.createClient({
    url: options.url,
    // Commands fail at once while disconnected instead of queueing without bound.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 50),
    },
  }) as unknown as RedisLike;
  // node-redis throws an 'error' without a listener, which would end the host.
  client.on('error', options.onError);
  client.unref();
  // Wait for the first connection, bounded: a Redis that is down at start-up must not delay the host.
  const connected = client.connect().catch(options.onError);
  await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, options.connectTimeoutMs).unref())]);
  const adapter = new redisModule.default(client as never, { throwOnConnectError: true, throwOnErrors: true });
  adapter.on('error', () => {}); // reported through the rejected operation
  const keyv = await keyvOf(adapter);
  keyv.on('error', () => {});
  return {
    kind: 'redis',
    busTransport: (channel) => redisTransport(client, channel),
    async getMany(keys) {
      return strings(await keyv.getMany<string>(keys));
    },
    async set(key, value, ttlMs) {
      await keyv.set(key, value, ttlMs);
    },
    async delete(keys) {
      if (keys.length > 0) await client.del(keys);
    },
    async lease(key, token, ttlMs) {
      return (await client.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } })) === 'OK';
    },
    async release(key) {
      await client.del([key]);
    },
    async close() {
      client.destroy();
    },
  };
}

interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  end(): Promise<void>;
}

export async function createPostgresStore(options: StoreOptions): Promise<Store> {
  const [{ KeyvPostgres }, pgModule] = await Promise.all([importModule<typeof import('@keyv/postgres')>('@keyv/postgres'), importModule<typeof import('pg')>('pg')]);
  const pgExports = (pgModule.default ?? pgModule) as unknown as { Pool: new (config: Record<string, unknown>) => PgPool; Client: new (config: Record<string, unknown>) => PgClientLike };
  const Pool = pgExports.Pool;
  const pool = new Pool({
    connectionString: options.url,
    max: 2,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: OWN_APPLICATION_NAME,
    query_timeout: 5_000,
  });
  // An idle client's error (server restart) would otherwise end the host.
  pool.on('error', options.onError);
  const table = options.table;
  /** @keyv/postgres keeps one module-wide pool per URL; this store uses its own, so closing it touches nobody else's. */
  class OwnPoolPostgres extends KeyvPostgres {
    override async connect(): Promise<(sql: string, values?: unknown) => Promise<unknown[]>> {
      return async (sql, values) => (await pool.query(sql, values as unknown[] | undefined)).rows;
    }
    override async disconnect(): Promise<void> {
      await pool.end();
    }
  }
  const adapter = new OwnPoolPostgres({ uri: options.url, table, useUnloggedTable: true, keySize: 255 });
  adapter.on('error', options.onError);
  const keyv = await keyvOf(adapter);
  keyv.on('error', () => {});
  return {
    kind: 'postgres',
    busTransport: (channel) => {
      // Channel names are identifiers: at most 63 bytes.
      const name = channel.slice(0, 63);
      const state = { listener: undefined as PgListener | undefined };
      return {
        maxBytes: 7900, // NOTIFY payloads stop at 8000 bytes
        get connected() {
          return state.listener?.ready ?? false;
        },
        listen(onMessage, onReconnect) {
          state.listener = new PgListener(
            () => new pgExports.Client({ connectionString: options.url, application_name: OWN_APPLICATION_NAME, connectionTimeoutMillis: options.connectTimeoutMs }),
            name,
            onMessage,
            onReconnect,
            options.onError,
          );
        },
        // On the LISTEN connection when it is up: it is otherwise idle, where the pool's two connections
        // may be busy with L2 reads and writes that a notification would queue behind.
        send: (text) => (state.listener?.ready === true ? state.listener.query('SELECT pg_notify($1, $2)', [name, text]) : pool.query('SELECT pg_notify($1, $2)', [name, text])),
        close: () => state.listener?.close(),
      };
    },
    async getMany(keys) {
      return strings(await keyv.getMany<string>(keys));
    },
    async set(key, value, ttlMs) {
      await keyv.set(key, value, ttlMs);
    },
    async delete(keys) {
      if (keys.length > 0) await keyv.delete(keys);
    },
    async sweep(prefix, limit) {
      // Values start with `<expires ms>|`; 0 means no expiry.
      const result = await pool.query(
        `DELETE FROM ${quoteIdent(table)} WHERE key IN (SELECT key FROM ${quoteIdent(table)} WHERE key LIKE $1 AND split_part(value, '|', 1) <> '0' AND split_part(value, '|', 1)::bigint < $2 LIMIT $3)`,
        [`${prefix.replace(/[%_\\]/g, '\\$&')}:%`, Date.now(), limit],
      );
      return result.rowCount ?? 0;
    },
    async close() {
      await pool.end();
    },
  };
}

/** Pub/sub on a duplicate of the client (a subscribed connection can do nothing else). */
function redisTransport(publisher: RedisLike, channel: string): BusTransport {
  const subscriber = publisher.duplicate();
  let interrupted = false;
  return {
    maxBytes: 64 * 1024,
    get connected() {
      return subscriber.isReady && !interrupted;
    },
    listen(onMessage, onReconnect) {
      subscriber.on('error', () => void (interrupted = true));
      subscriber.on('end', () => void (interrupted = true));
      subscriber.on('ready', () => {
        if (!interrupted) return;
        interrupted = false;
        onReconnect();
      });
      subscriber.unref();
      subscriber
        .connect()
        .then(() => subscriber.subscribe(channel, onMessage))
        .catch(() => void (interrupted = true));
    },
    send: (text) => publisher.publish(channel, text),
    close: () => subscriber.destroy(),
  };
}
