import type { PluginContext } from '../../src/plugin.js';
import type { PgInstrumentation } from '../pg/index.js';
import type { Engine } from './engine.js';
import type { CacheOptions } from './schema.js';
import { TableTracker } from './table-tracker.js';
import { Catalog, clientLike } from './catalog.js';
import { keepTracesAcrossQueues } from './pool-context.js';
import { OWN_APPLICATION_NAME, PgListener, type PgClientLike } from './pg-listen.js';
import { WRN_BUS_RECONNECTED, WRN_CATALOG, WRN_NO_TABLES } from './codes.js';

/**
 * Connects the engine to the database's writes: the pg plugin's query-start hook feeds the table tracker
 * (reads recorded on the running load, writes dropping entries), and with `listen` a LISTEN connection
 * receives the notifications of the triggers `install-triggers` put on tables written from elsewhere.
 * Returns how to start (see `follow`) and the undo; the pg plugin keeps its listener list, so the tracker goes quiet rather than away.
 */
export interface TableFollowing {
  /** Starts following queries (idempotent): at setup when something can need it, else at the first `cached()`. */
  follow(): void;
  unfollow(): void;
}

const NOT_FOLLOWING: TableFollowing = { follow: () => {}, unfollow: () => {} };

export function followTables(ctx: PluginContext, engine: Engine, options: CacheOptions, out: { inTransaction: ((client: object) => boolean) | undefined }): TableFollowing {
  if (!options.tables) return NOT_FOLLOWING;
  const pg = ctx.use<PgInstrumentation>('pg');
  if (pg === undefined || typeof pg.onQueryStart !== 'function') {
    if (options.functions.length > 0) {
      ctx.log.warn(WRN_NO_TABLES, 'cache: the pg plugin is not running, so writes do not invalidate cached entries; only TTLs, tags and invalidatedBy end them');
    }
    return NOT_FOLLOWING;
  }
  let active = true;
  const catalog = new Catalog((error) =>
    ctx.log.warn(WRN_CATALOG, 'cache: foreign keys and views could not be read from the database; every write now invalidates every entry that read a table', { error: String(error) }),
  );
  const tracker = new TableTracker(catalog, (tags) => {
    if (active) engine.tagsWritten(tags);
  });
  out.inTransaction = tracker.inTransaction;
  // Every query of the host goes through the tracker once it follows: with nothing cached in this process
  // and no shared L2 to tell others of its writes (the default), it does not follow at all.
  let following = false;
  const follow = (): void => {
    if (following || !active) return;
    following = true;
    pg.onQueryStart((start) => (active ? tracker.onQueryStart(start) : undefined));
    keepTracesAcrossQueues();
  };
  if (options.functions.length > 0 || options.l2.store !== 'none' || options.listen) follow();

  let listener: PgListener | undefined;
  const listen = (factory: () => PgClientLike): void => {
    listener ??= new PgListener(
      factory,
      options.listenChannel,
      (payload) => {
        if (active) tracker.externalWrite(payload);
      },
      () => {
        engine.l1.clear();
        ctx.log.warn(WRN_BUS_RECONNECTED, 'cache: the LISTEN connection for table writes reconnected; L1 was flushed since notifications may have been missed');
      },
      (error) => ctx.log.debug('cache: LISTEN connection error', { error: String(error) }),
    );
  };
  if (options.listen) {
    const url = options.listenUrl;
    if (url !== undefined) {
      ctx.onModuleLoad('pg', (exports) => {
        const Client = (exports as { Client?: new (config: Record<string, unknown>) => PgClientLike }).Client;
        if (Client) listen(() => new Client({ connectionString: url, application_name: OWN_APPLICATION_NAME, connectionTimeoutMillis: 5000 }));
      });
    } else {
      // The app's own database, as its first client connects to it.
      pg.onQueryStart((start) => {
        if (listener === undefined && active) {
          const factory = clientLike(start.client);
          if (factory) listen(factory);
        }
      });
    }
  }
  return {
    follow,
    unfollow: () => {
      active = false;
      listener?.close();
    },
  };
}
