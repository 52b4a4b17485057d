/**
 * A PostgreSQL LISTEN connection that stays up: its own client (never one of the app's), an error
 * listener so a dropped connection cannot end the host, reconnection with a capped backoff on an unref'd
 * timer, and a callback after each reconnection (notifications sent meanwhile are lost: the owner flushes).
 */
export interface PgClientLike {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown;
  end(): Promise<void>;
  connection?: { stream?: { unref?: () => void } };
}

export type PgClientFactory = () => PgClientLike | Promise<PgClientLike>;

/** The application_name of every connection the cache opens: the table tracker ignores their queries. */
export const OWN_APPLICATION_NAME = 'plandex-perf-cache';

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export class PgListener {
  private client: PgClientLike | undefined;
  private closed = false;
  private everConnected = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  ready = false;

  constructor(
    private readonly make: PgClientFactory,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
    private readonly onReconnect: () => void,
    private readonly onError: (error: unknown) => void,
  ) {
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    let client: PgClientLike | undefined;
    try {
      client = await this.make();
      this.client = client;
      client.on('error', (error) => this.lost(client!, error));
      client.on('end', () => this.lost(client!));
      client.on('notification', (message) => {
        if (message.channel === this.channel && typeof message.payload === 'string') this.onPayload(message.payload);
      });
      await client.connect();
      // The listening socket must not keep the host alive.
      client.connection?.stream?.unref?.();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
      if (this.closed) return void client.end().catch(() => {});
      this.ready = true;
      this.attempts = 0;
      if (this.everConnected) this.onReconnect();
      this.everConnected = true;
    } catch (error) {
      this.onError(error);
      if (client) this.lost(client, error);
      else this.retry();
    }
  }

  private lost(client: PgClientLike, error?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.ready = false;
    if (error !== undefined) this.onError(error);
    client.end().catch(() => {});
    this.retry();
  }

  private retry(): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(100 * 2 ** Math.min(this.attempts++, 6), 5000) + Math.floor(Math.random() * 100);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, delay).unref();
  }

  /** A query on the listening connection (undefined client: rejected, the caller falls back). */
  query(text: string, values: unknown[]): Promise<unknown> {
    const client = this.ready ? this.client : undefined;
    return client === undefined ? Promise.reject(new Error('not listening')) : client.query(text, values);
  }

  close(): void {
    this.closed = true;
    this.ready = false;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
  }
}
