/**
 * docker/: every file the compose file, the Dockerfile and the CI example refer to exists, the
 * settings the stack is for are there (memory limits, PostgreSQL tuning, Redis eviction, the
 * baked profile), and `docker compose config` accepts the file where the docker CLI has compose.
 * No Docker engine is needed: nothing is built or started.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { root } from '../e2e/helpers.js';
import { fromOtelEnv } from '../../src/telemetry/schema.js';

const dockerDir = path.join(root, 'docker');
const composeFile = path.join(dockerDir, 'compose.yml');
const readYaml = (file: string) => YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
const compose = readYaml(composeFile);
const services = compose.services as Record<string, any>;

/** Host side of a volume (short `src:dst[:mode]` or long `{ type: bind, source }`), if it is a path. */
function hostPath(volume: string | { type?: string; source?: string }): string | undefined {
  const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.type === 'bind' ? volume.source : undefined;
  return source && /^[./~]/.test(source) ? path.resolve(dockerDir, source) : undefined;
}

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped, with their stage index. */
function dockerfile(): Instruction[] {
  const text = fs.readFileSync(path.join(dockerDir, 'Dockerfile'), 'utf8');
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '');
  let stage = -1;
  return logical.map((line) => {
    const [, keyword = '', args = ''] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') stage++;
    return { keyword: keyword.toUpperCase(), args: args.trim(), stage };
  });
}

/** KEY="value" pairs of ENV instructions. */
function envPairs(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)].map(([, key, value]) => [key!, value!.startsWith('"') ? (JSON.parse(value!) as string) : value!]));
}

