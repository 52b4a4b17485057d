import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, get, root, scrape, spawnApp, sumSamples, waitFor, type App } from './helpers.js';

/**
 * The start-mode matrix: the app installed the way a user has it (`node_modules/@plandex-perf/register`,
 * here a link to this checkout's build), started every way people start Node. Each mode must put the
 * app's own HTTP and pg series on the one metrics port, leave the launchers in between uninstrumented,
 * and keep the usual exit on SIGTERM.
 */
const databaseUrl = inject('databaseUrl');
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
const cli = path.join(root, 'dist/src/cli.js');
let appDir = '';
let app: App | undefined;

beforeAll(() => {
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-start-modes-'));
  for (const file of ['server.mjs', 'server.cjs']) fs.copyFileSync(path.join(root, 'test/fixtures/start-modes', file), path.join(appDir, file));
  fs.chmodSync(path.join(appDir, 'server.mjs'), 0o755);
  const pkg = {
    name: 'start-modes-app',
    version: '1.0.0',
    private: true,
    bin: { 'start-modes-app': 'server.mjs' },
    scripts: { start: 'node server.mjs', 'start:cjs': 'node server.cjs' },
  };
  fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.mkdirSync(path.join(appDir, 'node_modules/@plandex-perf'), { recursive: true });
  fs.mkdirSync(path.join(appDir, 'node_modules/.bin'));
  fs.symlinkSync(root, path.join(appDir, 'node_modules/@plandex-perf/register'));
  fs.symlinkSync(path.join(root, 'node_modules/pg'), path.join(appDir, 'node_modules/pg'));
  fs.symlinkSync('../../server.mjs', path.join(appDir, 'node_modules/.bin/start-modes-app'));
});
afterAll(() => fs.rmSync(appDir, { recursive: true, force: true }));
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

interface Mode {
  name: string;
  file: string;
  args: string[];
  env?: Record<string, string>;
  /** The launcher whose process must be left alone. */
  launcher?: string;
}

const IMPORT = '--import @plandex-perf/register';
const REQUIRE = '-r @plandex-perf/register';
const modes: Mode[] = [
  { name: 'node --import (ESM)', file: process.execPath, args: ['--import', '@plandex-perf/register', 'server.mjs'] },
  { name: 'node --import (CJS)', file: process.execPath, args: ['--import', '@plandex-perf/register', 'server.cjs'] },
  { name: 'node -r (CJS)', file: process.execPath, args: ['-r', '@plandex-perf/register', 'server.cjs'] },
  { name: 'node --require (ESM)', file: process.execPath, args: ['--require', '@plandex-perf/register', 'server.mjs'] },
  { name: 'NODE_OPTIONS=-r node (CJS)', file: process.execPath, args: ['server.cjs'], env: { NODE_OPTIONS: REQUIRE } },
  { name: 'NODE_OPTIONS=--import npm start', file: 'npm', args: ['start'], env: { NODE_OPTIONS: IMPORT }, launcher: 'npm' },
  { name: 'NODE_OPTIONS=-r npm run start:cjs', file: 'npm', args: ['run', 'start:cjs'], env: { NODE_OPTIONS: REQUIRE }, launcher: 'npm' },
  { name: 'NODE_OPTIONS=--import npx', file: 'npx', args: ['--no', 'start-modes-app'], env: { NODE_OPTIONS: IMPORT }, launcher: 'npm' },
  { name: 'NODE_OPTIONS=--import yarn start', file: bin('yarn'), args: ['start'], env: { NODE_OPTIONS: IMPORT }, launcher: 'yarn' },
  { name: 'NODE_OPTIONS=--import pnpm start', file: bin('pnpm'), args: ['start'], env: { NODE_OPTIONS: IMPORT }, launcher: 'pnpm' },
  { name: 'plandex-perf run -- npm start', file: process.execPath, args: [cli, 'run', '--', 'npm', 'start'], launcher: 'npm' },
];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('start modes: the app is instrumented, the launchers are not, one metrics port', () => {
  for (const mode of modes) {
    it(mode.name, async () => {
      const metricsPort = await freePort();
      app = await spawnApp(mode.file, mode.args, {
        cwd: appDir,
        env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), npm_config_update_notifier: 'false', ...mode.env },
      });
      for (let i = 0; i < 3; i++) expect((await get(`${app.url}/`)).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await get(`${app.url}/db`)).body).toBe('[{"one":1}]');
      const appPid = Number((await fetch(`${app.url}/`)).headers.get('x-pid'));

      const lines = await scrape(metricsPort);
      expect(sumSamples(lines, 'http_server_request_duration_count')).toBe(6);
      expect(sumSamples(lines, 'db_client_operation_duration_count', { db_operation_name: 'SELECT' })).toBe(2);
      const log = app.stderr();
      expect(log).not.toContain('PPERF_ERR_METRICS_PORT_IN_USE');
      expect(log.match(/metrics at http/g)?.length).toBe(1);
      if (mode.launcher) expect(log).toContain(`preload skipped (${mode.launcher} is a launcher`);

      if (mode.file === process.execPath && mode.args[0] !== cli) {
        // The app itself: no signal listener of ours, so SIGTERM kills it exactly as bare.
        app.child.kill('SIGTERM');
        expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
      } else if (mode.args[0] === cli) {
        // SIGTERM to `plandex-perf run` alone ends the whole tree (npm, sh, the app) with the usual status.
        app.child.kill('SIGTERM');
        const result = await app.exited;
        expect(result.signal === 'SIGTERM' || result.code === 143).toBe(true);
        await waitFor(() => !alive(appPid), 5000);
      } else {
        // A launcher: the terminal (or Docker) signals the foreground process group. What the user sees
        // (the launcher's status, which reports the app's) must be what the same command shows bare.
        const instrumented = await signalGroup(app, appPid, 'SIGTERM');
        app = await spawnApp(mode.file, mode.args, { cwd: appDir, env: { ...bareEnv(), ...withoutPreload(mode.env) } });
        const bare = await signalGroup(app, Number((await fetch(`${app.url}/`)).headers.get('x-pid')), 'SIGTERM');
        expect(instrumented).toEqual(bare);
      }
    });
  }
});

