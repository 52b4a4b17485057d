import net from 'node:net';
import type { Snapshot } from './merge.js';
import { decodeWelcome, encodeHeader, HELLO_HEADER, PROTOCOL, readLines, send, UPGRADE_PATH, type Hello, type Welcome } from './wire.js';

export type FollowResult =
  | { kind: 'following'; welcome: Welcome }
  /** Nobody listens (the leader just left): elect again. */
  | { kind: 'refused' }
  /** A leader of another service, or something that is not a leader at all: the port is really taken. */
  | { kind: 'taken'; reason: string };

export interface FollowerOptions {
  host: string;
  port: number;
  hello: Hello;
  collect: () => Promise<Snapshot>;
  /** Called once when the connection ends without our asking. */
  onLost: () => void;
  handshakeTimeoutMs: number;
}

/** The host to dial for a wildcard bind. */
export function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[|\]$/g, '');
}

/**
 * A process that found the metrics port held by a leader of the same app: it opens no port, answers
 * the leader's `collect` requests with its own reader's data, and nothing else. Its socket is unref'd,
 * so it never keeps the process alive nor delays its exit.
 */
export class Follower {
  private socket: net.Socket | undefined;
  private closing = false;
  /** Totals the leader handed over, should this process be its successor. */
  baseline: { term: string; data: Snapshot } | undefined;
  welcome: Welcome | undefined;

  constructor(private readonly options: FollowerOptions) {}

  connect(inherit?: { term: string; data: Snapshot }): Promise<FollowResult> {
    const { host, port, hello, handshakeTimeoutMs } = this.options;
    return new Promise((resolve) => {
      const socket = net.connect({ host: dialHost(host), port });
      socket.unref();
      socket.setNoDelay(true);
      let settled = false;
      const done = (result: FollowResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (result.kind !== 'following') socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => done({ kind: 'taken', reason: `no answer to the cluster handshake within ${handshakeTimeoutMs} ms` }), handshakeTimeoutMs);
      timer.unref();
      socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' ? { kind: 'refused' } : { kind: 'taken', reason: error.message }));
      socket.once('close', () => done({ kind: 'refused' }));
      socket.write(
        `GET ${UPGRADE_PATH} HTTP/1.1\r\nhost: ${host}:${port}\r\nconnection: Upgrade\r\nupgrade: ${PROTOCOL}\r\n${HELLO_HEADER}: ${encodeHeader(hello)}\r\n\r\n`,
      );
      let head = Buffer.alloc(0);
      const onHead = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > 8192) done({ kind: 'taken', reason: 'the port answers with something else than a plandex-perf leader' });
          return;
        }
        socket.removeListener('data', onHead);
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const status = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
        const welcomeHeader = lines.find((l) => l.toLowerCase().startsWith(`${HELLO_HEADER}:`))?.slice(HELLO_HEADER.length + 1).trim();
        const welcome = decodeWelcome(welcomeHeader);
        if (status?.[1] === '409') return done({ kind: 'taken', reason: `held by the metrics of another service (${decodeURIComponent(status[2]?.replace(/^Conflict: service /, '') ?? '')})` });
        if (status?.[1] === '503') return done({ kind: 'taken', reason: 'its leader has as many followers as it accepts' });
        if (status?.[1] !== '101' || !welcome) return done({ kind: 'taken', reason: `the port answers${status ? ` ${status[1]}` : ''} to the cluster handshake: not a plandex-perf leader` });
        this.attach(socket, welcome, head.subarray(end + 4));
        if (inherit) send(socket, { t: 'inherit', term: inherit.term, data: inherit.data });
        done({ kind: 'following', welcome });
      };
      socket.on('data', onHead);
    });
  }

  private attach(socket: net.Socket, welcome: Welcome, rest: Buffer): void {
    this.socket = socket;
    this.welcome = welcome;
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    socket.on('error', () => {});
    readLines(socket, rest, (message) => {
      if (message.t === 'collect' && typeof message.id === 'number') {
        const id = message.id;
        this.options.collect().then(
          (data) => send(socket, { t: 'metrics', id, data }),
          () => {},
        );
      } else if (message.t === 'baseline' && typeof message.term === 'string' && Array.isArray(message.data)) {
        this.baseline = { term: message.term, data: message.data as Snapshot };
      } else if (message.t === 'drop') {
        this.baseline = undefined;
      }
    });
    socket.once('end', () => socket.destroy());
    socket.once('close', () => {
      if (this.socket === socket) this.socket = undefined;
      if (!this.closing) this.options.onLost();
    });
  }

  /** Sends a fresh snapshot unasked: a host that handles SIGTERM itself may exit right after our flush. */
  async push(timeoutMs: number): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([this.options.collect().then((data) => void send(socket, { t: 'push', data }), () => {}), bound]);
    clearTimeout(timer);
  }

  /** Leaves: sends a last snapshot when it can within `timeoutMs` (a graceful exit loses no count). */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const socket = this.socket;
    if (!socket) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([this.options.collect().then((data) => void send(socket, { t: 'bye', data }), () => {}), bound]);
    clearTimeout(timer);
    socket.end();
  }
}