describe('docker/compose.yml', () => {
  it('refers only to files that exist: build contexts, Dockerfiles, mounted files and folders, k6 scripts', () => {
    const missing: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        const context = path.resolve(dockerDir, service.build.context ?? '.');
        if (!fs.existsSync(context)) missing.push(`${name}: build context ${context}`);
        const file = path.resolve(context, service.build.dockerfile ?? 'Dockerfile');
        if (!fs.existsSync(file)) missing.push(`${name}: Dockerfile ${file}`);
      }
      for (const volume of service.volumes ?? []) {
        const source = hostPath(volume);
        if (source && !fs.existsSync(source)) missing.push(`${name}: volume ${source}`);
      }
    }
    // The k6 service mounts loadtests/ at /loadtests; its scripts must be there.
    const k6Mount = (services.k6.volumes as string[]).find((v) => v.split(':')[1] === '/loadtests')!;
    for (const arg of services.k6.command as string[]) {
      if (arg.startsWith('/loadtests/') && !fs.existsSync(path.join(hostPath(k6Mount)!, arg.slice('/loadtests/'.length)))) missing.push(`k6: script ${arg}`);
    }
    expect(missing).toEqual([]);
  });

  it('runs the stack it describes: a seeded app in 512 MB, a small PostgreSQL, a bounded Redis, Prometheus, Grafana, Jaeger and k6', () => {
    expect(Object.keys(services).sort()).toEqual(['app', 'grafana', 'jaeger', 'k6', 'postgres', 'prometheus', 'redis', 'seed']);
    expect(services.app.mem_limit).toBe('512m');
    expect(services.app.depends_on.seed.condition).toBe('service_completed_successfully');
    expect(services.app.environment.OTEL_EXPORTER_PROMETHEUS_HOST).toBe('0.0.0.0');
    expect(services.seed.command.slice(0, 2)).toEqual(['node', 'loadtests/app/seed.mjs']);
    const pgSettings = (services.postgres.command as string[]).filter((arg) => arg.includes('='));
    expect(pgSettings).toEqual(
      expect.arrayContaining([
        'shared_buffers=128MB',
        'effective_cache_size=384MB',
        'work_mem=4MB',
        'maintenance_work_mem=64MB',
        'max_connections=50',
        'shared_preload_libraries=pg_stat_statements',
      ]),
    );
    const init = (services.postgres.volumes as string[]).find((v) => v.includes('/docker-entrypoint-initdb.d/'))!;
    expect(fs.readFileSync(hostPath(init)!, 'utf8')).toMatch(/CREATE EXTENSION IF NOT EXISTS pg_stat_statements/);
    expect(services.redis.command.join(' ')).toMatch(/--maxmemory 128mb --maxmemory-policy allkeys-lru/);
    expect(services.k6.image).toMatch(/^grafana\/k6:/);
    expect(services.k6.environment.BASE_URL).toBe('http://app:3000');
  });

  it('Prometheus scrapes the app, and Grafana gets the datasource and every dashboard', () => {
    const prometheus = readYaml(path.join(dockerDir, 'prometheus.yml'));
    const targets = (prometheus.scrape_configs as { static_configs: { targets: string[] }[] }[]).flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets).toContain('app:9464');

    const provisioning = path.join(dockerDir, 'grafana/provisioning');
    const datasource = readYaml(path.join(provisioning, 'datasources/prometheus.yml')).datasources[0];
    expect(datasource).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    const provider = readYaml(path.join(provisioning, 'dashboards/plandex-perf.yml')).providers[0];
    const mounted = (services.grafana.volumes as string[]).filter((v) => v.split(':')[1]!.startsWith(`${provider.options.path}/`)).map((v) => path.basename(v.split(':')[0]!));
    const dashboards = fs.readdirSync(path.join(root, 'dashboards')).filter((f) => f.endsWith('.json') && f !== 'pending-metrics.json');
    expect(mounted.sort()).toEqual(dashboards.sort());
    expect((services.grafana.volumes as string[]).some((v) => v.split(':')[1] === '/etc/grafana/provisioning')).toBe(true);
  });

  it('links a slow bucket to its trace: traces on in the app, exemplars stored by Prometheus, a trace datasource in Grafana', () => {
    // The app: the environment the preload reads (telemetry's fromOtelEnv) turns traces on, over OTLP to the trace backend.
    const appEnv = services.app.environment as Record<string, string>;
    expect(fromOtelEnv(appEnv).tracesExporter).toBe('otlp');
    expect(appEnv.PLANDEX_PERF_TELEMETRY_EXEMPLARS ?? 'true').not.toBe('false');
    const otlp = new URL(appEnv.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? appEnv.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
    expect(otlp.port).toBe('4318'); // OTLP/HTTP: the exporter is @opentelemetry/exporter-trace-otlp-http
    const backend = services[otlp.hostname];
    expect(backend, `no service ${otlp.hostname} to take the app's traces`).toBeDefined();
    expect(backend.image).toMatch(/^(jaegertracing\/all-in-one|grafana\/tempo):/);
    if (String(backend.image).startsWith('jaegertracing/')) expect(backend.environment.COLLECTOR_OTLP_ENABLED).toBe('true');
    expect(Object.keys(services.app.depends_on)).toContain(otlp.hostname);

    // Prometheus keeps the exemplars it scrapes (the OpenMetrics form, which it asks for first).
    expect(services.prometheus.command).toContain('--enable-feature=exemplar-storage');
    const scrape = readYaml(path.join(dockerDir, 'prometheus.yml'));
    for (const config of scrape.scrape_configs as { scrape_protocols?: string[] }[]) {
      if (config.scrape_protocols) expect(config.scrape_protocols.some((p) => p.startsWith('OpenMetricsText'))).toBe(true);
    }

    // Grafana: the Prometheus datasource sends `trace_id` (the exemplar label openmetrics.ts writes) to a provisioned trace datasource on that backend.
    const dir = path.join(dockerDir, 'grafana/provisioning/datasources');
    type Datasource = { uid: string; type: string; url: string; jsonData?: { exemplarTraceIdDestinations?: { name: string; datasourceUid?: string }[] } };
    const datasources = fs.readdirSync(dir).flatMap((file) => readYaml(path.join(dir, file)).datasources as Datasource[]);
    const prometheus = datasources.find((d) => d.type === 'prometheus')!;
    const destinations = prometheus.jsonData?.exemplarTraceIdDestinations ?? [];
    const link = destinations.find((d) => d.name === 'trace_id');
    expect(link, 'no exemplarTraceIdDestinations entry for trace_id').toBeDefined();
    const traces = datasources.find((d) => d.uid === link!.datasourceUid);
    expect(traces, `no provisioned datasource with uid ${link!.datasourceUid}`).toBeDefined();
    expect(['jaeger', 'tempo']).toContain(traces!.type);
    expect(new URL(traces!.url).hostname).toBe(otlp.hostname);
    expect(fs.readFileSync(path.join(root, 'src/telemetry/openmetrics.ts'), 'utf8')).toContain('{trace_id="');
    expect(services.grafana.depends_on).toContain(otlp.hostname);
  });

  const composeMissing = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  const why = composeMissing.error
    ? `no docker CLI (${composeMissing.error.message})`
    : composeMissing.status !== 0
      ? `the docker CLI has no compose plugin (${(composeMissing.stderr || composeMissing.stdout).trim().split('\n')[0]})`
      : undefined;
  if (why) console.warn(`[docker] skipping \`docker compose config\`: ${why}`);
  it.skipIf(why !== undefined)('docker compose config accepts the file (no engine needed)', () => {
    const result = spawnSync('docker', ['compose', '-f', composeFile, 'config', '--quiet'], { encoding: 'utf8', cwd: root });
    expect(result.stderr, 'docker compose config').toBe('');
    expect(result.status).toBe(0);
  });
});

