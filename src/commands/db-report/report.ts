/**
 * The model behind `plandex-perf db-report`: foreign keys without an index, the slowest statements,
 * unused indexes and sequentially scanned tables. The decisions (which index covers which foreign key,
 * what to create, what is safe to drop) are pure functions over catalog rows, so they are unit-tested
 * without a database; `collectReport` only runs the queries of sql.ts and hands the rows over.
 */
import { createHash } from 'node:crypto';
import { FOREIGN_KEYS_SQL, INDEXES_SQL, MARK, SEQ_SCANS_SQL, SERVER_SQL, type Queryable } from './sql.js';
import { readStatements, type StatementsSection } from './statements.js';

export type { Queryable } from './sql.js';

export interface ReportOptions {
  /** Tables with fewer rows are left out of the sequential-scan check: scanning them is as cheap as an index. `0`: every table. */
  minRows: number;
  /** Sequential scans a table needs before it is reported, so one-off scans (seeding, migrations, pg_dump) do not count. `0`: any. */
  minSeqScans: number;
  /** Mean time (ms) from which a listed statement counts as a problem. `0`: every listed statement does. */
  slowMs: number;
  /** Calls a statement needs to be listed, so one-off migrations and maintenance do not crowd out the app's queries. `0`: all. */
  minCalls: number;
  /** Rows listed in the statements and sequential-scan sections. */
  limit: number;
  /** Per catalog query, so a lock held by a long migration cannot hang the report. `0`: no limit. */
  statementTimeoutMs: number;
}

export const defaultReportOptions = {
  minRows: 1000,
  minSeqScans: 50,
  slowMs: 100,
  minCalls: 10,
  limit: 10,
  statementTimeoutMs: 10_000,
} satisfies ReportOptions;

/** An index as the checks see it. `keyColumns`: attribute numbers of the key columns in order (0 = an expression). */
export interface IndexInfo {
  tableOid: number;
  schema: string;
  table: string;
  name: string;
  keyColumns: number[];
  method: string;
  valid: boolean;
  partial: boolean;
  unique: boolean;
  backsConstraint: boolean;
  /** A plain index: not a partitioned table's parent index nor one of its per-partition children, which cannot be dropped alone. */
  droppable: boolean;
  scans: number;
  bytes: number;
  definition: string;
}

export interface ForeignKey {
  tableOid: number;
  schema: string;
  table: string;
  constraint: string;
  /** Attribute numbers, in the constraint's order. */
  columns: number[];
  columnNames: string[];
  /** The referenced table, schema-qualified (`displayName`). */
  references: string;
  rows: number;
  partitioned: boolean;
}

export interface ForeignKeyFinding {
  schema: string;
  table: string;
  constraint: string;
  columns: string[];
  references: string;
  rows: number;
  /** The index to create; a narrower foreign key shares the statement of a wider one whose index covers it. */
  statement: string;
  /** An invalid index (left by a failed CREATE INDEX CONCURRENTLY) that must be dropped first: IF NOT EXISTS would skip over it. */
  invalidIndex?: string;
  note?: string;
}

export interface UnusedIndex {
  schema: string;
  table: string;
  index: string;
  bytes: number;
  definition: string;
}

export interface SeqScanTable {
  schema: string;
  table: string;
  rows: number;
  seqScans: number;
  seqRowsRead: number;
  indexScans: number;
  bytes: number;
}

export interface DbReport {
  server: { version: string; database: string; statsReset: string | null };
  options: ReportOptions;
  foreignKeys: ForeignKeyFinding[];
  statements: StatementsSection;
  unusedIndexes: UnusedIndex[];
  seqScans: SeqScanTable[];
  problems: number;
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** `schema.table` for people: quoted only where the name needs it (reserved words aside, as psql shows them). */
export const displayName = (...parts: string[]): string => parts.map((p) => (/^[a-z_][a-z0-9_$]*$/.test(p) ? p : quoteIdent(p))).join('.');

/** NAMEDATALEN - 1. PostgreSQL cuts longer names silently, and IF NOT EXISTS would then compare the cut name. */
const MAX_NAME_BYTES = 63;

function cutToBytes(text: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    bytes += Buffer.byteLength(ch);
    if (bytes > max) break;
    out += ch;
  }
  return out;
}

/**
 * `idx_<table>_<columns>`; when that is too long or `taken` by another index, cut to fit with a hash of
 * the full name appended, so two long names that share a prefix still differ and reruns give the same name.
 */
