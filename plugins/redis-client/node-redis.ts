import { fileURLToPath } from 'node:url';
import type { PluginContext } from '../../src/plugin.js';
import type { ClientRegistry } from './clients.js';
import { commandLabel } from './commands.js';
import type { Recorder } from './recorder.js';
import * as sc from './semconv.js';

interface Queue {
  addCommand(this: Queue, args: unknown[], options?: unknown): unknown;
}
interface NodeRedisClient {
  _self?: NodeRedisClient;
  isOpen?: boolean;
  isReady?: boolean;
  _getQueue?(): unknown;
  connect(this: NodeRedisClient, ...args: unknown[]): unknown;
  sendCommand?(this: NodeRedisClient, args: unknown[], options?: unknown): unknown;
}

export function nodeRedisState(client: object): sc.ClientState {
  const c = client as NodeRedisClient;
  return c.isReady ? 'ready' : c.isOpen ? 'connecting' : 'closed';
}

/** State shared by the two hooked files of one process: which queues and clients are the preload's own. */
export interface NodeRedisState {
  own: WeakSet<object>;
  ownCount: number;
  /** Set by the queue's wrapper while `sendCommand` runs, to tell a command that reached the queue from one refused before it. */
  queued: boolean;
  patched: WeakSet<object>;
}

/**
 * node-redis v4 (`@redis/client` 1.x), v5 and v6: every command that is sent (single, `MULTI`/`EXEC`
 * and the commands inside, pipelines, the connection handshake) is added to the client's command queue
 * (`RedisCommandsQueue.prototype.addCommand`), whose promise settles with the reply. v4 binds its
 * command methods to a private executor when the module loads, so the queue is the one place all
 * versions share.
 */
export function instrumentQueue(exports: unknown, patch: PluginContext['patch'], recorder: Recorder, state: NodeRedisState): void {
  const proto = (exports as { default?: { prototype?: Queue } } | null)?.default?.prototype;
  if (!proto || typeof proto.addCommand !== 'function' || state.patched.has(proto)) return;
  state.patched.add(proto);
  patch(proto, 'addCommand', (original) =>
    function addCommand(this: Queue, args: unknown[], options?: unknown): unknown {
      state.queued = true;
      if (!recorder.active || (state.ownCount > 0 && state.own.has(this)) || !Array.isArray(args)) return original.call(this, args, options);
      const operation = commandLabel(args[0]);
      const started = performance.now();
      const result = original.call(this, args, options);
      if (result instanceof Promise) result.then(() => recorder.record(operation, started, undefined), (error: unknown) => recorder.record(operation, started, error ?? sc.OTHER));
      return result;
    },
  );
}

/**
 * The client class: `connect` to follow the client's state (and to tell the preload's own clients, the
 * cache's, from the app's), and in v5+ `sendCommand` for the commands refused before they reach the
 * queue (a closed client, or an offline one with `disableOfflineQueue`), which are errors the app sees.
 */
export function instrumentClient(exports: unknown, patch: PluginContext['patch'], recorder: Recorder, registry: ClientRegistry, state: NodeRedisState): void {
  const proto = (exports as { default?: { prototype?: NodeRedisClient } } | null)?.default?.prototype;
  if (!proto || typeof proto.connect !== 'function' || state.patched.has(proto)) return;
  state.patched.add(proto);
  patch(proto, 'connect', (original) =>
    function connect(this: NodeRedisClient, ...args: unknown[]): unknown {
      const self = this._self ?? this;
      if (!state.own.has(self)) {
        if (calledFromPreload(connect)) {
          state.own.add(self);
          const queue = typeof self._getQueue === 'function' ? self._getQueue() : undefined;
          if (queue && typeof queue === 'object') state.own.add(queue);
          state.ownCount++;
        } else registry.add(self, sc.LIBRARY_NODE_REDIS, nodeRedisState);
      }
      return original.apply(this, args);
    },
  );
  // v4's public sendCommand reaches the same private path as its command methods; its refusals are not seen.
  if (typeof proto.sendCommand !== 'function' || typeof proto._getQueue !== 'function') return;
  patch(proto, 'sendCommand' as keyof NodeRedisClient, (original) =>
    function sendCommand(this: NodeRedisClient, args: unknown[], options?: unknown): unknown {
      const send = original as (this: NodeRedisClient, args: unknown[], options?: unknown) => unknown;
      if (!recorder.active) return send.call(this, args, options);
      const started = performance.now();
      state.queued = false;
      const result = send.call(this, args, options);
      const refused = !state.queued;
      state.queued = false;
      if (refused && result instanceof Promise && !(state.ownCount > 0 && state.own.has(this._self ?? this))) {
        const operation = commandLabel(Array.isArray(args) ? args[0] : undefined);
        result.then(undefined, (error: unknown) => recorder.record(operation, started, error ?? sc.OTHER));
      }
      return result;
    } as NodeRedisClient[keyof NodeRedisClient],
  );
}

/**
 * The preload's own files: the folder of the built package (`dist/`), whether bundled (dist/register.js)
 * or not. Undefined when running from source (tests), where no client is the preload's.
 */
const ownDir = (() => {
  try {
    const file = fileURLToPath(import.meta.url);
    const at = file.lastIndexOf('/dist/');
    return at === -1 ? undefined : file.slice(0, at + '/dist/'.length);
  } catch {
    return undefined;
  }
})();

/**
 * Whether the code that called `connect` is the preload's (the cache plugin's store and bus), not the
 * app's: the first stack frame outside node_modules (the cache connects through @keyv/redis) and past
 * the patch wrapper. Runs once per client, on connect.
 */
export function calledFromPreload(below: (...args: never[]) => unknown, dir: string | undefined = ownDir): boolean {
  if (dir === undefined) return false;
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  try {
    Error.captureStackTrace(holder, below);
  } finally {
    Error.stackTraceLimit = limit;
  }
  // Line 0 is the message; line 1 is src/patch.ts's pass-through, which always calls our wrapper.
  const frames = (holder.stack ?? '').split('\n').slice(2);
  for (const frame of frames) {
    if (frame.includes('/node_modules/') || frame.includes('(node:') || frame.includes('at node:')) continue;
    return frame.includes(dir);
  }
  return false;
}
