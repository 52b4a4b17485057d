import { TableEffectsCache, type TableEffects } from '../pg/tables.js';
import type { QueryStart } from '../pg/index.js';
import { ALL_TABLES_TAG, currentTrace, tableTag } from './trace.js';
import { readTags, writeTags } from './row-tags.js';
import { isOwnClient, type Catalog } from './catalog.js';

/** Where the tags of written rows and tables go ('all': every table): the engine drops the entries carrying them. */
export type WriteSink = (tags: readonly string[] | 'all') => void;

type Pending = Set<string> | 'all';

/**
 * Follows the database through the pg plugin's query-start hook, for every pg client in the process:
 * - a query started inside a cached function's origin call (its async context) records the tables it
 *   reads on that call's trace; read through a client inside a transaction, the result is not kept;
 * - a write, when it ends (before the app sees its result), drops the entries that read the written
 *   tables and what cascades from them; inside BEGIN … COMMIT on one client, at COMMIT (ROLLBACK: nothing).
 * Queries of the cache's own connections are ignored.
 */
export class TableTracker {
  private readonly effects = new TableEffectsCache();
  /** Clients inside a transaction, with the tables written so far. */
  private readonly tx = new WeakMap<object, Pending>();

  constructor(
    private readonly catalog: Catalog,
    private readonly written: WriteSink,
  ) {}

  inTransaction = (client: object): boolean => this.tx.has(client);

  private readonly columnsOf = (table: string) => this.catalog.columns(table);

  onQueryStart = (start: QueryStart): ((error?: unknown) => void) | undefined => {
    const { client } = start;
    // pg-query-stream and pg-cursor keep their text on their cursor.
    const cursor = (start.query as { cursor?: { text?: unknown; values?: unknown } } | null)?.cursor;
    const text = start.text ?? (typeof cursor?.text === 'string' ? cursor.text : undefined);
    const values = start.values ?? (Array.isArray(cursor?.values) ? (cursor.values as unknown[]) : undefined);
    if (text === undefined || isOwnClient(client)) return undefined;
    const e = this.effects.get(text);
    // The transaction is known from the moment BEGIN is sent: the client runs its queries in order.
    if (!this.tx.has(client) && e.steps.some((s) => s.kind === 'begin')) this.tx.set(client, new Set());
    const trace = currentTrace();
    if (trace !== undefined) {
      // The catalog is read once something is cached from the database: an app that caches nothing
      // never sees the cache's connection.
      this.catalog.note(client);
      if (e.reads.length > 0) trace.addTags([ALL_TABLES_TAG, ...readTags(e, values, this.columnsOf)]);
      if (this.tx.has(client)) trace.taint('it read through a client inside a transaction');
    }
    if (e.steps.length === 0 && !e.schemaChange) return undefined;
    const query = start.query as { submit?: unknown; once?: (event: string, fn: () => void) => unknown } | undefined;
    if (query !== null && typeof query === 'object' && typeof query.submit === 'function' && typeof query.once === 'function' && e.steps.some((s) => s.kind === 'write')) {
      // A stream (COPY … FROM STDIN): rows may land before its end is reported; drop now and at each end.
      this.ended(client, e, values);
      for (const event of ['finish', 'end', 'error', 'close']) query.once(event, () => this.ended(client, e, values));
    }
    return () => this.ended(client, e, values);
  };

  /** A trigger's notification (`TG_TABLE_NAME`: the stored name, as the tracker keys it). */
  externalWrite(table: string): void {
    const changed = this.catalog.expand([table], false);
    this.written(changed === 'all' ? 'all' : changed.map(tableTag));
  }

  private ended(client: object, e: TableEffects, values: readonly unknown[] | undefined): void {
    let pending = this.tx.get(client);
    for (const step of e.steps) {
      switch (step.kind) {
        case 'begin':
          pending = new Set();
          this.tx.set(client, pending);
          break;
        case 'write': {
          const changed = step.all ? 'all' : this.catalog.expand(step.tables, step.truncate, step.op);
          const tables = changed === 'all' ? 'all' : writeTags(step, changed, values, this.columnsOf);
          if (pending === undefined) this.written(tables);
          else if (tables === 'all') this.tx.set(client, (pending = 'all'));
          else if (pending !== 'all') for (const t of tables) pending.add(t);
          break;
        }
        case 'commit':
          if (pending === 'all') this.written('all');
          else if (pending !== undefined && pending.size > 0) this.written([...pending]);
          this.tx.delete(client);
          pending = undefined;
          break;
        case 'rollback':
          this.tx.delete(client);
          pending = undefined;
          break;
      }
    }
    if (e.schemaChange) this.catalog.stale();
  }
}
