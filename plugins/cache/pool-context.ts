import { AsyncResource } from 'node:async_hooks';
import type { PluginContext } from '../../src/plugin.js';

type Connect = (this: unknown, callback?: unknown) => unknown;

/**
 * pg-pool hands a client to a waiting `pool.query()` from inside the release of another one, so the
 * query would start in the async context of whoever released, and its tables would be recorded against
 * the wrong cached call (or none). Binding the callback `pool.query` gives `pool.connect` to the caller's
 * context (AsyncResource.bind, what Node recommends for callback queues) keeps each query where it was
 * issued. Nothing else changes: same client, same order, same errors.
 */
export function bindPoolCallbacks(ctx: PluginContext, exports: unknown): void {
  const proto = (exports as { Pool?: { prototype?: { connect?: Connect } } } | null)?.Pool?.prototype;
  if (!proto || typeof proto.connect !== 'function') return;
  ctx.patch(proto as { connect: Connect }, 'connect', (original) =>
    function connect(this: unknown, callback?: unknown): unknown {
      return original.call(this, typeof callback === 'function' ? AsyncResource.bind(callback as (...args: unknown[]) => unknown) : callback);
    },
  );
}
