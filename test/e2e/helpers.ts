import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The published preload: the bundle that `npm run build` writes (package.json `exports['.']`). */
export const preload = path.join(root, 'dist/src/register.js');
/** The loader of the bundle, which `-r @plandex-perf/register` loads (package.json `exports['.'].default`; src/load.ts). */
export const preloadRequire = path.join(root, 'dist/register.js');
export const esmApp = path.join(root, 'loadtests/app/server.mjs');
export const cjsApp = path.join(root, 'test/fixtures/cjs-server.cjs');
export const expressApp = path.join(root, 'test/fixtures/express-server.mjs');
export const fastifyApp = path.join(root, 'test/fixtures/fastify-server.cjs');

/** Route templates of the reference app, which uses no framework and so reports no route itself. */
export const appRoutes = ['/health', '/hello', '/users/:id', '/users/:id/plans', '/users/:id/plans-n1', '/plans/:id/stats', '/plans/:id/export', '/plans/:id/conversations'];

/**
 * A port free now, below the ephemeral range (Linux: 32768–60999). A port the kernel picks with `listen(0)` is
 * an ephemeral one, which the suite's own outgoing connections (pg, Redis, HTTP clients) take as their local
 * port: under the full suite one of them sometimes held an app's metrics port at the moment the app bound it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    return candidate;
  }
}

export interface App {
  port: number;
  url: string;
  child: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node [--import preload] script` and waits for its `{"event":"listening"}` line. */
export async function startApp(options: { script: string; env?: Record<string, string | undefined>; withPreload?: boolean; nodeArgs?: string[]; cwd?: string }): Promise<App> {
  const args = [...(options.withPreload === false ? [] : ['--import', preload]), ...(options.nodeArgs ?? []), options.script];
  return spawnApp(process.execPath, args, options);
}

/**
 * Spawns any command that ends up running an app (`npm start`, `plandex-perf run -- …`, PM2) and waits for
 * the app's `{"event":"listening","port":N}` line on stdout. The child leads its own process group, so
 * `stop()` ends the whole tree, whatever the launcher in between does with signals.
 */
export async function spawnApp(file: string, args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<App> {
  const child = spawn(file, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, PORT: '0', PLANDEX_PERF_LOG_LEVEL: 'debug', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start within 15 s.\nstderr:\n${stderr}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /\{"event":"listening","port":(\d+)\}/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`app exited (${code ?? signal}) before listening.\nstderr:\n${stderr}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
      return exited;
    },
  };
}

export async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

/** Scrapes the Prometheus endpoint and returns its sample lines (comments dropped). */
export async function scrape(port: number): Promise<string[]> {
  const { status, body } = await get(`http://127.0.0.1:${port}/metrics`);
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** Sum of the values of the samples of `name` whose labels include every `labels` pair. */
export function sumSamples(lines: string[], name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of lines) {
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const body = match[3] ?? '';
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) total += Number(match[4]);
  }
  return total;
}

export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One span as the OTLP/JSON exporter posts it (the fields the tests read). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string } }[];
}

/** A stand-in OTLP/HTTP collector: the exporter posts OTLP/JSON to /v1/traces; the spans land in `spans`. */
export async function startOtlpCollector(): Promise<{ url: string; spans: OtlpSpan[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of payload.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => collector.close(() => resolve())) };
}
