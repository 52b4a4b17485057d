import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { helpOption, parseFlags, reportUsage, splitCommand, UsageError } from './args.js';
import { profileFromArgs } from './profile-args.js';
import { buildCommand } from './run.js';

export const profileUsage = `Usage: plandex-perf profile doctor|flame|bubbleprof|heap [--load] [--profile P] -- node server.js

Runs the Clinic.js tool (heap: clinic heapprofiler) on the server with the preload and the profile's heap
flags active. Stop it with Ctrl-C; clinic then writes its HTML report.
  --load              drive the reference load scenario (loadtests/, from a checkout of this repository)
                      against the server, then stop it and print where the report is
  --url URL           where the server answers (default http://127.0.0.1:$PORT, else :3000)
  --duration S        seconds of load (default 20)     --connections N   (default 16)
  --paths /a,/b       GET these paths instead of the reference app's scenario (for an app that is not the reference app)
`;

const TOOLS = { doctor: 'doctor', flame: 'flame', bubbleprof: 'bubbleprof', heap: 'heapprofiler' } as const;
type Tool = keyof typeof TOOLS;

type ProfileCode = 'PPERF_ERR_DIAG_USAGE' | 'PPERF_ERR_DIAG_CLINIC_MISSING' | 'PPERF_ERR_DIAG_CLINIC_FAILED' | 'PPERF_ERR_DIAG_LOAD_FAILED';

const fail = (code: ProfileCode, message: string): void => void process.stderr.write(`${code}: ${message}\n`);

export const clinicInstallHint = `clinic (Clinic.js) is not installed; \`plandex-perf profile\` runs it with the preload active.
Install it, then run the same command again:
  npm install --save-dev clinic    # in this project (found from the working directory)
  npm install -g clinic            # or globally (found on PATH)`;

/** How to start clinic: its package's bin script from the project or next to us, else a `clinic` on PATH. */
export function findClinic(cwd: string, env: NodeJS.ProcessEnv, self = import.meta.url): { file: string; args: string[] } | undefined {
  for (const base of [path.join(cwd, 'package.json'), self]) {
    try {
      const manifest = createRequire(base).resolve('clinic/package.json');
      const { bin } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
      const script = typeof bin === 'string' ? bin : bin?.clinic;
      if (script) return { file: process.execPath, args: [path.resolve(path.dirname(manifest), script)] };
    } catch {
      // Not installed there: try the next place.
    }
  }
  const names = process.platform === 'win32' ? ['clinic.cmd', 'clinic.exe'] : ['clinic'];
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return { file: candidate, args: [] };
      } catch {
        // Not here.
      }
    }
  }
  return undefined;
}

export interface ProfileArgs {
  tool: Tool;
  load: boolean;
  profile: string | undefined;
  url: string | undefined;
  durationSec: number;
  connections: number;
  paths: string[] | undefined;
  command: string[];
}

const options = {
  ...helpOption,
  load: { type: 'boolean' },
  profile: { type: 'string' },
  url: { type: 'string' },
  duration: { type: 'string' },
  connections: { type: 'string' },
  paths: { type: 'string' },
} as const;

/** Parses argv (`<tool> [flags] -- node …`), or returns the usage problem; `{ help }` for `--help`. */
export function parseProfileArgs(argv: string[]): ProfileArgs | { help: true } | { error: string } {
  try {
    return parse(argv);
  } catch (error) {
    if (error instanceof UsageError) return { error: error.message };
    throw error;
  }
}

function parse(argv: string[]): ProfileArgs | { help: true } {
  const [tool, ...rest] = argv;
  if (tool === '--help' || tool === '-h' || tool === 'help') return { help: true };
  if (tool === undefined || !Object.hasOwn(TOOLS, tool)) throw new UsageError(`name a tool: ${Object.keys(TOOLS).join(', ')} (got ${JSON.stringify(tool ?? '')})`);
  const { flags, command } = splitCommand(rest, options);
  const { values } = parseFlags(flags, options, 'PPERF_ERR_DIAG_USAGE');
  if (values.help) return { help: true };
  const first = command[0];
  if (first === undefined || !(first === 'node' || first === process.execPath || /(^|[\\/])node(\d+|\.exe)?$/.test(first))) {
    throw new UsageError('clinic profiles a node process: give it after --, e.g. -- node server.js');
  }
  const { duration, connections, url, paths } = values;
  const durationSec = Number(duration ?? 20);
  const connectionCount = Number(connections ?? 16);
  if (!(durationSec > 0 && durationSec <= 3600)) throw new UsageError(`--duration must be between 0 and 3600 seconds (got ${duration})`);
  if (!(Number.isInteger(connectionCount) && connectionCount > 0 && connectionCount <= 1000)) throw new UsageError(`--connections must be an integer from 1 to 1000 (got ${connections})`);
  if (url !== undefined && !URL.canParse(url)) throw new UsageError(`--url must be a URL (got ${url})`);
  const pathList = paths?.split(',').map((p) => p.trim()).filter(Boolean);
  if (pathList?.some((p) => !p.startsWith('/'))) throw new UsageError('--paths must start with /');
  return { tool: tool as Tool, load: values.load === true, profile: values.profile, url, durationSec, connections: connectionCount, paths: pathList, command };
}

/** Where clinic said it wrote the report, made absolute. */
export function reportPath(output: string, cwd: string): string | undefined {
  const found = /Generated HTML file is (\S+)/.exec(output)?.[1] ?? /(\S*\.clinic[\\/]\S+\.html)/.exec(output)?.[1];
  if (found === undefined) return undefined;
  return found.startsWith('file://') ? fileURLToPath(found) : path.resolve(cwd, found);
}

