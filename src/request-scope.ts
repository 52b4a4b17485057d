import { AsyncLocalStorage } from 'node:async_hooks';
import { keepAcrossQueues } from './async-context.js';

/**
 * The HTTP request a piece of work belongs to, so a query can be tied to its route (slow-query log,
 * N+1 detection) without the app passing anything. The http plugin enters a scope per request; other
 * plugins read it and hang their per-request data and end-of-request checks on it.
 */
export interface RequestScope {
  /** The route as known at the time of the call (final once the response has finished). */
  route(): string | undefined;
  /** Per-plugin data for this request, keyed by the plugin's own symbol. */
  get(key: symbol): unknown;
  set(key: symbol, value: unknown): void;
  /** Runs once when the response finishes, with the final route. */
  onFinish(fn: (route: string | undefined) => void): void;
}

type Finisher = (route: string | undefined) => void;

/**
 * The scope of one HTTP request, as `requestScope.open()` makes it: one object per request. Its data and its
 * end-of-request checks take fields for the first entry and a Map or an array only from the second: most
 * requests run no query, and those that do have one plugin's data (pg-pool's query counts) and one check.
 *
 * It holds the request strongly until `finish()`, then lets go of it. Async resources born during the request
 * (a pooled connection opened by it, keep-alive timers) capture the scope and outlive the request, so the scope
 * must not keep the request/response/socket graph alive after the response. A `WeakRef` did that job before,
 * but V8's scavenger treats a WeakRef's target as strong: every in-flight request's graph then survived each
 * young-generation collection, was copied and promoted, and V8 grew the young generation to its maximum.
 */
export class HttpRequestScope<R extends object> implements RequestScope {
  #request: R | undefined;
  readonly #routeOf: (request: R) => string | undefined;
  #route: string | undefined;
  #finished = false;
  #firstKey: symbol | undefined;
  #firstValue: unknown;
  #more: Map<symbol, unknown> | undefined;
  #finisher: Finisher | undefined;
  #finishers: Finisher[] | undefined;

  constructor(request: R, routeOf: (request: R) => string | undefined) {
    this.#request = request;
    this.#routeOf = routeOf;
  }

  route(): string | undefined {
    return this.#request === undefined ? this.#route : this.#routeOf(this.#request);
  }

  get(key: symbol): unknown {
    return key === this.#firstKey ? this.#firstValue : this.#more?.get(key);
  }

  set(key: symbol, value: unknown): void {
    if (this.#finished) return; // the request is over: nothing is kept past it
    if (this.#firstKey === undefined || this.#firstKey === key) {
      this.#firstKey = key;
      this.#firstValue = value;
    } else {
      (this.#more ??= new Map()).set(key, value);
    }
  }

  onFinish(fn: Finisher): void {
    // After the response, a late query's check would never run: not kept, so nothing accumulates.
    if (this.#finished) return;
    if (this.#finisher === undefined) this.#finisher = fn;
    else (this.#finishers ??= []).push(fn);
  }

  /** The response finished: runs the end-of-request checks with the final route, then drops the request and the data. */
  finish(route: string | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#route = route;
    this.#request = undefined;
    const first = this.#finisher;
    const finishers = this.#finishers;
    this.#finisher = undefined;
    this.#finishers = undefined;
    this.#firstKey = undefined;
    this.#firstValue = undefined;
    this.#more = undefined;
    if (first) first(route);
    if (finishers) for (const fn of finishers) fn(route);
  }
}

const storage = new AsyncLocalStorage<RequestScope>();
let enabled = false;

export const requestScope = {
  /** True once some plugin asked for request scopes: the http plugin enters none otherwise. */
  get enabled(): boolean {
    return enabled;
  },
  enable(): void {
    if (enabled) return;
    enabled = true;
    // A query parked in a pool's queue must stay tied to the request that issued it.
    keepAcrossQueues({ current: () => storage.getStore(), run: (scope, fn) => (scope === undefined ? storage.exit(fn) : storage.run(scope, fn)) });
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
  /** Makes the scope of `request` and enters it (see HttpRequestScope); call its `finish()` when the response finishes. */
  open<R extends object>(request: R, routeOf: (request: R) => string | undefined): HttpRequestScope<R> {
    const scope = new HttpRequestScope(request, routeOf);
    storage.enterWith(scope);
    return scope;
  },
};
