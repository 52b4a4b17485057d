import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { preload, preloadRequire, root, startApp, type App } from './helpers.js';

/**
 * node:https is patched only once the host loads it (PluginContext.onBuiltinLoad): the preload does not
 * load TLS for hosts that never use it (~20 ms of start-up), and an HTTPS host is still shed by the heap
 * budget like an HTTP one. The lowest heap ratios and a ballast in the host make the budget shed at once.
 */
const script = path.join(root, 'test/fixtures/https-host.cjs');
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

function makeCertificate(): { key: string; cert: string } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', key, '-out', cert, '-days', '1'], { encoding: 'utf8' });
  return made.status === 0 ? { key, cert } : undefined;
}

function get(port: number, url: string): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: url, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      })
      .on('error', reject);
  });
}

const info = (text: string): { loadedBefore: boolean; emitPatched: boolean } => {
  const line = text.split('\n').find((l) => l.includes('"event":"info"'));
  return JSON.parse(line!) as { loadedBefore: boolean; emitPatched: boolean };
};

describe('an HTTPS host', () => {
  const tls = makeCertificate();
  const env = {
    ...(tls && { TLS_KEY: tls.key, TLS_CERT: tls.cert }),
    OTEL_METRICS_EXPORTER: 'none',
    PLANDEX_PERF_HEAP_BUDGET_SAMPLE_MS: '50',
    // The lowest ratios the schema takes, and 48 MB of live heap in a host limited to a 128 MB old space
    // (a heap limit of ~335 MB with the young generation): past them from the start.
    BALLAST_MB: '48',
    PLANDEX_PERF_HEAP_BUDGET_SOFT_HEAP_RATIO: '0.1',
    PLANDEX_PERF_HEAP_BUDGET_HARD_HEAP_RATIO: '0.1',
    PLANDEX_PERF_HEAP_BUDGET_EXEMPT_PATHS: '/health',
  };

  for (const mode of ['--import', '-r'] as const) {
    it(`${mode}: the preload has not loaded node:https before the host; once it does, its requests are shed like HTTP ones`, async (ctx) => {
      if (!tls) return ctx.skip('openssl could not make a test certificate');
      app = await startApp({ script, env, withPreload: mode === '--import', nodeArgs: [...(mode === '-r' ? ['-r', preloadRequire] : []), '--max-old-space-size=128'] });
      // The heap budget samples every 50 ms: shedding starts within a few samples.
      let shed = await get(app.port, '/work');
      for (let i = 0; i < 40 && shed.status !== 503; i++) {
        await new Promise((r) => setTimeout(r, 50));
        shed = await get(app.port, '/work');
      }
      expect(shed.status).toBe(503);
      expect(shed.retryAfter).toBeDefined();
      expect(JSON.parse(shed.body)).toMatchObject({ error: 'Service Unavailable' });
      expect((await get(app.port, '/health')).status).toBe(200);
    });
  }

  it('bare and with the preload: node:https is not loaded before the host, and only the preload patches its servers', (ctx) => {
    if (!tls) return ctx.skip('openssl could not make a test certificate');
    const run = (args: string[]) => {
      const child = spawnSync(process.execPath, [...args, script], {
        env: { ...process.env, ...env, INFO_ONLY: '1' },
        encoding: 'utf8',
        timeout: 15_000,
      });
      return info(child.stdout);
    };
    expect(run([])).toMatchObject({ loadedBefore: false, emitPatched: false });
    expect(run(['-r', preloadRequire])).toMatchObject({ loadedBefore: false, emitPatched: true });
    expect(run(['--import', preload])).toMatchObject({ loadedBefore: false, emitPatched: true });
  });
});
