import { OWN_APPLICATION_NAME, type PgClientLike } from './pg-listen.js';
import { columnKind, type ColumnKind, type Columns } from './row-tags.js';
import type { WriteOp } from '../pg/tables.js';

/**
 * What else a write to a table changes, from the database's catalog: the child tables of foreign keys
 * with `ON DELETE/UPDATE CASCADE | SET NULL | SET DEFAULT` (transitively), the views and materialized
 * views built on it, and the partitions and parents of partitioned tables. Read once, lazily, on a
 * connection of our own opened with the app's own client settings, and again after a schema change.
 * Until it is read (or when it cannot be), a write counts as a write to every table: more misses, never a
 * wrong answer.
 */
const FOREIGN_KEYS = `SELECT c.relname AS child, p.relname AS parent, con.confdeltype::text AS del, con.confupdtype::text AS upd
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class p ON p.oid = con.confrelid
  WHERE con.contype = 'f'`;
const VIEWS = `SELECT DISTINCT v.relname AS view, t.relname AS base
  FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class t ON t.oid = d.refobjid
  WHERE v.relkind IN ('v', 'm') AND t.oid <> v.oid`;
const COLUMNS = `SELECT c.relname AS table, a.attname AS column, t.typname AS type FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;
const INHERITS = `SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent`;

/** Foreign-key actions that change the child's rows. */
const CHANGES_CHILD = new Set(['c', 'n', 'd']);

export interface CatalogMaps {
  /** Written table → tables that change with it whatever the write (views, partitions). */
  changes: Map<string, Set<string>>;
  /** View → the tables it is built on: a write through an updatable view (or its rules, INSTEAD OF triggers) writes them. */
  viewBases: Map<string, Set<string>>;
  /** Parent → children whose rows a DELETE of the parent changes (ON DELETE CASCADE | SET NULL | SET DEFAULT). */
  onDelete: Map<string, Set<string>>;
  /** Parent → children whose rows an UPDATE of the parent's key changes (ON UPDATE …). */
  onUpdate: Map<string, Set<string>>;
  /** Table → tables referencing it by any foreign key (TRUNCATE … CASCADE empties them). */
  referencedBy: Map<string, Set<string>>;
  /** Table → its columns and their kinds (the same name in two schemas: both tables' columns; a column of two kinds is 'other'). */
  columns: Map<string, Map<string, ColumnKind>>;
}

export async function readCatalog(client: PgClientLike): Promise<CatalogMaps> {
  const changes = new Map<string, Set<string>>();
  const onDelete = new Map<string, Set<string>>();
  const viewBases = new Map<string, Set<string>>();
  const onUpdate = new Map<string, Set<string>>();
  const referencedBy = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, from: string, to: string) => {
    if (from === to) return;
    let set = map.get(from);
    if (!set) map.set(from, (set = new Set()));
    set.add(to);
  };
  const fks = (await client.query(FOREIGN_KEYS)).rows as { child: string; parent: string; del: string; upd: string }[];
  for (const fk of fks) {
    add(referencedBy, fk.parent, fk.child);
    if (CHANGES_CHILD.has(fk.del)) add(onDelete, fk.parent, fk.child);
    if (CHANGES_CHILD.has(fk.upd)) add(onUpdate, fk.parent, fk.child);
  }
  for (const v of (await client.query(VIEWS)).rows as { view: string; base: string }[]) {
    add(changes, v.base, v.view);
    add(viewBases, v.view, v.base);
  }
  for (const i of (await client.query(INHERITS)).rows as { child: string; parent: string }[]) {
    add(changes, i.child, i.parent);
    add(changes, i.parent, i.child);
  }
  const columns = new Map<string, Map<string, ColumnKind>>();
  for (const c of (await client.query(COLUMNS)).rows as { table: string; column: string; type: string }[]) {
    let kinds = columns.get(c.table);
    if (!kinds) columns.set(c.table, (kinds = new Map()));
    const kind = columnKind(c.type);
    const known = kinds.get(c.column);
    kinds.set(c.column, known === undefined || known === kind ? kind : 'other');
  }
  return { changes, viewBases, onDelete, onUpdate, referencedBy, columns };
}

/**
 * Everything reachable from `tables` (TRUNCATE first follows every foreign key). `op`, the verb of a
 * one-table write, picks the foreign-key actions that can fire: none for an INSERT, ON DELETE for a
 * DELETE, ON UPDATE for an UPDATE; without it (MERGE, several writes, cascaded rows) both.
 */
export function closure(maps: CatalogMaps, tables: readonly string[], truncate: boolean, op?: WriteOp): string[] {
  const out = new Set<string>(tables);
  const queue = [...tables];
  while (queue.length > 0) {
    const table = queue.pop()!;
    // A cascaded change is a DELETE or an UPDATE of the child (SET NULL/DEFAULT): it may cascade on either.
    const first = tables.includes(table) ? op : undefined;
    const next = [
      ...(maps.changes.get(table) ?? []),
      // Only a written table can be a view written through; its bases were not reached by a cascade.
      ...(tables.includes(table) ? (maps.viewBases.get(table) ?? []) : []),
      ...(first !== 'insert' && first !== 'update' ? (maps.onDelete.get(table) ?? []) : []),
      ...(first !== 'insert' && first !== 'delete' ? (maps.onUpdate.get(table) ?? []) : []),
      ...(truncate ? (maps.referencedBy.get(table) ?? []) : []),
    ];
    for (const t of next) {
      if (out.has(t)) continue;
      out.add(t);
      queue.push(t);
    }
  }
  return [...out];
}

interface AppClient {
  constructor?: unknown;
  connectionParameters?: { user?: unknown; database?: unknown; port?: unknown; host?: unknown; password?: unknown; ssl?: unknown; application_name?: unknown };
  password?: unknown;
  ssl?: unknown;
}

/** A factory for connections like the app's `client` (same pg copy, host, user, database, TLS), under our own name. */
export function clientLike(client: object): (() => PgClientLike) | undefined {
  const app = client as AppClient;
  const Ctor = app.constructor as (new (config: Record<string, unknown>) => PgClientLike) | undefined;
  const cp = app.connectionParameters;
  if (typeof Ctor !== 'function' || cp === undefined) return undefined;
  return () =>
    new Ctor({
      user: cp.user,
      database: cp.database,
      port: cp.port,
      host: cp.host,
      password: app.password ?? cp.password,
      ssl: app.ssl ?? cp.ssl,
      application_name: OWN_APPLICATION_NAME,
      connectionTimeoutMillis: 5000,
      query_timeout: 10_000,
    });
}

export function isOwnClient(client: object): boolean {
  return (client as AppClient).connectionParameters?.application_name === OWN_APPLICATION_NAME;
}

export class Catalog {
  private maps: CatalogMaps | undefined;
  private loading = false;
  private failed = false;
  private factory: (() => PgClientLike) | undefined;

  constructor(private readonly onFailure: (error: unknown) => void) {}

  get ready(): boolean {
    return this.maps !== undefined;
  }

  /** The first application client seen tells how to connect; the catalog is read from then on. */
  note(client: object): void {
    if (this.factory !== undefined || this.failed) return;
    this.factory = clientLike(client);
    if (this.factory === undefined) return this.fail(new Error('the pg client does not expose its connection parameters'));
    void this.load();
  }

  /** A schema change: read it again (the old maps serve meanwhile; the change itself invalidated every table). */
  stale(): void {
    if (this.factory !== undefined && !this.failed) void this.load();
  }

  /** The tables a write to `tables` changes, or 'all' while the catalog is not known. */
  expand(tables: readonly string[], truncate: boolean, op?: WriteOp): string[] | 'all' {
    return this.maps === undefined ? 'all' : closure(this.maps, tables, truncate, op);
  }

  /** The columns of `table` and their kinds, when the catalog is known. */
  columns(table: string): Columns | undefined {
    return this.maps?.columns.get(table);
  }

  private async load(): Promise<void> {
    if (this.loading || this.factory === undefined) return;
    this.loading = true;
    let client: PgClientLike | undefined;
    try {
      client = this.factory();
      client.on('error', () => {});
      await client.connect();
      this.maps = await readCatalog(client);
    } catch (error) {
      if (this.maps === undefined) this.fail(error);
    } finally {
      this.loading = false;
      await client?.end().catch(() => {});
    }
  }

  private fail(error: unknown): void {
    this.failed = true;
    this.onFailure(error);
  }
}
