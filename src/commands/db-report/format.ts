/**
 * How `plandex-perf db-report` prints: aligned plain-text tables for people (no colours or box drawing,
 * so it reads the same in a terminal, a CI log and an e-mail), JSON with the same content for machines.
 */
import { displayName, fixStatements, type DbReport } from './report.js';

/** 0: nothing to fix; 1: problems found. (2, a failed run, is the command's.) */
export const exitCodeFor = (report: DbReport): number => (report.problems > 0 ? 1 : 0);

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const formatMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));
const formatCount = (n: number): string => String(Math.round(n));

/** Columns padded to their widest cell; columns named in `right` are right-aligned (numbers). */
export function table(headers: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [headers, ...rows].map((r) => `  ${line(r)}`);
}

const heading = (title: string, count: number | undefined): string => `${title}: ${count === undefined ? '' : count === 0 ? 'none' : count}`.trimEnd();
const shorten = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function foreignKeySection(report: DbReport): string[] {
  const out = [heading('Foreign keys without an index', report.foreignKeys.length)];
  if (report.foreignKeys.length === 0) return out;
  const rows = report.foreignKeys.map((f) => [displayName(f.schema, f.table), displayName(f.constraint), f.columns.map((c) => displayName(c)).join(', '), f.references, formatCount(f.rows)]);
  out.push(...table(['table', 'constraint', 'columns', 'references', 'rows'], rows, new Set([4])));
  out.push('', '  Deleting or re-keying a referenced row scans the whole table without one, and so do joins on these columns.');
  out.push('  Fix: run each statement on its own (CONCURRENTLY cannot run inside a transaction block):');
  out.push(...fixStatements(report.foreignKeys).map((s) => `    ${s}`));
  for (const f of report.foreignKeys) if (f.note) out.push(`  Note (${displayName(f.schema, f.table)}): ${f.note}.`);
  return out;
}

function statementsSection(report: DbReport): string[] {
  const { status, advice, statements } = report.statements;
  if (status !== 'enabled') {
    const why = { 'not-installed': 'not installed in this database', 'not-loaded': 'created but not loaded', unavailable: 'not available on this server' }[status];
    return [`Slowest statements: pg_stat_statements is ${why}`, '  To enable it:', ...advice.map((step, i) => `    ${i + 1}. ${step}`)];
  }
  const slow = statements.filter((s) => s.slow).length;
  const out = [`${heading('Slowest statements (pg_stat_statements, by mean time)', slow)}${slow ? ` at or above ${report.options.slowMs} ms` : ''}`];
  const scope = `  (statements run ${report.options.minCalls}+ times, in this database, since pg_stat_statements was last reset)`;
  if (statements.length === 0) return [...out, scope];
  const rows = statements.map((s) => [s.slow ? 'slow' : '', formatMs(s.meanMs), formatCount(s.calls), formatMs(s.totalMs), formatCount(s.rows), shorten(s.query, 100)]);
  return [...out, ...table(['', 'mean ms', 'calls', 'total ms', 'rows', 'query'], rows, new Set([1, 2, 3, 4])), scope];
}

function unusedSection(report: DbReport): string[] {
  const out = [heading('Unused indexes (never scanned since statistics were reset)', report.unusedIndexes.length)];
  if (report.unusedIndexes.length === 0) return out;
  const rows = report.unusedIndexes.map((u) => [displayName(u.schema, u.table), displayName(u.index), formatBytes(u.bytes)]);
  out.push(...table(['table', 'index', 'size'], rows, new Set([2])));
  out.push('', '  Each costs writes and memory. Before dropping one, check replicas (their scans are not counted here) and rare jobs.');
  return out;
}

function seqScanSection(report: DbReport): string[] {
  const { minRows, minSeqScans } = report.options;
  const out = [heading('Tables with heavy sequential scans', report.seqScans.length)];
  if (report.seqScans.length > 0) {
    const rows = report.seqScans.map((t) => [displayName(t.schema, t.table), formatCount(t.rows), formatCount(t.seqScans), formatCount(t.indexScans), formatCount(t.seqRowsRead), formatBytes(t.bytes)]);
    out.push(...table(['table', 'rows', 'seq scans', 'index scans', 'rows read by seq scans', 'size'], rows, new Set([1, 2, 3, 4, 5])));
    out.push('', "  Look for the queries filtering these tables on unindexed columns (EXPLAIN shows 'Seq Scan').");
  }
  out.push(`  (${minRows}+ rows, ${minSeqScans}+ sequential scans and more than index scans; counters add up since the last statistics reset)`);
  return out;
}

/** The human report; `url` is shown as given, so pass it with the password already masked. */
export function renderText(report: DbReport, url: string): string {
  const since = report.server.statsReset ? `statistics since ${report.server.statsReset}` : 'statistics never reset';
  const problems = `${report.problems} ${report.problems === 1 ? 'problem' : 'problems'}`;
  const sections = [foreignKeySection(report), statementsSection(report), unusedSection(report), seqScanSection(report)];
  return [`db-report: ${url} (PostgreSQL ${report.server.version}, ${since})`, '', ...sections.flatMap((s) => [...s, '']), problems, ''].join('\n');
}

/** The same content for machines, plus the fix statements in the order to run them. */
export function renderJson(report: DbReport, url: string): string {
  return `${JSON.stringify({ url, ...report, fix: fixStatements(report.foreignKeys) }, null, 2)}\n`;
}
