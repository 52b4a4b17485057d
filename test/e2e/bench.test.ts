// `plandex-perf bench` end to end: a real (short) run of the reference app bare and with the plugin,
// its three files, the HTML report drawn in a real headless Chromium, and --compare's exit statuses.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import { spawn } from 'node:child_process';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import fs from 'node:fs';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import os from 'node:os';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import path from 'node:path';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import { pathToFileURL } from 'node:url';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page callbacks run in Chromium and need DOM types. The directive adds them to the test program
// (tsconfig.test.json) only; src/ and plugins/ are still checked without DOM by tsconfig.json.
import { root } from './helpers.js';

const cli = path.join(root, 'dist/src/cli.js');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
if (!CHROMIUM) console.warn('[bench] skipping the Chromium check of the HTML report: no /usr/bin/chromium (apt-get install chromium; .ci/run installs it)');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[]): Promise<Run> {
  // Without DATABASE_URL the bench makes its own database (local server, else embedded): its re-seeding
  // must not touch the database the other test files share.
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_PIN: '0' };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [cli, 'bench', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-bench-test-'));
let run: Run;
let files: { json: string; md: string; html: string };
let results: {
  format: string;
  runs: { variant: string; rps: number; hwmMB: number; percentiles: [number, number | null][]; perSecond: unknown[]; rssSeries: unknown[]; db: { perRequestMs: number } }[];
  summary: Record<string, { rps: number; p95: number; cacheHitRatio: number | null }>;
  problems: string[];
};

beforeAll(async () => {
  run = await bench(['--quick', '--duration', '4', '--connections', '8', '--out', out]);
  const base = fs.readdirSync(out).find((f) => f.endsWith('.json'))?.replace(/\.json$/, '');
  if (!base) throw new Error(`bench wrote nothing (exit ${run.code})\n${run.stderr}`);
  files = { json: path.join(out, `${base}.json`), md: path.join(out, `${base}.md`), html: path.join(out, `${base}.html`) };
  results = JSON.parse(fs.readFileSync(files.json, 'utf8'));
}, 180_000);

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('plandex-perf bench', () => {
  it('runs both variants under load and exits 0', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(results.format).toBe('plandex-perf-bench/1');
    expect(results.problems).toEqual([]);
    for (const variant of ['bare', 'plugin']) {
      const mine = results.runs.filter((r) => r.variant === variant);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.rps).toBeGreaterThan(0);
      expect(mine[0]!.hwmMB).toBeGreaterThan(20);
      expect(mine[0]!.db.perRequestMs).toBeGreaterThan(0);
      expect(mine[0]!.perSecond.length).toBeGreaterThanOrEqual(3);
      expect(mine[0]!.rssSeries.length).toBeGreaterThan(2);
    }
    // The plugin variant wraps the hot read zero-code, so its cache must have served hits.
    // The load mix inserts conversations, which getUserPlans reads: each insert now drops the entries
    // that read that table (correct, not stale), so a short run keeps only a few hits.
    expect(results.summary.plugin!.cacheHitRatio).toBeGreaterThan(0);
    expect(results.summary.bare!.cacheHitRatio).toBeNull();
  });

  it('shows progress and prints the KPIs side by side with their ratios, marked as a smoke run with the targets spelled out', () => {
    expect(run.stderr).toMatch(/\[100 %\] round 1\/1/);
    const md = fs.readFileSync(files.md, 'utf8');
    expect(path.basename(files.md)).toMatch(/-smoke\.md$/);
    expect(md.split('\n')[0]).toMatch(/^## plandex-perf bench \(smoke run\):/);
    expect(md).toContain('**Smoke run (`--quick`)**');
    expect(md).toContain('database work −50–70 %, API latency −25–50 %, peak memory −30–40 %');
    expect(md).not.toMatch(/background document/i);
    expect(fs.readFileSync(files.html, 'utf8')).toMatch(/<h1>plandex-perf bench \(smoke run\)/);
    expect(run.stdout).toContain(md.trim().split('\n')[0]);
    for (const kpi of ['DB time per request', 'API latency p50', 'API latency p95', 'API latency p99', 'Throughput', 'Peak RSS', 'Cache hit ratio']) {
      expect(md).toMatch(new RegExp(`\\| ${kpi} \\| [^|]+ \\| [^|]+ \\| `));
    }
    const throughput = md.split('\n').find((l) => l.startsWith('| Throughput'))!;
    const [bare, plugin, ratio] = throughput.split('|').slice(2, 5).map((c) => Number.parseFloat(c));
    expect(ratio).toBeCloseTo(plugin! / bare!, 1);
  });

  it.skipIf(!CHROMIUM)('writes a self-contained HTML report whose charts draw in headless Chromium', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const fetched: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('request', (r) => !r.url().startsWith('file:') && fetched.push(r.url()));
      await page.goto(pathToFileURL(files.html).href);
      await page.waitForFunction(() => document.body.dataset.charts !== undefined, undefined, { timeout: 10_000 });
      expect(errors).toEqual([]);
      expect(fetched, 'the report must not load anything from the network').toEqual([]);
      const charts = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-chart]')].map((el) => {
          const canvas = el.querySelector('canvas');
          let inked = 0;
          if (canvas) {
            const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
            for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) inked++;
          }
          return { chart: el.dataset.chart, points: Number(el.dataset.rendered ?? 0), inked, legend: [...el.querySelectorAll('.u-legend .u-label')].map((l) => l.textContent) };
        }),
      );
      expect(charts.map((c) => c.chart)).toEqual(['latency', 'throughput', 'mean-latency', 'memory']);
      for (const c of charts) {
        expect(c.points, c.chart).toBeGreaterThan(4);
        expect(c.inked, `${c.chart}: nothing drawn on its canvas`).toBeGreaterThan(500);
        expect(c.legend).toEqual(expect.arrayContaining(['bare', 'plugin']));
      }
      expect(await page.locator('#kpis tbody tr').count()).toBe(7);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('--compare: 0 against itself, 1 on a regression beyond the threshold, 2 on a bad file', async () => {
    const same = await bench(['--results', files.json, '--compare', files.json]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('Against the previous results');

    // A previous run in which the plugin was twice as fast relative to bare: now it looks like a regression.
    const better = JSON.parse(fs.readFileSync(files.json, 'utf8'));
    better.summary.plugin.rps *= 2;
    const previous = path.join(out, 'previous.json');
    fs.writeFileSync(previous, JSON.stringify(better));
    const worse = await bench(['--results', files.json, '--compare', previous]);
    expect(worse.code).toBe(1);
    expect(worse.stderr).toMatch(/PPERF_ERR_BENCH_REGRESSION: Throughput -50\.0 %/);
    // The same drop is fine under a threshold that allows it.
    expect((await bench(['--results', files.json, '--compare', previous, '--threshold', '60'])).code).toBe(0);

    const junk = path.join(out, 'junk.json');
    fs.writeFileSync(junk, '{"hello": 1}');
    const bad = await bench(['--results', files.json, '--compare', junk]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PPERF_ERR_BENCH_RESULTS');
    const usage = await bench(['--rounds', '0']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('PPERF_ERR_BENCH_USAGE: --rounds must be a number from 1 to 50');
  }, 60_000);
});
