import crypto from 'node:crypto';
import type { RedisLike } from './stores.js';

/**
 * Invalidation across instances through Redis pub/sub. Messages carry keys and tags only, never values.
 * A subscriber that was disconnected may have missed messages, so on every reconnect the owner flushes
 * its L1 (`onReconnect`); L1's TTL cap bounds what a missed message can cost meanwhile.
 */
export type BusMessage = { o: string; f: string; a: string[] } | { o: string; t: string[]; at: number };

export interface BusHandlers {
  onMessage(message: BusMessage): void;
  onReconnect(): void;
  onError(error: unknown): void;
}

/** Messages larger than this are not sent (an invalidation of thousands of keys at once): tags are the tool for that. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export class Bus {
  readonly id = crypto.randomUUID();
  readonly channel: string;
  private readonly subscriber: RedisLike;
  private interrupted = false;
  sent = 0;
  received = 0;

  constructor(
    private readonly publisher: RedisLike,
    prefix: string,
    private readonly handlers: BusHandlers,
  ) {
    this.channel = `${prefix}:bus`;
    this.subscriber = publisher.duplicate();
    this.subscriber.on('error', (error) => {
      this.interrupted = true;
      handlers.onError(error);
    });
    this.subscriber.on('end', () => void (this.interrupted = true));
    this.subscriber.on('ready', () => {
      if (!this.interrupted) return;
      this.interrupted = false;
      handlers.onReconnect();
    });
    this.subscriber.unref();
    this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(this.channel, (raw) => this.receive(raw)))
      .catch(handlers.onError);
  }

  get connected(): boolean {
    return this.subscriber.isReady && !this.interrupted;
  }

  /** Sends through `send`, which the owner bounds with its L2 timeout and breaker. */
  encode(message: Omit<BusMessage, 'o'> & Partial<Pick<BusMessage, 'o'>>): string | undefined {
    const text = JSON.stringify({ ...message, o: this.id });
    return text.length > MAX_MESSAGE_BYTES ? undefined : text;
  }

  private receive(raw: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(raw) as BusMessage;
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object' || message.o === this.id) return;
    this.received++;
    this.handlers.onMessage(message);
  }

  close(): void {
    this.subscriber.destroy();
  }
}
