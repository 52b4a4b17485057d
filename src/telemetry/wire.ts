import type { Socket } from 'node:net';
import type { Snapshot } from './merge.js';

/**
 * The leader–follower protocol: an HTTP Upgrade on the metrics server itself (so there is one port to
 * configure and no socket file to clean up), then one JSON message per line, both ways.
 */
export const PROTOCOL = 'plandex-perf-cluster/1';
export const UPGRADE_PATH = '/.plandex-perf/cluster';
/** Header carrying a base64url JSON `Hello` (follower → leader) or `Welcome` (leader → follower). */
export const HELLO_HEADER = 'x-plandex-perf-hello';
/** A snapshot holds bounded label sets; a line this long is a bug or an attack, and closes the connection. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface Hello {
  service: string;
  pid: number;
  ppid: number;
  /** pid plus start time: tells a reconnecting process from a new one that reuses the pid. */
  identity: string;
  role: ProcessRole;
  /** PM2's `NODE_APP_INSTANCE`, when set. */
  instance?: string;
}
export interface Welcome {
  pid: number;
  /** Random per leader term: a follower hands inherited totals over once, never back to their source. */
  term: string;
  slot: number;
}
export type ProcessRole = 'pm2-instance' | 'cluster-worker' | 'cluster-primary' | 'process';

export type ToFollower = { t: 'collect'; id: number } | { t: 'baseline'; term: string; data: Snapshot } | { t: 'drop' };
export type ToLeader = { t: 'metrics'; id: number; data: Snapshot } | { t: 'push'; data: Snapshot } | { t: 'bye'; data: Snapshot } | { t: 'inherit'; term: string; data: Snapshot };

export function encodeHeader(value: Hello | Welcome): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeHello(raw: unknown): Hello | undefined {
  const value = decode(raw);
  if (!value || typeof value.service !== 'string' || typeof value.identity !== 'string' || !Number.isInteger(value.pid) || !Number.isInteger(value.ppid)) return undefined;
  return value as unknown as Hello;
}

export function decodeWelcome(raw: unknown): Welcome | undefined {
  const value = decode(raw);
  if (!value || !Number.isInteger(value.pid) || typeof value.term !== 'string' || !Number.isInteger(value.slot)) return undefined;
  return value as unknown as Welcome;
}

function decode(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'string' || raw.length > 4096) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Loopback, or the connection comes from this host's own address (a metrics server bound to one interface). */
export function isLocal(remote: string | undefined, local: string | undefined): boolean {
  if (!remote) return false;
  const address = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
  return address === '::1' || address.startsWith('127.') || remote === local;
}

export function send(socket: Socket, message: ToFollower | ToLeader): boolean {
  if (socket.destroyed || !socket.writable) return false;
  return socket.write(`${JSON.stringify(message)}\n`);
}

/** Feeds complete lines of `socket` to `onMessage`; a line over the bound or bad JSON destroys the socket. */
export function readLines(socket: Socket, head: Buffer, onMessage: (message: Record<string, unknown>) => void): void {
  let chunks: Buffer[] = [];
  let size = 0;
  const feed = (chunk: Buffer): void => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      chunks.push(chunk.subarray(start, nl));
      const line = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      size = 0;
      start = nl + 1;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      if (message && typeof message === 'object') onMessage(message as Record<string, unknown>);
    }
    if (start < chunk.length) {
      size += chunk.length - start;
      if (size > MAX_LINE_BYTES) {
        socket.destroy();
        return;
      }
      chunks.push(chunk.subarray(start));
    }
  };
  if (head.length > 0) feed(head);
  socket.on('data', feed);
}
