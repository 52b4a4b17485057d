/**
 * The k6 scripts (loadtests/k6/) and the scenario they share with the Node load generator
 * (loadtests/scenarios/reference-app.mjs): type-checked against @types/k6, one script per profile,
 * options and samplers that do what the scenario says. k6 itself is not needed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../e2e/helpers.js';
// @ts-expect-error plain ESM shared with k6
import { USERS_PER_SCALE, parseDuration, profiles, requestMix, runLoadOptions, totalSeconds, userChoice } from '../../loadtests/scenarios/reference-app.mjs';
// @ts-expect-error plain ESM k6 helper without k6 imports
import { optionsFor } from '../../loadtests/k6/lib/options.js';
// @ts-expect-error plain ESM k6 helper without k6 imports
import { createWeightedPick, createZipf, mulberry32 } from '../../loadtests/k6/lib/zipf.js';

const k6Dir = path.join(root, 'loadtests/k6');
const scenarioFile = path.join(root, 'loadtests/scenarios/reference-app.mjs');
type Profile = { stages: { duration: string; target: number }[]; thresholds: { p95Ms: number; errorRate: number } };
const profileNames = Object.keys(profiles as Record<string, Profile>);

describe('k6 scripts', () => {
  it('type-check against @types/k6 (tsc --noEmit -p loadtests/k6/tsconfig.json)', () => {
    expect(fs.existsSync(path.join(root, 'node_modules/@types/k6')), '@types/k6 is a devDependency: run npm install').toBe(true);
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(k6Dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      expect.fail(`tsc found errors in loadtests/k6:\n${stdout ?? ''}${stderr ?? ''}`);
    }
  });

  it('one script per profile of the shared scenario, each with that profile', () => {
    expect(profileNames.sort()).toEqual(['load', 'smoke', 'soak', 'spike', 'stress']);
    for (const name of profileNames) {
      const script = fs.readFileSync(path.join(k6Dir, `${name}.js`), 'utf8');
      expect(script).toContain(`optionsFor('${name}')`);
      expect(script).toMatch(/export \{ default \} from '\.\/lib\/iteration\.js'/);
    }
  });

  it.each(profileNames)('%s: stages and thresholds (p95 of http_req_duration, rate of http_req_failed) come from the scenario', (name) => {
    const profile = (profiles as Record<string, Profile>)[name]!;
    const options = optionsFor(name) as { scenarios: Record<string, { executor: string; stages: unknown[] }>; thresholds: Record<string, string[]> };
    expect(options.scenarios[name]).toMatchObject({ executor: 'ramping-vus', stages: profile.stages });
    expect(options.thresholds).toEqual({ http_req_duration: [`p(95)<${profile.thresholds.p95Ms}`], http_req_failed: [`rate<${profile.thresholds.errorRate}`] });
    expect(totalSeconds(profile)).toBeGreaterThan(0);
  });

  it('refuses an unknown profile', () => {
    expect(() => optionsFor('nope')).toThrow(/unknown scenario "nope"/);
  });
});

describe('the shared scenario', () => {
  it('uses nothing k6 lacks (no Node APIs)', () => {
    const code = fs.readFileSync(scenarioFile, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    expect(code).not.toMatch(/\bfrom\s+['"]node:|\brequire\(|\bprocess\.|\bBuffer\b|\bimport\(/);
    expect(code).not.toMatch(/^\s*import\s/m); // self-contained: k6 resolves no packages
  });

  it('covers every endpoint of the reference app, POST and N+1 included, with positive weights', () => {
    const specs = requestMix as { method: string; path: string; weight: number; expectedStatuses: number[] }[];
    expect(specs.map((s) => `${s.method} ${s.path}`).sort()).toEqual(
      ['GET /health', 'GET /hello', 'GET /plans/{id}/export', 'GET /plans/{id}/stats', 'GET /users/{id}', 'GET /users/{id}/plans', 'GET /users/{id}/plans-n1', 'POST /plans/{id}/conversations'].sort(),
    );
    for (const spec of specs) {
      expect(spec.weight).toBeGreaterThan(0);
      expect(spec.expectedStatuses.length).toBeGreaterThan(0);
    }
  });

  it('gives runLoad the mix and Zipf ids over the seeded users', () => {
    const options = runLoadOptions('load', { baseUrl: 'http://127.0.0.1:1', scale: 2 });
    expect(options.ids).toEqual({ max: 2 * USERS_PER_SCALE, distribution: 'zipf', s: userChoice.s, seed: 1 });
    expect(options.requests).toHaveLength((requestMix as unknown[]).length);
    expect(options.connections).toBe(20);
    expect(options.durationSec).toBe(270);
  });

  it('parses k6 durations', () => {
    expect(parseDuration('1m30s')).toBe(90);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(() => parseDuration('10 minutes')).toThrow(RangeError);
  });
});

describe('the k6 samplers', () => {
  it('Zipf: ids stay in 1..n and id k is drawn about 1/k^s as often as id 1', () => {
    const n = 1000;
    const s = 1.1;
    const next = createZipf(n, s, mulberry32(42)) as () => number;
    const counts = new Map<number, number>();
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const id = next();
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(Math.min(...counts.keys())).toBe(1);
    expect(Math.max(...counts.keys())).toBeLessThanOrEqual(n);
    let harmonic = 0;
    for (let k = 1; k <= n; k++) harmonic += 1 / k ** s;
    expect((counts.get(1) ?? 0) / draws).toBeCloseTo(1 / harmonic, 2);
    expect((counts.get(1) ?? 0) / (counts.get(10) ?? 1)).toBeGreaterThan(10 ** s * 0.8);
    expect((counts.get(1) ?? 0) / (counts.get(10) ?? 1)).toBeLessThan(10 ** s * 1.2);
  });

  it('the weighted pick follows the weights', () => {
    const items = [
      { name: 'a', weight: 3 },
      { name: 'b', weight: 1 },
    ];
    const pick = createWeightedPick(items, mulberry32(7)) as () => { name: string };
    let a = 0;
    for (let i = 0; i < 40_000; i++) if (pick().name === 'a') a++;
    expect(a / 40_000).toBeCloseTo(0.75, 1);
  });
});
