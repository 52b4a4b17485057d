/**
 * The memory-heavy endpoint's document: `GET /report/:size` answers a JSON
 * report of exactly `size` bytes (100 KB–1 MB in the memory bench), the shape
 * of an export or a dashboard query that returns thousands of rows at once.
 *
 * Rows are generated, not read from PostgreSQL, so the bytes per response are
 * exact and PostgreSQL (unpinned, sharing the machine) does not decide the
 * throughput; the handler still makes one database round-trip first, so
 * requests overlap in flight as they do in a real app.
 *
 * Every row serialises to the same number of bytes (fixed-width numbers,
 * fixed-length ASCII strings with nothing JSON must escape), so the document's
 * length is computed, not searched for: N rows, then a `pad` string for the
 * remainder. The same size always gives the same rows.
 */

export const MIN_REPORT_BYTES = 1024;
export const MAX_REPORT_BYTES = 4 * 1024 * 1024;

const STATUSES = ['active', 'paused', 'closed']; // same length each
const CONTENT_LENGTH = 160;
// Letters and spaces only: JSON.stringify copies them as they are (no escapes).
const TEXT = (() => {
  let x = 0x2545f491;
  let s = '';
  for (let i = 0; i < 8192; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = (x >>> 0) % 32;
    s += r < 26 ? String.fromCharCode(97 + r) : ' ';
  }
  return s;
})();

/** Row i of a report (i < 8 999 999): every field fixed-width. */
function row(i, createdAt) {
  const offset = (i * 131) % (TEXT.length - CONTENT_LENGTH);
  return {
    id: 1_000_000 + i,
    plan_id: 1000 + (i % 9000),
    name: `context-${String(i % 100_000).padStart(5, '0')}`,
    status: STATUSES[i % STATUSES.length],
    tokens: 100 + ((i * 7) % 900),
    active: true,
    content: TEXT.slice(offset, offset + CONTENT_LENGTH),
    created_at: createdAt,
  };
}

const ROW_BYTES = JSON.stringify(row(0, new Date(0))).length; // same for every i and every Date (ISO strings are 24 chars)

/**
 * Parses the `:size` of `/report/:size`: bytes, MIN_REPORT_BYTES … MAX_REPORT_BYTES.
 * @param {string} raw
 * @returns {number | null} null when it is not a size this endpoint serves
 */
export function parseReportSize(raw) {
  if (!/^[1-9]\d{0,9}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= MIN_REPORT_BYTES && n <= MAX_REPORT_BYTES ? n : null;
}

/**
 * The report object whose JSON.stringify is exactly `size` bytes.
 * @param {number} size bytes, MIN_REPORT_BYTES … MAX_REPORT_BYTES
 * @param {Date} generatedAt
 */
export function buildReport(size, generatedAt) {
  if (!Number.isInteger(size) || size < MIN_REPORT_BYTES || size > MAX_REPORT_BYTES) {
    throw new RangeError(`report size must be an integer from ${MIN_REPORT_BYTES} to ${MAX_REPORT_BYTES}, got ${size}`);
  }
  // {"size":S,"generated_at":"…24…","row_count":N,"rows":[r,r,…],"pad":"…"}
  const fixed = (n) =>
    `{"size":${size},"generated_at":"${'x'.repeat(24)}","row_count":${n},"rows":[],"pad":""}`.length + (n > 0 ? n * ROW_BYTES + n - 1 : 0);
  let n = Math.max(0, Math.floor((size - fixed(0)) / (ROW_BYTES + 1)));
  while (n > 0 && fixed(n) > size) n--; // row_count's own digits can tip it over
  const createdAt = new Date(generatedAt.getTime() - 86_400_000);
  const rows = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = row(i, createdAt);
  return { size, generated_at: generatedAt, row_count: n, rows, pad: ' '.repeat(size - fixed(n)) };
}