export function indexName(table: string, columns: readonly string[], taken: ReadonlySet<string> = new Set()): string {
  const name = `idx_${table}_${columns.join('_')}`;
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES && !taken.has(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${cutToBytes(name, MAX_NAME_BYTES - hash.length - 1)}_${hash}`;
}

export function createIndexStatement(target: { schema: string; table: string; columns: readonly string[]; name: string; partitioned?: boolean }): string {
  // CONCURRENTLY is refused on partitioned tables; the plain form blocks writes while it builds.
  const how = target.partitioned ? 'CREATE INDEX' : 'CREATE INDEX CONCURRENTLY';
  const columns = target.columns.map(quoteIdent).join(', ');
  return `${how} IF NOT EXISTS ${quoteIdent(target.name)} ON ${quoteIdent(target.schema)}.${quoteIdent(target.table)} (${columns});`;
}

/**
 * Whether `index` serves lookups on the foreign key's columns: they must be its leading key columns, in
 * any order. Containing them somewhere (`indkey @> conkey`) is not enough: an index on (a, b) does not
 * help a search on b. Partial indexes miss rows, and invalid ones are never used.
 */
export function covers(index: Pick<IndexInfo, 'keyColumns' | 'method' | 'valid' | 'partial'>, fkColumns: readonly number[]): boolean {
  if (!index.valid || index.partial || fkColumns.length === 0) return false;
  // A hash index answers equality on its one column, which is all a single-column lookup needs.
  if (index.method !== 'btree' && !(index.method === 'hash' && fkColumns.length === 1)) return false;
  const leading = index.keyColumns.slice(0, fkColumns.length);
  return leading.length === fkColumns.length && fkColumns.every((column) => leading.includes(column));
}

function indexesByTable(indexes: readonly IndexInfo[]): Map<number, IndexInfo[]> {
  const map = new Map<number, IndexInfo[]>();
  for (const index of indexes) map.set(index.tableOid, [...(map.get(index.tableOid) ?? []), index]);
  return map;
}

/** Foreign keys no index covers, each with the statement that fixes it, biggest tables first. */
export function missingForeignKeyIndexes(foreignKeys: readonly ForeignKey[], indexes: readonly IndexInfo[]): ForeignKeyFinding[] {
  const byTable = indexesByTable(indexes);
  const missing = foreignKeys.filter((fk) => !(byTable.get(fk.tableOid) ?? []).some((index) => covers(index, fk.columns)));
  const planned: { tableOid: number; columns: number[]; statement: string }[] = [];
  const findings = new Map<ForeignKey, ForeignKeyFinding>();
  // Widest first: (a, b) planned before (a) lets the single index serve both.
  for (const fk of [...missing].sort((x, y) => y.columns.length - x.columns.length)) {
    const tableIndexes = byTable.get(fk.tableOid) ?? [];
    const invalid = tableIndexes.find((index) => !index.valid && covers({ ...index, valid: true }, fk.columns));
    const reuse = planned.find((p) => p.tableOid === fk.tableOid && covers({ keyColumns: p.columns, method: 'btree', valid: true, partial: false }, fk.columns));
    let statement = reuse?.statement;
    if (!statement) {
      const taken = new Set(indexes.filter((index) => index.schema === fk.schema && index !== invalid).map((index) => index.name));
      const name = invalid?.name ?? indexName(fk.table, fk.columnNames, taken);
      statement = createIndexStatement({ schema: fk.schema, table: fk.table, columns: fk.columnNames, name, partitioned: fk.partitioned });
      planned.push({ tableOid: fk.tableOid, columns: fk.columns, statement });
    }
    findings.set(fk, {
      schema: fk.schema,
      table: fk.table,
      constraint: fk.constraint,
      columns: fk.columnNames,
      references: fk.references,
      rows: fk.rows,
      statement,
      ...(invalid && !reuse ? { invalidIndex: invalid.name } : {}),
      ...(fk.partitioned ? { note: 'partitioned table: CONCURRENTLY is not supported, so this blocks writes while it builds' } : {}),
    });
  }
  return [...findings.values()].sort((x, y) => y.rows - x.rows || `${x.schema}.${x.table}.${x.constraint}`.localeCompare(`${y.schema}.${y.table}.${y.constraint}`));
}

/** The statements to run, in order and once each: an invalid leftover is dropped before its replacement is built. */
export function fixStatements(findings: readonly ForeignKeyFinding[]): string[] {
  const out: string[] = [];
  for (const finding of findings) {
    if (finding.invalidIndex) out.push(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(finding.schema)}.${quoteIdent(finding.invalidIndex)};`);
    out.push(finding.statement);
  }
  return [...new Set(out)];
}

