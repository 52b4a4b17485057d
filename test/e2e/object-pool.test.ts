import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { appRoutes, esmApp, freePort, root, scrape, startApp, sumSamples, type App } from './helpers.js';

let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

describe('object pools, zero-code and declared', () => {
  it("guards the reference app's own generic-pool of worker compressors and reports it", async () => {
    const metricsPort = await freePort();
    app = await startApp({ script: esmApp, env: { DATABASE_URL: inject('databaseUrl'), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PLANDEX_PERF_HTTP_ROUTES: appRoutes.join(',') } });
    for (const id of [1, 2, 3]) {
      const response = await fetch(`${app.url}/plans/${id}/export`);
      expect(response.status).toBe(200);
      // fetch decodes the gzip; the export carries the plan and its contexts.
      expect((await response.json()) as { plan: { id: number } }).toMatchObject({ plan: { id } });
    }
    const lines = await scrape(metricsPort);
    expect(sumSamples(lines, 'plandex_perf_pool_max', { plandex_perf_pool_name: 'pool-1' })).toBe(2);
    expect(sumSamples(lines, 'plandex_perf_pool_acquire_duration_count', { plandex_perf_pool_name: 'pool-1' })).toBe(3);
    expect(sumSamples(lines, 'plandex_perf_pool_size', { plandex_perf_pool_name: 'pool-1' })).toBeGreaterThanOrEqual(1);
  });

  it('builds pools declared in the config file, reachable with getPool from the API', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-pools-'));
    fs.writeFileSync(path.join(dir, 'factory.mjs'), 'let n = 0;\nexport const counter = { create: async () => ({ n: ++n }), destroy: async () => {} };\n');
    fs.writeFileSync(path.join(dir, 'plandex-perf.config.json'), JSON.stringify({ 'object-pool': { pools: { counters: { module: './factory.mjs', export: 'counter', max: 3 } } } }));
    fs.writeFileSync(
      path.join(dir, 'app.mjs'),
      `import http from 'node:http';\nimport { getPool } from ${JSON.stringify(path.join(root, 'dist/src/api.js'))};\n` +
        `const server = http.createServer(async (req, res) => { const pool = getPool('counters'); const r = await pool.acquire(); await pool.release(r); res.end(JSON.stringify({ max: pool.max, n: r.n })); });\n` +
        `server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', port: server.address().port })));\n`,
    );
    app = await startApp({ script: path.join(dir, 'app.mjs'), cwd: dir, env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()) } });
    const body = (await (await fetch(app.url)).json()) as { max: number; n: number };
    expect(body).toEqual({ max: 3, n: 1 });
  });
});
