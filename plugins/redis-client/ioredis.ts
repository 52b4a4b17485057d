import type { PluginContext } from '../../src/plugin.js';
import type { ClientRegistry } from './clients.js';
import { commandLabel } from './commands.js';
import type { Recorder } from './recorder.js';
import * as sc from './semconv.js';

/** Set on a command the first time it passes: ioredis sends a command through `sendCommand` again after a reconnect or from its offline queue. */
const kSeen = Symbol('plandex-perf.redis-client.seen');

interface IoCommand {
  name?: unknown;
  promise?: Promise<unknown>;
  [kSeen]?: true;
}
interface IoRedis {
  status?: string;
  sendCommand(this: IoRedis, command: IoCommand, stream?: unknown): unknown;
  connect(this: IoRedis, ...args: unknown[]): unknown;
}

export function ioredisState(client: object): sc.ClientState {
  const status = (client as IoRedis).status;
  if (status === 'ready' || status === 'monitoring') return 'ready';
  if (status === 'connecting' || status === 'connect' || status === 'reconnecting') return 'connecting';
  return 'closed'; // wait (lazyConnect, not yet connected), close, end
}

/**
 * ioredis 5: every command, pipelined and transactional ones included, goes through
 * `Redis.prototype.sendCommand(command)` and settles `command.promise`. Cluster nodes are Redis
 * instances too, so a cluster's commands are counted once, on the node that served them.
 */
export function instrumentIoredis(exports: unknown, patch: PluginContext['patch'], recorder: Recorder, registry: ClientRegistry, patched: WeakSet<object>): void {
  const proto = (exports as { prototype?: IoRedis } | null)?.prototype;
  if (!proto || typeof proto.sendCommand !== 'function' || typeof proto.connect !== 'function' || patched.has(proto)) return;
  patched.add(proto);
  patch(proto, 'sendCommand', (original) =>
    function sendCommand(this: IoRedis, command: IoCommand, stream?: unknown): unknown {
      if (!command || command[kSeen] || !recorder.active) return original.call(this, command, stream);
      command[kSeen] = true;
      const operation = commandLabel(command.name);
      const started = performance.now();
      const result = original.call(this, command, stream);
      const promise = command.promise;
      if (promise && typeof promise.then === 'function') {
        promise.then(
          () => recorder.record(operation, started, undefined),
          (error: unknown) => recorder.record(operation, started, error ?? sc.OTHER),
        );
      }
      return result;
    },
  );
  patch(proto, 'connect', (original) =>
    function connect(this: IoRedis, ...args: unknown[]): unknown {
      registry.add(this, sc.LIBRARY_IOREDIS, ioredisState);
      return original.apply(this, args);
    },
  );
}