describe('docker/Dockerfile', () => {
  const instructions = dockerfile();
  const finalStage = Math.max(...instructions.map((i) => i.stage));
  const final = instructions.filter((i) => i.stage === finalStage);

  it('COPYs only sources that exist in the build context (the repository root)', () => {
    const missing: string[] = [];
    for (const { keyword, args } of instructions) {
      if (keyword !== 'COPY' && keyword !== 'ADD') continue;
      if (/--from=/.test(args)) continue; // from another stage
      const parts = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) if (!fs.existsSync(path.join(root, source))) missing.push(source);
    }
    expect(missing).toEqual([]);
  });

  it('builds on node:24-slim in stages and runs as a non-root user with a /health check', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(new Set(froms)).toEqual(new Set(['node:24-slim']));
    const stagesRunning = (pattern: RegExp) => new Set(instructions.filter((i) => i.keyword === 'RUN' && pattern.test(i.args)).map((i) => i.stage));
    expect([...stagesRunning(/npm run build/)].some((stage) => stagesRunning(/npm ci\b/).has(stage)), 'a stage runs npm ci and npm run build').toBe(true);
    expect(stagesRunning(/npm ci --omit=dev/).size, 'a stage installs production dependencies only').toBe(1);
    expect(final.some((i) => i.keyword === 'RUN' && /npm/.test(i.args))).toBe(false); // no npm in the image's own layers
    const user = final.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    const healthcheck = final.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
    expect(healthcheck).toMatch(/"node", "-e"/);
    expect(healthcheck).toMatch(/fetch\(.*\/health/);
    expect(final.find((i) => i.keyword === 'CMD')?.args).toMatch(/loadtests\/app\/server\.mjs/);
  });

  it('bakes `plandex-perf env --profile container-512m --format docker`, with the preload at its absolute path in the image', () => {
    const cli = path.join(root, 'dist/src/cli.js');
    expect(fs.existsSync(cli), 'dist/ is missing: npm run build').toBe(true);
    const expected = JSON.parse(execFileSync(process.execPath, [cli, 'env', '--profile', 'container-512m', '--format', 'json'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })) as Record<string, string>;
    const baked = Object.assign({}, ...final.filter((i) => i.keyword === 'ENV').map((i) => envPairs(i.args))) as Record<string, string>;
    const workdir = final.filter((i) => i.keyword === 'WORKDIR').at(-1)!.args;
    expect(final.some((i) => i.keyword === 'COPY' && /--from=build\s+\/src\/dist\s+\.\/dist$/.test(i.args))).toBe(true);
    const preload = path.posix.join(workdir, 'dist/register.js');
    for (const [key, value] of Object.entries(expected)) {
      expect(baked[key], key).toBe(key === 'NODE_OPTIONS' ? value.replace('@plandex-perf/register', preload) : value);
    }
  });
});

