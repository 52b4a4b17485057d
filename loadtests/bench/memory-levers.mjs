// The memory bench's "reports" scenario (issue 13, "Memory where it matters"): what it loads, which
// levers it measures one at a time, and the arithmetic on its runs. Pure data and functions, so the
// unit test can check them without starting anything; memory.mjs runs them.

import { median } from '../lib/bench-util.mjs';

/**
 * JSON responses of 100 KB–1 MB (`GET /report/:size`, loadtests/app/report.mjs), smaller ones more often:
 * a mean of ~315 KB per response.
 */
export const REPORT_MIX = [
  { path: '/report/102400', weight: 4 },
  { path: '/report/262144', weight: 3 },
  { path: '/report/524288', weight: 2 },
  { path: '/report/1048576', weight: 1 },
];

/**
 * The load over time: a steady base, then spikes of `spikeConnections`, `cycles` times. Closed loop
 * (autocannon: each connection sends its next request when the last one is answered), so a spike is
 * `spikeConnections` responses of up to 1 MB in flight at once.
 * @returns {{ phase: 'base' | 'spike', connections: number, durationSec: number }[]}
 */
export function spikePhases({ baseConnections, spikeConnections, baseSec, spikeSec, cycles }) {
  for (const [name, v] of Object.entries({ baseConnections, spikeConnections, baseSec, spikeSec, cycles })) {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`spikePhases: ${name} must be a positive number, got ${v}`);
  }
  if (spikeConnections <= baseConnections) throw new RangeError('spikePhases: spikeConnections must be above baseConnections');
  const phases = [];
  for (let c = 0; c < cycles; c++) {
    phases.push({ phase: 'base', connections: baseConnections, durationSec: baseSec });
    phases.push({ phase: 'spike', connections: spikeConnections, durationSec: spikeSec });
  }
  return phases;
}

/**
 * Each lever on its own, and the profiles that combine them. `launch`:
 * - `bare`: plain node, with `nodeArgs`/`env` added (one lever each);
 * - `preload`: node --import dist/register.js (no profile flags), with `env`;
 * - `profile`: what `plandex-perf run --profile <profile>` launches (bench-util's profileLaunch).
 * The figures are container-512m's (src/profiles.ts) so each lever's share of that profile can be read.
 * `--max-old-space-size-percentage` exists in the Node versions this repo runs here (22.23, 24.22) but not in
 * every 22.x the project supports (22.15+): `needsFlag` names a node flag a variant cannot run without, and
 * memory.mjs skips the variant, saying why, when the node it launches does not accept it (unsupported below).
 * 1 % of this machine's memory is about container-512m's 256 MiB.
 */
export const REPORT_VARIANTS = [
  { name: 'bare', launch: 'bare', lever: 'Node\'s defaults (the baseline of every ratio)' },
  { name: 'container-512m', launch: 'profile', profile: 'container-512m', lever: 'the profile: heap flags + preload + its env' },
  { name: 'laptop-4g', launch: 'profile', profile: 'laptop-4g', lever: 'the profile: heap flags + preload + its env' },
  { name: 'semi-4', launch: 'bare', nodeArgs: ['--max-semi-space-size=4'], lever: '`--max-semi-space-size=4` alone' },
  { name: 'semi-8', launch: 'bare', nodeArgs: ['--max-semi-space-size=8'], lever: '`--max-semi-space-size=8` alone (laptop-4g\'s)' },
  { name: 'old-256', launch: 'bare', nodeArgs: ['--max-old-space-size=256'], lever: '`--max-old-space-size=256` alone' },
  { name: 'old-pct-1', launch: 'bare', nodeArgs: ['--max-old-space-size-percentage=1'], needsFlag: '--max-old-space-size-percentage', lever: '`--max-old-space-size-percentage=1` alone' },
  { name: 'malloc-arena-2', launch: 'bare', env: { MALLOC_ARENA_MAX: '2' }, lever: '`MALLOC_ARENA_MAX=2` alone' },
  { name: 'preload', launch: 'preload', lever: 'the preload with no profile (what concurrency-limit is compared with)' },
  { name: 'concurrency-limit', launch: 'preload', env: { PLANDEX_PERF_CONCURRENCY_LIMIT_ENABLED: '1' }, lever: 'the preload with the concurrency limit on' },
];

