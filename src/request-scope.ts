import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The HTTP request a piece of work belongs to, so a query can be tied to its route (slow-query log,
 * N+1 detection) without the app passing anything. The http plugin enters a scope per request; other
 * plugins read it and hang their per-request data and end-of-request checks on it.
 */
export interface RequestScope {
  /** The route as known at the time of the call (final once the response has finished). */
  route(): string | undefined;
  /** Per-plugin data for this request, keyed by the plugin's own symbol. */
  readonly data: Map<symbol, unknown>;
  /** Runs once when the response finishes, with the final route. */
  onFinish(fn: (route: string | undefined) => void): void;
}

const storage = new AsyncLocalStorage<RequestScope>();
let enabled = false;

export const requestScope = {
  /** True once some plugin asked for request scopes: the http plugin enters none otherwise. */
  get enabled(): boolean {
    return enabled;
  },
  enable(): void {
    enabled = true;
  },
  current(): RequestScope | undefined {
    return enabled ? storage.getStore() : undefined;
  },
  /** Runs `fn` with `scope` as the current request scope (or none). */
  run<T>(scope: RequestScope | undefined, fn: () => T): T {
    return scope === undefined ? storage.exit(fn) : storage.run(scope, fn);
  },
  /** Enters `scope` for the rest of this synchronous run and its async continuations. */
  enter(scope: RequestScope): void {
    storage.enterWith(scope);
  },
};
