import { crypto } from '../../src/lazy-crypto.js';

/**
 * Invalidation across instances: Redis pub/sub, or PostgreSQL LISTEN/NOTIFY with the PostgreSQL L2.
 * Messages carry keys and tags (tables are tags: `@pg:users`) only, never values. A subscriber that was
 * disconnected may have missed messages, so on every reconnect the owner flushes its L1 (`onReconnect`);
 * L1's TTL cap bounds what a missed message can cost meanwhile.
 */
export type BusMessage = { o: string; f: string; a: string[] } | { o: string; t: string[]; at: number };

export interface BusHandlers {
  onMessage(message: BusMessage): void;
  onReconnect(): void;
}

/** One way to carry messages: the store provides it (stores.ts). */
export interface BusTransport {
  /** Larger messages are not sent (an invalidation of thousands of keys at once: tags are the tool for that). */
  readonly maxBytes: number;
  readonly connected: boolean;
  /** Starts listening; `onReconnect` runs after each reconnection (not the first connection). */
  listen(onMessage: (raw: string) => void, onReconnect: () => void): void;
  send(text: string): Promise<unknown>;
  close(): void;
}

const MAX_PENDING = 1000;
const RETRY_MS = 50;
const SEND_TIMEOUT_MS = 2000;

export class Bus {
  readonly id = crypto().randomUUID();

  constructor(
    private readonly transport: BusTransport,
    private readonly handlers: BusHandlers,
  ) {
    transport.listen(
      (raw) => this.receive(raw),
      () => handlers.onReconnect(),
    );
  }

  get connected(): boolean {
    return this.transport.connected;
  }

  /** The message as sent, or undefined when it is too large. */
  encode(message: { f: string; a: string[] } | { t: string[]; at: number }): string | undefined {
    const text = JSON.stringify({ ...message, o: this.id });
    return Buffer.byteLength(text) > this.transport.maxBytes ? undefined : text;
  }

  /** Sends in progress (bounded: past MAX_PENDING a message is dropped, and L1's TTL cap bounds what that costs). */
  private pending = 0;

  /**
   * Sends a message, not through L2's breaker: the breaker opens when L2 reads are slow (a loaded
   * database), and an invalidation silenced then left the other instances serving the old value until
   * their L1 cap ran out (seen as a write taking seconds to converge). A failed send is tried once more.
   */
  publish(text: string): void {
    if (this.pending >= MAX_PENDING) return;
    this.pending++;
    const attempt = (retry: boolean): void => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('bus send timed out')), SEND_TIMEOUT_MS).unref()));
      Promise.race([Promise.resolve().then(() => this.transport.send(text)), timeout])
        .finally(() => clearTimeout(timer))
        .then(
        () => void this.pending--,
        () => {
          if (retry) setTimeout(() => attempt(false), RETRY_MS).unref();
          else this.pending--;
        },
      );
    };
    attempt(true);
  }

  private receive(raw: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(raw) as BusMessage;
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object' || message.o === this.id) return;
    this.handlers.onMessage(message);
  }

  close(): void {
    this.transport.close();
  }
}
