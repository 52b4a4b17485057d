/**
 * A throwaway Prometheus for tests: its own config, storage in a temp directory, a free port on
 * loopback, scraping every second. Never the system one a Debian package may have started on :9090.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../e2e/helpers.js';

/** Why Prometheus cannot be used here, or undefined when `prometheus` and `promtool` both run. */
export function prometheusMissing(): string | undefined {
  const missing = ['prometheus', 'promtool'].filter((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} not found on PATH (Debian: apt-get install -y --no-install-recommends prometheus)`;
}

/** Why `promtool` cannot be used here, or undefined when it runs (for the tests that need it alone). */
export function promtoolMissing(): string | undefined {
  if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0) return undefined;
  return 'promtool not found on PATH (Debian: apt-get install -y --no-install-recommends prometheus)';
}

export interface Prometheus {
  url: string;
  /** Instant query; resolves with the API's JSON (status 'success' or 'error'). */
  query(promql: string): Promise<PromResponse>;
  /** Resolves once every target has been scraped successfully at least `scrapes` times after now. */
  waitForScrapes(scrapes?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** `flags`: extra command-line flags, e.g. `--enable-feature=exemplar-storage`. */
export async function startPrometheus(targets: Record<string, string[]>, flags: string[] = []): Promise<Prometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-prom-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    ...Object.entries(targets).flatMap(([job, addresses]) => [`  - job_name: ${JSON.stringify(job)}`, '    static_configs:', `      - targets: ${JSON.stringify(addresses)}`]),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `${config}\n`);
  const port = await freePort();
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...flags],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${log}`);
      const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const query = async (promql: string): Promise<PromResponse> => {
    const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: promql }) });
    return (await response.json()) as PromResponse;
  };

  return {
    url,
    query,
    async waitForScrapes(scrapes = 2) {
      const total = Object.values(targets).flat().length;
      const since = Date.now() / 1000;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const response = await fetch(`${url}/api/v1/targets?state=active`);
        const body = (await response.json()) as { data: { activeTargets: { health: string; lastScrape: string; lastError: string; scrapeUrl: string }[] } };
        const fresh = body.data.activeTargets.filter((t) => t.health === 'up' && Date.parse(t.lastScrape) / 1000 > since + scrapes - 1);
        if (fresh.length >= total) return;
        if (Date.now() > deadline) throw new Error(`targets not scraped in time: ${JSON.stringify(body.data.activeTargets.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}

/** `promtool check metrics` on exposition text: its findings, one per line (none: an empty list). */
export function promtoolCheckMetrics(text: string): string[] {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}