/** Any HTTP answer means the server is up; a refused connection means not yet. */
async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(2000) })).arrayBuffer();
      return true;
    } catch {
      await sleep(250);
    }
  }
  return false;
}

interface LoadResult {
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  latency: { p50: number; p99: number };
}
type RunLoad = (options: Record<string, unknown>) => Promise<LoadResult>;

type LoadOptions = (scenario: string, options: { baseUrl: string; connections: number; durationSec: number }) => Record<string, unknown>;

/** The repository's load driver and its shared scenario (loadtests/ is not in the published package, hence a checkout). */
async function loadDriver(): Promise<{ runLoad: RunLoad; runLoadOptions: LoadOptions } | undefined> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../loadtests');
  const files = [path.join(root, 'lib/load.mjs'), path.join(root, 'scenarios/reference-app.mjs')];
  if (!files.every((file) => fs.existsSync(file))) return undefined;
  const [load, scenario] = (await Promise.all(files.map((file) => import(pathToFileURL(file).href)))) as [{ runLoad?: unknown }, { runLoadOptions?: unknown }];
  if (typeof load.runLoad !== 'function' || typeof scenario.runLoadOptions !== 'function') return undefined;
  return { runLoad: load.runLoad as RunLoad, runLoadOptions: scenario.runLoadOptions as LoadOptions };
}

async function driveLoad(args: ProfileArgs, child: ChildProcess, env: NodeJS.ProcessEnv): Promise<boolean> {
  const baseUrl = args.url ?? `http://127.0.0.1:${env.PORT ?? 3000}`;
  const driver = await loadDriver();
  if (!driver) {
    fail('PPERF_ERR_DIAG_LOAD_FAILED', 'the reference load scenario ships with the repository (loadtests/lib/load.mjs), not the package; run from a checkout, or load the server yourself and press Ctrl-C');
    return false;
  }
  if (!(await waitUntilUp(baseUrl, child, 60_000))) {
    fail('PPERF_ERR_DIAG_LOAD_FAILED', `the server did not answer at ${baseUrl} within 60 s (or exited); pass --url`);
    return false;
  }
  process.stderr.write(`plandex-perf profile: loading ${baseUrl} for ${args.durationSec} s with ${args.connections} connections …\n`);
  try {
    // The reference app's own scenario (the one the k6 scripts and the bench use), unless --paths names others.
    const run = { baseUrl, connections: args.connections, durationSec: args.durationSec };
    const r = await driver.runLoad(args.paths ? { ...run, paths: args.paths } : driver.runLoadOptions('load', run));
    process.stderr.write(`plandex-perf profile: ${r.requests} requests, ${r.rps.toFixed(0)}/s, p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms, ${r.errors} errors, ${r.non2xx} non-2xx\n`);
    return true;
  } catch (error) {
    fail('PPERF_ERR_DIAG_LOAD_FAILED', `the load run failed: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}

/** `plandex-perf profile <tool> [--load] -- node server.js`: exit 2 for usage or a missing clinic, else clinic's status. */
export async function profileCommand(argv: string[]): Promise<number> {
  const args = parseProfileArgs(argv);
  if ('help' in args) {
    process.stdout.write(profileUsage);
    return 0;
  }
  if ('error' in args) return reportUsage(new UsageError(args.error, 'PPERF_ERR_DIAG_USAGE'), profileUsage);
  const clinic = findClinic(process.cwd(), process.env);
  if (!clinic) {
    fail('PPERF_ERR_DIAG_CLINIC_MISSING', clinicInstallHint);
    return 2;
  }
  let target: ReturnType<typeof buildCommand>;
  try {
    target = buildCommand(args.command, await profileFromArgs(args.profile), process.env);
  } catch (error) {
    fail('PPERF_ERR_DIAG_USAGE', error instanceof Error ? error.message : String(error));
    return 2;
  }
  const child = spawn(clinic.file, [...clinic.args, TOOLS[args.tool], '--', target.file, ...target.args], { stdio: ['inherit', 'pipe', 'pipe'], env: target.env });
  let output = '';
  const tee = (to: NodeJS.WriteStream) => (chunk: Buffer) => {
    to.write(chunk);
    output = (output + chunk.toString()).slice(-8192); // only the tail: the report line comes last
  };
  child.stdout?.on('data', tee(process.stdout));
  child.stderr?.on('data', tee(process.stderr));
  // Ctrl-C reaches clinic and the server from the terminal; clinic then writes its report, which we wait for.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', ignore);
  process.on('SIGTERM', onTerm);
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('exit', (code) => resolve({ code }));
  });
  let loaded = true;
  if (args.load) {
    loaded = await driveLoad(args, child, target.env);
    // Stopping the server the way Ctrl-C would: clinic relays SIGINT to it and then writes the report.
    child.kill('SIGINT');
  }
  const { code, error } = await exited;
  process.removeListener('SIGINT', ignore);
  process.removeListener('SIGTERM', onTerm);
  if (error) {
    fail('PPERF_ERR_DIAG_CLINIC_FAILED', `cannot start clinic (${clinic.file}): ${error.message}`);
    return 2;
  }
  const report = reportPath(output, process.cwd());
  if (code !== 0) fail('PPERF_ERR_DIAG_CLINIC_FAILED', `clinic ${TOOLS[args.tool]} exited with status ${code}${report ? '' : '; no report was written'}`);
  process.stderr.write(report ? `plandex-perf profile: report at ${report}\n` : `plandex-perf profile: no report path in clinic's output; look in ${path.join(process.cwd(), '.clinic')}\n`);
  return code !== 0 ? (code ?? 1) : loaded ? 0 : 1;
}
