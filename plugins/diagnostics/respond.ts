import type { IncomingMessage, ServerResponse } from 'node:http';

/** Writes a JSON answer unless something was already sent (a failure halfway through a stream). */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

export function sendRetry(response: ServerResponse, status: number, reason: string, retryAfterSeconds: number): void {
  sendJson(response, status, { error: status === 409 ? 'Conflict' : 'Too Many Requests', reason, retryAfterSeconds }, { 'retry-after': String(retryAfterSeconds) });
}

/** `?seconds=` as milliseconds: a positive number up to `maxSeconds`, or an explanation. */
export function parseSeconds(request: IncomingMessage, defaultSeconds: number, maxSeconds: number): { ms: number } | { error: string } {
  const raw = new URL(request.url ?? '/', 'http://localhost').searchParams.get('seconds');
  if (raw === null || raw === '') return { ms: Math.round(defaultSeconds * 1000) };
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) return { error: `seconds must be a positive number (got ${JSON.stringify(raw)})` };
  if (value > maxSeconds) return { error: `seconds must be at most ${maxSeconds} (got ${value})` };
  return { ms: Math.round(value * 1000) };
}

/** A file name that says what, whose and when; safe in a content-disposition header. */
export function downloadName(kind: 'cpu' | 'heap', extension: string, at = new Date()): string {
  return `${kind}-${process.pid}-${at.toISOString().replace(/[:.]/g, '-')}.${extension}`;
}