const bareEnv = () => ({ DATABASE_URL: databaseUrl, npm_config_update_notifier: 'false', NODE_OPTIONS: '' });
function withoutPreload(env: Record<string, string> = {}): Record<string, string> {
  const { NODE_OPTIONS: _preload, ...rest } = env;
  return rest;
}

/** Sends `signal` to the process group (a terminal's Ctrl-C, Docker's stop) and waits for the app to be gone. */
async function signalGroup(running: App, appPid: number, signal: NodeJS.Signals) {
  process.kill(-running.child.pid!, signal);
  const result = await running.exited;
  await waitFor(() => !alive(appPid), 5000);
  return result;
}

describe('plandex-perf run -- npm start: signals reach the app', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to plandex-perf run alone ends npm, sh and the app, with the status bare npm start shows for ${signal} to its group`, async () => {
      const metricsPort = await freePort();
      app = await spawnApp(process.execPath, [cli, 'run', '--', 'npm', 'start'], { cwd: appDir, env: { ...bareEnv(), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) } });
      const appPid = Number((await fetch(`${app.url}/`)).headers.get('x-pid'));
      expect(sumSamples(await scrape(metricsPort), 'http_server_request_duration_count')).toBe(1);
      // Only the direct child is signalled: forwarding to the tree is the command's job.
      app.child.kill(signal);
      const instrumented = await app.exited;
      await waitFor(() => !alive(appPid), 5000);

      app = await spawnApp('npm', ['start'], { cwd: appDir, env: bareEnv() });
      const bare = await signalGroup(app, Number((await fetch(`${app.url}/`)).headers.get('x-pid')), signal);
      // `run` dies of the signal its child died of, or exits with the child's code.
      expect(instrumented).toEqual(bare.signal ? bare : { code: bare.code, signal: null });
    });
  }
});

describe('the service name', () => {
  it('comes from the package.json above the main module, wherever the app is started from: in target_info and as application_name on its PostgreSQL connections', async () => {
    // Started from a folder with a package.json of its own: the main module's package wins over the cwd's.
    const sub = path.join(appDir, 'logs');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'package.json'), JSON.stringify({ name: 'not-the-app', private: true }));
    const metricsPort = await freePort();
    app = await spawnApp(process.execPath, ['--import', path.join(root, 'dist/src/register.js'), '../server.mjs'], {
      cwd: sub,
      env: { DATABASE_URL: databaseUrl, OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), PGAPPNAME: undefined },
    });
    const info = (await scrape(metricsPort)).find((line) => line.startsWith('target_info'));
    expect(info).toContain('service_name="start-modes-app"');
    expect((await get(`${app.url}/application-name`)).body).toBe('start-modes-app');
  });
});
