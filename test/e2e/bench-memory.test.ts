// `loadtests/bench/memory.mjs --scenario reports --quick` end to end, so the scenario cannot rot: the
// reference app's /report/:size under a base and a spike phase, bare, one lever and the preload with the
// concurrency limit on, its two files, and its refusal of bad arguments.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const bench = path.join(root, 'loadtests/bench/memory.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  // Without DATABASE_URL the bench makes its own database (see bench.test.ts); no pinning under vitest.
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_PIN: '0', ...extraEnv };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [bench, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

interface Results {
  meta: { scenario: string; rssIntervalMs: number; phases: { phase: string; connections: number }[] };
  targets: { peakRss: number; throughput: number };
  runs: { variant: string; ok: number; hwmMB: number; peakRssMB: number; rps: number; errors: number; phases: { phase: string; connections: number; requests: number }[] }[];
  ratios: Record<string, { rounds: number; hwmMB: number; rps: number }>;
  problems: string[];
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-bench-memory-test-'));
let result: Run;
let results: Results;
let md: string;

beforeAll(async () => {
  result = await run(['--scenario', 'reports', '--quick', '--out', out], { BENCH_VARIANTS: 'bare,semi-4,concurrency-limit' });
  const json = fs.readdirSync(out).find((f) => f.endsWith('.json'));
  if (!json) throw new Error(`the memory bench wrote nothing (exit ${result.code})\n${result.stderr}`);
  results = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8'));
  md = fs.readFileSync(path.join(out, json.replace(/\.json$/, '.md')), 'utf8');
}, 120_000);

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('memory bench, reports scenario (quick)', () => {
  it('runs every variant through a base and a spike phase of JSON reports, with no problem', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(results.problems).toEqual([]);
    expect(results.meta.scenario).toBe('reports');
    expect(results.meta.rssIntervalMs).toBe(50);
    expect(results.runs.map((r) => r.variant).sort()).toEqual(['bare', 'concurrency-limit', 'semi-4']);
    for (const r of results.runs) {
      expect(r.ok, r.variant).toBeGreaterThan(0);
      expect(r.errors, r.variant).toBe(0);
      // Peak RSS is real and the 50 ms sampler saw the app: a node process serving 100 KB–1 MB bodies.
      expect(r.hwmMB, r.variant).toBeGreaterThan(30);
      expect(r.peakRssMB, r.variant).toBeGreaterThan(30);
      // (Not sampled ≤ VmHWM: the kernel updates VmHWM lazily, so a VmRSS read can exceed it by a little.)
      expect(r.phases.map((p) => p.phase), r.variant).toEqual(['base', 'spike']);
      expect(r.phases[1]!.connections).toBeGreaterThan(r.phases[0]!.connections);
      for (const p of r.phases) expect(p.requests, `${r.variant} ${p.phase}`).toBeGreaterThan(0);
    }
  });

  it('reports ratios against bare of the same round and the issue\'s target', () => {
    expect(results.targets).toEqual({ peakRss: 0.6, throughput: 0.9 });
    expect(Object.keys(results.ratios).sort()).toEqual(['concurrency-limit', 'semi-4']);
    for (const r of Object.values(results.ratios)) {
      expect(r.rounds).toBe(1);
      expect(r.hwmMB).toBeGreaterThan(0);
      expect(r.rps).toBeGreaterThan(0);
    }
    expect(md.split('\n')[0]).toBe('## Memory benchmark: JSON reports of 100 KB–1 MB under concurrency spikes (quick smoke run — not representative)');
    expect(md).toContain('Target: peak RSS ≤ 0.6× bare at throughput ≥ 0.9×');
    expect(md).toMatch(/^\| semi-4 \| [\d.]+ \|/m);
  });

  it('refuses a misspelled flag or an unknown scenario with exit 2, before running anything', async () => {
    const typo = await run(['--quik']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Unknown option '--quik'/);
    const scenario = await run(['--scenario', 'nope']);
    expect(scenario.code).toBe(2);
    expect(scenario.stderr).toContain('--scenario must be mix or reports, got nope');
  });
});
