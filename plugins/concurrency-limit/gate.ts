import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PluginContext } from '../../src/plugin.js';
import type { GradientLimit, LimitChange } from './limit.js';
import { WaitQueue, type Waiting } from './queue.js';

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

interface Held {
  server: unknown;
  original: Emit;
  request: IncomingMessage;
  response: ServerResponse;
  /** The async context the request arrived in (the http plugin's span and scope), to run the app in. */
  run: <R>(fn: () => R) => R;
  onClose: () => void;
}

export interface GateOptions {
  limiter: GradientLimit;
  now: () => number;
  queueRatio: number;
  maxQueueWaitMs: number;
  retryAfterSeconds: number;
  notReadyMs: number;
  isExempt: (url: string) => boolean;
  isReadiness: (url: string) => boolean;
  isOwnServer: (server: unknown) => boolean;
  onChange: (change: LimitChange) => void;
  onReject: (reason: 'queue_full' | 'queue_timeout') => void;
  onWait: (seconds: number, outcome: 'admitted' | 'rejected' | 'abandoned') => void;
}

export interface Gate {
  queued(): number;
  close(): void;
}

const overloaded = JSON.stringify({ error: 'Service Unavailable', reason: 'the server is at its concurrency limit' });
const notReady = JSON.stringify({ status: 'not ready', reason: 'the server is rejecting requests over its concurrency limit' });

/**
 * Admission in front of the app: a request runs when the limiter has a slot, waits in the bounded FIFO when
 * it has none, and gets 503 + `Retry-After` when the FIFO is full or the wait runs out. Held before the app's
 * 'request' listener (as heap-budget's shedder is), by wrapping `Server.prototype.emit` through `ctx.patch`,
 * so closing the plugin restores it. Exempt paths and the preload's own servers always pass.
 */
export function installGate(ctx: Pick<PluginContext, 'patch' | 'onBuiltinLoad'>, o: GateOptions): Gate {
  const queue = new WaitQueue<Held>(() => Math.ceil(o.limiter.limit * o.queueRatio), o.maxQueueWaitMs, o.now);
  let lastRejectAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const answer = (request: IncomingMessage, response: ServerResponse, body: string): void => {
    try {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': String(o.retryAfterSeconds) });
      response.end(body);
      request.resume(); // drain any body so the connection can be reused
    } catch {
      response.destroy();
    }
  };

  const reject = (request: IncomingMessage, response: ServerResponse, reason: 'queue_full' | 'queue_timeout'): void => {
    lastRejectAt = o.now();
    answer(request, response, overloaded);
    o.onReject(reason);
  };

  /** Watches an admitted request and gives its slot back once, with a sample only for a finished, non-5xx answer. */
  const track = (response: ServerResponse): void => {
    const admittedAt = o.now();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      response.off('finish', finish);
      response.off('close', finish);
      // A 5xx is often an early answer (another shedder, a failed dependency): its time says nothing about capacity.
      const sample = response.writableFinished && response.statusCode < 500 ? o.now() - admittedAt : undefined;
      const change = o.limiter.release(sample);
      if (change) o.onChange(change);
      pump();
    };
    response.once('finish', finish);
    response.once('close', finish);
  };

  const runApp = (held: Pick<Held, 'server' | 'original' | 'request' | 'response'>, call: <R>(fn: () => R) => R = (fn) => fn()): void => {
    track(held.response);
    try {
      call(() => held.original.call(held.server, 'request', held.request, held.response));
    } catch (error) {
      // Thrown by the app's own listener: rethrown where it would have surfaced bare (an uncaught exception),
      // not into whichever response's 'finish' happened to free the slot.
      process.nextTick(() => {
        throw error;
      });
    }
  };

  /** Hands free slots to the oldest waiting requests. */
  const pump = (): void => {
    while (queue.size > 0 && o.limiter.inFlight < o.limiter.limit) {
      const next = queue.shift();
      if (!next) break;
      const held = next.entry.item;
      held.response.off('close', held.onClose);
      if (held.response.destroyed || held.request.destroyed) {
        o.onWait(next.waitedMs / 1000, 'abandoned');
        continue;
      }
      o.limiter.tryAcquire();
      o.onWait(next.waitedMs / 1000, 'admitted');
      runApp(held, held.run);
    }
  };

  /**
   * One timer, for the oldest waiter's deadline, armed only when none is: a timer that fires after its
   * waiter has left finds nothing to expire and re-arms for the new head. So admissions never touch timers.
   */
  const arm = (): void => {
    if (timer || closed) return;
    const deadline = queue.nextDeadline();
    if (deadline === undefined) return;
    timer = setTimeout(expire, Math.max(1, Math.ceil(deadline - o.now()))).unref();
  };

  const expire = (): void => {
    timer = undefined;
    for (const entry of queue.expire()) {
      const held = entry.item;
      held.response.off('close', held.onClose);
      o.onWait((o.now() - entry.enqueuedAt) / 1000, 'rejected');
      reject(held.request, held.response, 'queue_timeout');
    }
    arm();
  };

  const wrap =
    (original: Emit): Emit =>
    function emit(this: unknown, event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'request' || closed || o.isOwnServer(this)) return original.call(this, event, ...args);
      const request = args[0] as IncomingMessage;
      const response = args[1] as ServerResponse;
      const url = request.url ?? '/';
      if (o.isExempt(url)) return original.call(this, event, ...args);
      if (o.isReadiness(url)) {
        if (o.notReadyMs > 0 && o.now() - lastRejectAt < o.notReadyMs) {
          answer(request, response, notReady);
          return true;
        }
        return original.call(this, event, ...args);
      }
      if (o.limiter.tryAcquire()) {
        runApp({ server: this, original, request, response });
        return true;
      }
      const held: Held = {
        server: this,
        original,
        request,
        response,
        run: AsyncLocalStorage.snapshot(),
        onClose: () => {
          if (queue.remove(entry!)) o.onWait((o.now() - entry!.enqueuedAt) / 1000, 'abandoned');
        },
      };
      const entry: Waiting<Held> | undefined = queue.push(held);
      if (!entry) {
        reject(request, response, 'queue_full');
        return true;
      }
      response.once('close', held.onClose); // the client went away while waiting
      arm();
      return true;
    };

  ctx.patch(http.Server.prototype as unknown as { emit: Emit }, 'emit', wrap);
  // https servers too, once the host loads node:https (loading it here would cost every host TLS's start-up).
  ctx.onBuiltinLoad('https', (https: unknown) => void ctx.patch((https as typeof import('node:https')).Server.prototype as unknown as { emit: Emit }, 'emit', wrap));

  return {
    queued: () => queue.size,
    close() {
      // The patches are undone by the host. Waiting requests are handed to the app rather than dropped.
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const entry of queue.drain()) {
        const held = entry.item;
        held.response.off('close', held.onClose);
        if (!held.response.destroyed) held.run(() => held.original.call(held.server, 'request', held.request, held.response));
      }
    },
  };
}
