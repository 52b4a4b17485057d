import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort, get, root, startApp, type App } from './helpers.js';

/**
 * PostgreSQL going away and coming back, as the app sees it: a TCP proxy in front of the real server
 * drops every connection (in-flight queries fail with a reset) and refuses new ones while "down", then
 * accepts again. The shared test server itself cannot be restarted under other tests' feet.
 */
class Outage {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  async up(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

let app: App | undefined;
let outage: Outage | undefined;
afterEach(async () => {
  await app?.stop();
  await outage?.down().catch(() => {});
});

describe('pg-pool: PostgreSQL outage during load', () => {
  it('only in-flight requests fail, the pool recovers within 2 s of PostgreSQL returning, and no connection leaks', async () => {
    const real = new URL(inject('databaseUrl'));
    outage = new Outage(await freePort(), { host: real.hostname, port: Number(real.port || 5432) });
    await outage.up();
    const viaProxy = new URL(real);
    viaProxy.port = String(outage.port);
    app = await startApp({
      script: path.join(root, 'test/fixtures/pool-server.mjs'),
      env: { DATABASE_URL: viaProxy.href, OTEL_SERVICE_NAME: 'outage-test', OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()), PLANDEX_PERF_PG_POOL_CONNECTION_TIMEOUT_MILLIS: '1000' },
    });

    const results: { at: number; status: number }[] = [];
    const t0 = Date.now();
    let running = true;
    const worker = async () => {
      while (running) {
        const started = Date.now() - t0;
        const status = await get(`${app!.url}/query`).then((r) => r.status, () => 0);
        results.push({ at: started, status });
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((r) => setTimeout(r, 1000));
    const downAt = Date.now() - t0;
    await outage.down();
    await new Promise((r) => setTimeout(r, 1500));
    await outage.up();
    const upAt = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 3000));
    running = false;
    await Promise.all(workers);

    // The host never went down, and nothing failed before the outage.
    expect(app.child.exitCode).toBeNull();
    expect(results.every((r) => r.status !== 0)).toBe(true);
    expect(results.filter((r) => r.at < downAt - 50).every((r) => r.status === 200)).toBe(true);
    expect(results.some((r) => r.at > downAt && r.at < upAt && r.status === 500)).toBe(true);
    // Recovered within 2 s of PostgreSQL returning, and from then on everything succeeds.
    const firstOk = results.filter((r) => r.at >= upAt && r.status === 200).map((r) => r.at).sort((a, b) => a - b)[0];
    expect(firstOk).toBeDefined();
    expect(firstOk! - upAt).toBeLessThan(2000);
    expect(results.filter((r) => r.at > firstOk! + 100).every((r) => r.status === 200)).toBe(true);

    // No connections leaked: the app's backends on the server stay within its pool size.
    const { backends, total, max } = JSON.parse((await get(`${app.url}/backends`)).body);
    expect(total).toBeLessThanOrEqual(max);
    expect(backends).toBeLessThanOrEqual(max);
    const admin = new pg.Client({ connectionString: real.href });
    await admin.connect();
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'outage-test'");
    await admin.end();
    expect(rows[0].n).toBeLessThanOrEqual(max);
  }, 30_000);

  it('side by side: without the preload, the same app dies when its idle connections drop', async () => {
    const real = new URL(inject('databaseUrl'));
    outage = new Outage(await freePort(), { host: real.hostname, port: Number(real.port || 5432) });
    await outage.up();
    const viaProxy = new URL(real);
    viaProxy.port = String(outage.port);
    app = await startApp({ script: path.join(root, 'test/fixtures/pool-server.mjs'), withPreload: false, env: { DATABASE_URL: viaProxy.href } });
    expect((await get(`${app.url}/query`)).status).toBe(200);
    await outage.down();
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.stderr()).toMatch(/Connection terminated unexpectedly|ECONNRESET/);
  }, 30_000);
});
