import type { Attributes, Histogram, Counter } from '@opentelemetry/api';
import { PerfError } from '../../src/errors.js';
import type { log as Log } from '../../src/log.js';
import * as sc from './semconv.js';

/** The parts of generic-pool we rely on (v3). */
export interface Factory<T> {
  create(): Promise<T>;
  destroy(resource: T): Promise<void>;
  validate?(resource: T): Promise<boolean>;
}
export interface GenericPool<T> {
  size: number;
  available: number;
  borrowed: number;
  pending: number;
  max: number;
  min: number;
  acquire(priority?: number): Promise<T>;
  release(resource: T): Promise<void>;
  destroy(resource: T): Promise<void>;
  drain(): Promise<void>;
  clear(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
export type CreatePool = <T>(factory: Factory<T>, options?: Record<string, unknown>) => GenericPool<T>;

export interface GuardDefaults {
  max: number;
  min: number;
  acquireTimeoutMillis: number;
  maxWaitingClients: number;
  evictionRunIntervalMillis: number;
  idleTimeoutMillis: number;
  createBackoffMs: number;
  createBackoffMaxMs: number;
  leakDetectionMs: number;
}

export interface GuardInstruments {
  acquireDuration: Histogram;
  createErrors: Counter;
  leaked: Counter;
  log: typeof Log;
}

interface Waiter {
  reject: (error: unknown) => void;
  abandoned: boolean;
}
interface Borrow {
  at: number;
  site: { stack?: string } | undefined;
  warned: boolean;
}

export interface GuardedPool<T> {
  name: string;
  pool: GenericPool<T>;
  borrowed: Map<T, Borrow>;
  attributes: Attributes;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Builds a generic-pool pool with its known traps fixed: a default acquire timeout, a bounded wait queue,
 * eviction that actually runs, a create back-off instead of a busy loop, and a failing `create` whose
 * error reaches the waiting acquirers instead of leaving them to time out. The app's own options win.
 */
export function guardedPool<T>(createPool: CreatePool, name: string, factory: Factory<T>, options: Record<string, unknown>, defaults: GuardDefaults, instruments: GuardInstruments): GuardedPool<T> {
  const attributes: Attributes = { [sc.ATTR_POOL_NAME]: name };
  const config: Record<string, unknown> = { ...options };
  for (const key of ['max', 'min', 'acquireTimeoutMillis', 'maxWaitingClients', 'evictionRunIntervalMillis', 'idleTimeoutMillis'] as const) {
    config[key] ??= defaults[key];
  }
  if (typeof config.min === 'number' && typeof config.max === 'number' && config.min > config.max) config.min = config.max;

  let failures = 0;
  let nextAttemptAt = 0;
  let lastError: PerfError | undefined;
  const waiters = new Set<Waiter>();
  let pool: GenericPool<T> | undefined;

  const failWaiters = (error: unknown): void => {
    if (!pool || pool.available > 0) return;
    const coded = new PerfError('PPERF_ERR_POOL_CREATE', `pool "${name}": creating a resource failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    lastError = coded;
    for (const waiter of waiters) {
      waiter.abandoned = true;
      waiter.reject(coded);
    }
    waiters.clear();
  };

  const guarded: Factory<T> = {
    async create() {
      const wait = nextAttemptAt - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        const resource = await factory.create();
        failures = 0;
        nextAttemptAt = 0;
        lastError = undefined;
        return resource;
      } catch (error) {
        failures++;
        nextAttemptAt = Date.now() + Math.min(defaults.createBackoffMaxMs, defaults.createBackoffMs * 2 ** (failures - 1));
        instruments.createErrors.add(1, attributes);
        instruments.log.once(`object-pool:create:${name}`, 'error', 'PPERF_ERR_POOL_CREATE', `pool "${name}": the factory's create failed; retrying with back-off (logged once)`, {
          error: error instanceof Error ? error.message : String(error),
        });
        failWaiters(error);
        throw error;
      }
    },
    destroy: (resource) => factory.destroy(resource),
    ...(factory.validate ? { validate: (resource: T) => factory.validate!(resource) } : {}),
  };

  pool = createPool(guarded, config);
  const borrowed = new Map<T, Borrow>();
  const acquire = pool.acquire.bind(pool);
  const release = pool.release.bind(pool);
  const destroy = pool.destroy.bind(pool);
  const target = pool;

  target.acquire = function guardedAcquire(priority?: number): Promise<T> {
    const started = performance.now();
    let site: { stack?: string } | undefined;
    if (defaults.leakDetectionMs > 0) {
      site = {};
      Error.captureStackTrace(site, guardedAcquire);
    }
    // While creation backs off and nothing is idle, fail fast with the create error rather than fill the
    // queue with requests that cannot be served; once the back-off has passed, one request goes through
    // and triggers the next attempt.
    if (failures > 0 && lastError && target.available === 0 && Date.now() < nextAttemptAt) return Promise.reject(lastError);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = { reject, abandoned: false };
      waiters.add(waiter);
      acquire(priority).then(
        (resource) => {
          waiters.delete(waiter);
          if (waiter.abandoned) {
            release(resource).catch(() => {});
            return;
          }
          instruments.acquireDuration.record((performance.now() - started) / 1000, attributes);
          borrowed.set(resource, { at: performance.now(), site, warned: false });
          resolve(resource);
        },
        (error: unknown) => {
          waiters.delete(waiter);
          if (!waiter.abandoned) reject(codeError(error, name));
        },
      );
    });
  };
  target.release = (resource: T) => {
    borrowed.delete(resource);
    return release(resource);
  };
  target.destroy = (resource: T) => {
    borrowed.delete(resource);
    return destroy(resource);
  };
  return { name, pool: target, borrowed, attributes };
}

/** generic-pool's own errors get a stable code; the message stays its own. */
function codeError(error: unknown, name: string): unknown {
  if (!(error instanceof Error)) return error;
  const coded = error as Error & { code?: string; pool?: string };
  if (coded.name === 'TimeoutError' || /timed out/i.test(coded.message)) coded.code ??= 'PPERF_ERR_POOL_TIMEOUT';
  else if (/max waitingClients/i.test(coded.message)) coded.code ??= 'PPERF_ERR_POOL_QUEUE_FULL';
  coded.pool ??= name;
  return coded;
}