describe('docker/Dockerfile: the code cache baked into the image', () => {
  const final = (() => {
    const all = dockerfile();
    const last = Math.max(...all.map((i) => i.stage));
    return all.filter((i) => i.stage === last);
  })();

  it('is made as root with the runtime flags, read-only to the app’s user, and that user’s start uses it', () => {
    const userAt = final.findIndex((i) => i.keyword === 'USER');
    const bakeAt = final.findIndex((i) => i.keyword === 'RUN' && /compile-cache/.test(i.args));
    expect(bakeAt, 'a RUN step bakes the cache').toBeGreaterThan(-1);
    expect(bakeAt, 'before USER: root makes it').toBeLessThan(userAt);
    const env = Object.assign({}, ...final.slice(0, bakeAt).filter((i) => i.keyword === 'ENV').map((i) => envPairs(i.args))) as Record<string, string>;
    expect(env.PLANDEX_PERF_COMPILE_CACHE).toBe('/app/.compile-cache');
    expect(env.NODE_OPTIONS, 'the runtime flags are set before the step').toMatch(/--max-old-space-size=\d+ .*--import \/app\/dist\/register\.js/);

    // The step itself, here: the image's paths swapped for a scratch folder and this checkout's build.
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-docker-cc-'));
    fs.chmodSync(scratch, 0o755);
    const cacheDir = path.join(scratch, 'compile-cache');
    const runtimeEnv = {
      ...process.env,
      ...env,
      NODE_OPTIONS: env.NODE_OPTIONS!.replace('/app/dist/register.js', path.join(root, 'dist/register.js')),
      PLANDEX_PERF_COMPILE_CACHE: cacheDir,
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
    };
    const step = final[bakeAt]!.args.replaceAll('/app/.compile-cache', cacheDir);
    const bake = spawnSync('sh', ['-c', step], { env: { ...runtimeEnv, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` }, encoding: 'utf8', timeout: 30_000 });
    expect(bake.status, bake.stderr).toBe(0);
    const [file] = fs.readdirSync(cacheDir).filter((name) => name.endsWith('.bin'));
    expect(file).toBeDefined();
    expect(fs.statSync(cacheDir).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(cacheDir, file!)).mode & 0o777).toBe(0o644);

    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      console.log('skipped: the start as an unprivileged user needs root to switch users (the bake above ran)');
      return;
    }
    // The app's user: another uid than the cache's owner (root), which can read it and not write it. The node
    // binary is copied where that user can run it (this one may sit under root's home).
    const node = path.join(scratch, 'node');
    fs.copyFileSync(process.execPath, node);
    fs.chmodSync(node, 0o755);
    const app = spawnSync(node, ['-e', 'console.log("app ran")'], {
      uid: 65534,
      gid: 65534,
      cwd: scratch,
      env: { ...runtimeEnv, HOME: scratch, PLANDEX_PERF_LOG_LEVEL: 'debug' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(app.stdout, app.stderr).toContain('app ran');
    expect(/compile cache: ([a-z-]+)/.exec(app.stderr)?.[1], app.stderr).toBe('hit');
    expect(fs.readdirSync(cacheDir).filter((name) => name.endsWith('.bin'))).toEqual([file]); // read, not written
  }, 60_000);
});

describe('docs/ci-k6-example.yml', () => {
  it('is a workflow whose compose file and k6 scripts exist', () => {
    const workflow = readYaml(path.join(root, 'docs/ci-k6-example.yml'));
    const jobs = Object.values(workflow.jobs as Record<string, { env?: Record<string, string>; steps: { run?: string }[] }>);
    const text = jobs.flatMap((job) => [...Object.values(job.env ?? {}), ...job.steps.map((s) => s.run ?? '')]).join('\n');
    expect(text).toContain('docker/compose.yml');
    // The workflow picks the script by profile: every profile the input offers must have one.
    const profiles = /\(([\w, ]+)\)/.exec(workflow.on.workflow_dispatch.inputs.profile.description)![1]!.split(/,\s*/);
    expect(profiles).toContain(workflow.on.workflow_dispatch.inputs.profile.default);
    const scripts = [...text.matchAll(/\/loadtests\/(k6\/[\w${}-]+\.js)/g)].flatMap((m) => profiles.map((p) => m[1]!.replace('${PROFILE}', p)));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) expect(fs.existsSync(path.join(root, 'loadtests', script)), script).toBe(true);
  });
});