/**
 * Never-scanned indexes that are safe to consider dropping: not unique or primary (they enforce
 * something), not backing a constraint, and not covering a foreign key. That last one matters: an FK
 * index is only scanned when a referenced row is deleted or its key updated, which can be rare and still
 * turn each such change into a full scan without it, so this report would otherwise suggest dropping
 * the very indexes it told you to create.
 */
export function unusedIndexes(indexes: readonly IndexInfo[], foreignKeys: readonly ForeignKey[]): UnusedIndex[] {
  return indexes
    .filter((index) => index.droppable && index.valid && index.scans === 0 && !index.unique && !index.backsConstraint)
    .filter((index) => !foreignKeys.some((fk) => fk.tableOid === index.tableOid && covers(index, fk.columns)))
    .map(({ schema, table, name, bytes, definition }) => ({ schema, table, index: name, bytes, definition }))
    .sort((x, y) => y.bytes - x.bytes || x.index.localeCompare(y.index));
}

export function countProblems(report: Omit<DbReport, 'problems'>): number {
  const slow = report.statements.statements.filter((s) => s.slow).length;
  return report.foreignKeys.length + slow + report.unusedIndexes.length + report.seqScans.length;
}

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
const numbers = (value: unknown): number[] => (Array.isArray(value) ? value.map(num) : []);
type Row = Record<string, unknown>;

function toIndex(r: Row): IndexInfo {
  return {
    tableOid: num(r.table_oid), schema: str(r.schema), table: str(r.table), name: str(r.name),
    keyColumns: numbers(r.key_columns), method: str(r.method), valid: r.valid === true, partial: r.partial === true,
    unique: r.unique === true, backsConstraint: r.backs_constraint === true, droppable: r.droppable === true,
    scans: num(r.scans), bytes: num(r.bytes), definition: str(r.definition),
  };
}

function toForeignKey(r: Row): ForeignKey {
  return {
    tableOid: num(r.table_oid), schema: str(r.schema), table: str(r.table), constraint: str(r.constraint),
    columns: numbers(r.columns), columnNames: Array.isArray(r.column_names) ? r.column_names.map(str) : [],
    references: displayName(str(r.ref_schema), str(r.ref_table)), rows: num(r.rows), partitioned: r.partitioned === true,
  };
}

function toSeqScan(r: Row): SeqScanTable {
  return {
    schema: str(r.schema), table: str(r.table), rows: num(r.rows), seqScans: num(r.seq_scans),
    seqRowsRead: num(r.seq_rows_read), indexScans: num(r.index_scans), bytes: num(r.bytes),
  };
}

/**
 * Runs every check in one read-only transaction: it cannot write by mistake, the statistics read are
 * one snapshot, and the timeout is SET LOCAL, which also works behind a transaction-pooling PgBouncer
 * (where startup parameters are refused and a session SET would leak to other clients).
 */
export async function collectReport(db: Queryable, overrides: Partial<ReportOptions> = {}): Promise<DbReport> {
  const options: ReportOptions = { ...defaultReportOptions, ...overrides };
  await db.query(`BEGIN ${MARK} READ ONLY`);
  try {
    await db.query(`SELECT ${MARK} set_config('statement_timeout', $1, true)`, [String(options.statementTimeoutMs)]);
    const [server] = (await db.query(SERVER_SQL)).rows as Row[];
    const foreignKeys = ((await db.query(FOREIGN_KEYS_SQL)).rows as Row[]).map(toForeignKey);
    const indexes = ((await db.query(INDEXES_SQL)).rows as Row[]).map(toIndex);
    const seqScans = ((await db.query(SEQ_SCANS_SQL, [options.minRows, options.minSeqScans, options.limit])).rows as Row[]).map(toSeqScan);
    const database = str(server?.database);
    const statements = await readStatements(db, { database, limit: options.limit, slowMs: options.slowMs, minCalls: options.minCalls });
    const statsReset = server?.stats_reset instanceof Date ? server.stats_reset.toISOString() : server?.stats_reset ? str(server.stats_reset) : null;
    const report = {
      server: { version: str(server?.version), database, statsReset },
      options,
      foreignKeys: missingForeignKeyIndexes(foreignKeys, indexes),
      statements,
      unusedIndexes: unusedIndexes(indexes, foreignKeys),
      seqScans,
    };
    return { ...report, problems: countProblems(report) };
  } finally {
    await db.query(`ROLLBACK ${MARK}`).catch(() => undefined);
  }
}
