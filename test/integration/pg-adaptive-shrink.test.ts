import { metrics } from '@opentelemetry/api';
import pg from 'pg';
import { describe, expect, inject, it, vi } from 'vitest';
import { AdaptivePools } from '../../plugins/pg-pool/adaptive.js';
import { schema } from '../../plugins/pg-pool/schema.js';
import type { WatchedPool } from '../../plugins/pg-pool/watch.js';

/**
 * The adaptive size's shrink against a real pg-pool and PostgreSQL (the run's database): a client released
 * while the pool holds more than its size is removed and ended by pg-pool's own release path, the pool
 * comes back to its size, and no caller sees an error.
 */
const url = inject('databaseUrl');
const options = (() => {
  const r = schema.safeParse({});
  if (!r.success) throw new Error('defaults');
  return r.data;
})();
const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn(), error: vi.fn(), once: vi.fn(), setLevel: vi.fn() };

describe('adaptive pool: shrinking a real pg-pool', () => {
  it('releases beyond the size end those clients through pg-pool; the pool keeps its size and serves on', async () => {
    const pool = new pg.Pool({ connectionString: url });
    const pools = new AdaptivePools(metrics.getMeter('test'), options, log as never, () => 'test', () => Date.now());
    pools.adopt(pool as unknown as WatchedPool, { value: 10, from: 'pg default' });
    // What the plugin's pool watch does: one release listener that tells the adaptive size.
    pool.on('release', (error: unknown, client: unknown) => pools.released(pool as unknown as WatchedPool, error, client));
    const removed: unknown[] = [];
    pool.on('remove', (client) => removed.push(client));
    try {
      expect(pool.options.max).toBe(10);
      pool.options.max = 12; // grown under a burst
      const clients = await Promise.all(Array.from({ length: 12 }, () => pool.connect()));
      expect(pool.totalCount).toBe(12);
      pool.options.max = 10; // then stepped back
      for (const client of clients) client.release();
      await vi.waitFor(() => expect(removed).toHaveLength(2), { timeout: 5000 });
      expect(pool.totalCount).toBe(10);
      expect(removed.every((c) => (c as { _ending?: boolean })._ending === true)).toBe(true);
      // The clients that stay were not touched, and the pool answers as before.
      const { rows } = await pool.query('select 1 as x');
      expect(rows).toEqual([{ x: 1 }]);
      expect(pool.totalCount).toBeLessThanOrEqual(10);
    } finally {
      pools.close();
      await pool.end();
    }
  });
});
