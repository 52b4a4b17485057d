import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { start } from '../../src/start.js';
import telemetry from '../../src/telemetry/index.js';
import pg from '../../plugins/pg/index.js';
import pgPool from '../../plugins/pg-pool/index.js';
import objectPool from '../../plugins/object-pool/index.js';

// The plugins that hook a module put back what they replaced when they close: pg's Client.prototype.query,
// Pool.prototype.connect and end, pg-pool's Pool class and the unpooled-connect check, generic-pool's createPool.
describe('closing the module plugins restores the modules', () => {
  it('pg, pg-pool and object-pool', async () => {
    const require = createRequire(import.meta.url);
    const runtime = await start({ plugins: [telemetry, pg, pgPool, objectPool], config: { telemetry: { metricsExporter: 'none' } }, handleSignals: false });
    // Loaded after start, as an app loads them: the module hooks see them.
    const pgModule = require('pg') as { Pool: new () => unknown; Client: { prototype: Record<string, unknown> } };
    const genericPool = require('generic-pool') as { createPool: unknown };
    // pg exports a BoundPool (pg-pool's Pool bound to pg's Client); pg-pool's plugin exports a subclass of it.
    const Bound = Object.getPrototypeOf(pgModule.Pool) as { name: string; prototype: object };
    expect(Bound.name).toBe('BoundPool');
    expect(Object.hasOwn(Bound.prototype, 'connect')).toBe(true); // the pg plugin's one wrap
    const patched = { query: pgModule.Client.prototype.query, clientConnect: pgModule.Client.prototype.connect, createPool: genericPool.createPool };
    expect(String(patched.query)).toContain('inner'); // src/patch.ts's wrapper

    await runtime.shutdown(100);

    expect(pgModule.Pool).toBe(Bound);
    expect(Object.hasOwn(Bound.prototype, 'connect')).toBe(false);
    expect(Object.hasOwn(Bound.prototype, 'end')).toBe(false);
    for (const [now, before] of [
      [pgModule.Client.prototype.query, patched.query],
      [pgModule.Client.prototype.connect, patched.clientConnect],
      [genericPool.createPool, patched.createPool],
    ]) {
      expect(now).not.toBe(before);
      expect(String(now)).not.toContain('inner');
    }
  });
});
