import v8 from 'node:v8';
import zlib from 'node:zlib';

/**
 * The L2 format. `node:v8` keeps what JSON loses (Date, BigInt, Buffer, Map, Set; pg rows carry Dates),
 * behind a 2-byte header: a format version, so a future format is read as a miss rather than as garbage,
 * and flags (bit 0: the body is raw-deflated). Keyv's stores keep text (PostgreSQL's column is TEXT, which
 * cannot hold a NUL byte), so the frame travels as base64.
 */
export const FORMAT_VERSION = 1;
const FLAG_DEFLATED = 1;

/** What L2 keeps for one call: the value and its times (ms since the epoch), so every instance agrees on freshness. */
export interface StoredEntry {
  value: unknown;
  /** When it was computed (load start): tag invalidations after this time make it invalid. */
  created: number;
  /** Fresh until. */
  expires: number;
  /** Served at once while refreshing (stale-while-revalidate) until. */
  grace: number;
  /** Served when the origin fails or is slow (stale-if-error) until. */
  stale: number;
  tags: readonly string[] | undefined;
}

export function encode(entry: StoredEntry, compressAboveBytes: number): string {
  let body = v8.serialize([entry.value, entry.created, entry.expires, entry.grace, entry.stale, entry.tags ?? null]);
  let flags = 0;
  if (compressAboveBytes > 0 && body.length > compressAboveBytes) {
    // Level 1: most of the size win for a fraction of the CPU, and this runs on the miss path.
    const deflated = zlib.deflateRawSync(body, { level: 1 });
    if (deflated.length < body.length) {
      body = deflated;
      flags |= FLAG_DEFLATED;
    }
  }
  const frame = Buffer.allocUnsafe(body.length + 2);
  frame[0] = FORMAT_VERSION;
  frame[1] = flags;
  body.copy(frame, 2);
  return frame.toString('base64');
}

/** The entry, or undefined for anything this version cannot read (another format, a corrupt value). */
export function decode(text: string): StoredEntry | undefined {
  try {
    const frame = Buffer.from(text, 'base64');
    if (frame.length < 3 || frame[0] !== FORMAT_VERSION) return undefined;
    let body = frame.subarray(2);
    if ((frame[1]! & FLAG_DEFLATED) !== 0) body = zlib.inflateRawSync(body);
    const parts: unknown = v8.deserialize(body);
    if (!Array.isArray(parts) || parts.length !== 6) return undefined;
    const [value, created, expires, grace, stale, tags] = parts as [unknown, number, number, number, number, string[] | null];
    return { value, created, expires, grace, stale, tags: tags ?? undefined };
  } catch {
    return undefined;
  }
}
