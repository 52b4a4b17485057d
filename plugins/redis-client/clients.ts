import type { ObservableGauge, ObservableResult } from '@opentelemetry/api';
import * as sc from './semconv.js';

type Library = typeof sc.LIBRARY_IOREDIS | typeof sc.LIBRARY_NODE_REDIS;

/**
 * The Redis clients the app has connected, held weakly (a client the app drops is not kept alive for a
 * gauge) and bounded. Read at collection time only: nothing runs per command.
 */
export class ClientRegistry {
  private readonly clients: { ref: WeakRef<object>; library: Library; state: (client: object) => sc.ClientState }[] = [];
  private readonly known = new WeakSet<object>();
  private readonly libraries = new Set<Library>();

  constructor(
    private readonly max: number,
    private readonly onFull: () => void,
  ) {}

  add(client: object, library: Library, state: (client: object) => sc.ClientState): void {
    if (this.known.has(client)) return;
    this.known.add(client);
    this.prune();
    if (this.clients.length >= this.max) return this.onFull();
    this.clients.push({ ref: new WeakRef(client), library, state });
    this.libraries.add(library);
  }

  /** Counts by library and state; every state of a library in use is reported, zeros included, so series do not come and go. */
  observe = (result: ObservableResult): void => {
    const counts = new Map<string, number>();
    for (const library of this.libraries) for (const state of sc.CLIENT_STATES) counts.set(`${library} ${state}`, 0);
    this.prune();
    for (const { ref, library, state } of this.clients) {
      const client = ref.deref();
      if (!client) continue;
      let value: sc.ClientState;
      try {
        value = state(client);
      } catch {
        continue;
      }
      const key = `${library} ${value}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, count] of counts) {
      const [library, state] = key.split(' ') as [string, string];
      result.observe(count, { [sc.ATTR_DB_SYSTEM_NAME]: sc.DB_SYSTEM_REDIS, [sc.ATTR_REDIS_CLIENT_LIBRARY]: library, [sc.ATTR_REDIS_CLIENT_STATE]: state });
    }
  };

  attach(gauge: ObservableGauge): () => void {
    gauge.addCallback(this.observe);
    return () => gauge.removeCallback(this.observe);
  }

  private prune(): void {
    for (let i = this.clients.length - 1; i >= 0; i--) if (this.clients[i]!.ref.deref() === undefined) this.clients.splice(i, 1);
  }
}