/**
 * The selected report variants the node cannot run: those whose `needsFlag` it does not accept, each with
 * the reason the bench prints. `accepts(flag)` asks the node that launches the app (app-process.mjs
 * nodeAcceptsFlag); it is asked once per flag.
 * @param {string[]} names
 * @param {(flag: string) => boolean} accepts
 * @returns {{ name: string, flag: string, reason: string }[]}
 */
export function unsupportedVariants(names, accepts, nodeVersion = process.version) {
  const answers = new Map();
  const ok = (flag) => {
    if (!answers.has(flag)) answers.set(flag, accepts(flag));
    return answers.get(flag);
  };
  return REPORT_VARIANTS.filter((v) => names.includes(v.name) && v.needsFlag && !ok(v.needsFlag)).map((v) => ({
    name: v.name,
    flag: v.needsFlag,
    reason: `Node ${nodeVersion} does not accept ${v.needsFlag} (not in its process.allowedNodeEnvironmentFlags)`,
  }));
}

/**
 * One run's load from its phases: counts summed, throughput over the time load was applied, and the p99
 * of each kind of phase (the median over its phases: autocannon's workers report percentiles, not samples,
 * so phases cannot be merged into one exact p99).
 * @param {{ phase: string, result: { durationSec: number, requests: number, errors: number, timeouts: number,
 *   latency: { p50: number|null, p99: number|null }, statusCodes?: Record<string, { count: number }> } }[]} phases
 */
export function combinePhases(phases) {
  const codes = {};
  let durationSec = 0;
  let requests = 0;
  let errors = 0;
  let timeouts = 0;
  for (const { result } of phases) {
    durationSec += result.durationSec;
    requests += result.requests;
    errors += result.errors;
    timeouts += result.timeouts;
    for (const [code, s] of Object.entries(result.statusCodes ?? {})) codes[code] = (codes[code] ?? 0) + s.count;
  }
  const p = (kind, key) => median(phases.filter((x) => x.phase === kind).map((x) => x.result.latency[key]));
  const ok = Object.entries(codes).filter(([c]) => Number(c) >= 200 && Number(c) < 300).reduce((a, [, n]) => a + n, 0);
  return {
    durationSec,
    requests,
    errors,
    timeouts,
    statusCodes: codes,
    ok,
    rps: durationSec > 0 ? ok / durationSec : 0,
    p50: p('spike', 'p50'),
    p99: p('spike', 'p99'),
    p99Base: p('base', 'p99'),
  };
}

/**
 * Ratios against the baseline taken within each round (the machine's speed at that moment cancels out),
 * then the median over rounds. Rounds without a baseline run are skipped.
 * @param {{ variant: string, round: number, [k: string]: unknown }[]} runs
 * @param {string} base the baseline variant's name
 * @param {string[]} keys numeric fields of a run
 * @returns {Record<string, Record<string, number | null> & { rounds: number }>}
 */
export function roundRatios(runs, base, keys) {
  const byRound = new Map();
  for (const r of runs) if (r.variant === base) byRound.set(r.round, r);
  const out = {};
  for (const name of [...new Set(runs.map((r) => r.variant))].filter((n) => n !== base)) {
    const pairs = runs.filter((r) => r.variant === name && byRound.has(r.round)).map((r) => [r, byRound.get(r.round)]);
    const entry = { rounds: pairs.length };
    for (const key of keys) {
      entry[key] = median(pairs.map(([r, b]) => (Number.isFinite(r[key]) && b[key] > 0 ? r[key] / b[key] : NaN)));
    }
    out[name] = entry;
  }
  return out;
}

/** The target: peak RSS ≤ 0.6× bare at throughput ≥ 0.9× bare. */
export const REPORT_TARGETS = { peakRss: 0.6, throughput: 0.9 };

/** Which half of the target a variant's ratios meet. */
export function targetVerdict(ratio, targets = REPORT_TARGETS) {
  const rss = ratio.peakRss != null && ratio.peakRss <= targets.peakRss;
  const throughput = ratio.throughput != null && ratio.throughput >= targets.throughput;
  return { rss, throughput, both: rss && throughput };
}
