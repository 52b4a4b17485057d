#!/usr/bin/env node
// Where the overhead goes: one app under wrk load with V8's own instruments, summarised per plugin.
//
//   node loadtests/bench/overhead-profile.mjs --variant defaults [--disable heap-budget,…] [--seconds 8]
//        [--endpoint hello|db|both] [--cpu] [--gc] [--heap] [--probe] [--out DIR]
//
// --cpu   node --cpu-prof: self time by function and by owner (our plugin, OpenTelemetry's SDK, pg, Node)
// --gc    node --trace-gc-nvp: scavenges, mark-compacts, pause time, bytes allocated per request
// --heap  V8's sampling heap profiler through probe.mjs (16 KiB interval, collected objects kept): allocation by owner, per request
// --probe probe.mjs first: intervals, event-loop delay monitors and performance observers the preload starts
// Bundle positions are mapped back to src/ and plugins/ through dist/register.js.map. Prints one JSON object.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startApp } from '../lib/app-process.mjs';
import { benchPinning } from '../lib/cpu.mjs';
import { sleep } from '../lib/bench-util.mjs';
import { runWrk } from './wrk.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const { values: o } = parseArgs({
  strict: true,
  options: {
    variant: { type: 'string', default: 'defaults' },
    disable: { type: 'string', default: '' },
    seconds: { type: 'string', default: '8' },
    endpoint: { type: 'string', default: 'both' },
    cpu: { type: 'boolean', default: false },
    gc: { type: 'boolean', default: false },
    heap: { type: 'boolean', default: false },
    probe: { type: 'boolean', default: false },
    out: { type: 'string' },
    register: { type: 'string' },
  },
});
const REGISTER = path.resolve(o.register ?? path.join(REPO, 'dist/register.js'));
const OFF = 'pg-pool,object-pool,heap-budget,cache,diagnostics';
const disable = o.variant === 'metrics-only' ? OFF : o.disable;
const dir = o.out ?? mkdtempSync(path.join(os.tmpdir(), 'pperf-prof-'));
mkdirSync(dir, { recursive: true });
const flags = [];
if (o.cpu) flags.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
if (o.gc) flags.push('--trace-gc-nvp');
if (o.heap || o.probe) flags.push('--import', pathToFileURL(path.join(HERE, 'probe.mjs')).href);
if (o.variant !== 'bare') flags.push('--import', pathToFileURL(REGISTER).href);

const { getDatabase } = await import('../lib/database.mjs');
const { seed } = await import('../app/seed.mjs');
const db = await getDatabase({ log: () => {} });
await seed(db.url, { scale: 1 });
const pin = benchPinning();
let stderr = '';
const app = await startApp({
  script: path.join(REPO, 'loadtests/app/server.mjs'),
  cwd: REPO,
  nodeArgs: flags,
  env: { DATABASE_URL: db.url, APP_GRACEFUL: '1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...(disable ? { PLANDEX_PERF_DISABLE: disable } : {}), PROBE_AFTER_MS: '1500', ...(o.heap ? { PROBE_HEAP_SAMPLES: path.join(dir, 'all.heapprofile') } : {}) },
  cpu: pin.app,
});
app.child.stdout.on('data', (c) => (stderr += c)); // --trace-gc-nvp writes to stdout
app.child.stderr.on('data', (c) => (stderr += c));
const seconds = Number(o.seconds);
const requests = {};
await sleep(1600);
// CPU time of the app process (user + system, from /proc), so cost per request does not depend on how busy
// the machine was: on a shared machine throughput moves ±25 % between runs, CPU per request much less.
const cpuMs = () => {
  try {
    const f = readFileSync(`/proc/${app.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
};
const cpuBefore = cpuMs();
const common = { baseUrl: app.baseUrl, connections: 16, cpu: pin.load, durationSec: seconds };
if (o.endpoint !== 'db') requests.hello = (await runWrk({ ...common, path: '/hello' })).requests;
if (o.endpoint !== 'hello') requests.db = (await runWrk({ ...common, path: '', script: path.join(HERE, 'wrk-users.lua'), scriptArgs: [1, 1000] })).requests;
const cpuUsed = cpuMs() - cpuBefore;
const rssAfterMB = (await app.readRss()) / 2 ** 20;
await app.stop({ killAfterMs: 10_000 });
await db.stop();
const total = Object.values(requests).reduce((a, b) => a + b, 0);

const map = (() => {
  try {
    return new SourceMap(JSON.parse(readFileSync(`${REGISTER}.map`, 'utf8')));
  } catch {
    return null;
  }
})();
const registerUrl = pathToFileURL(REGISTER).href;
/** Who owns a frame: plugin:<name>, core:<file>, otel-sdk, pg, node, app, or V8's own buckets. */
function owner(frame) {
  const url = frame.url ?? '';
  if (!url) return frame.functionName?.startsWith('(') ? frame.functionName : 'node:native';
  if (url === registerUrl && map) {
    const e = map.findEntry(frame.lineNumber, frame.columnNumber);
    const src = e?.originalSource ?? '';
    let m;
    if ((m = /\/plugins\/([^/]+)\//.exec(src))) return `plugin:${m[1]}`;
    if ((m = /\/src\/(.+)\.ts$/.exec(src)) && !src.includes('node_modules')) return `core:${m[1]}`;
    if ((m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src))) return m[1].startsWith('@opentelemetry/') ? `otel:${m[1].slice(15)}` : m[1];
    return 'register.js';
  }
  if (url.startsWith('node:')) return 'node';
  let m;
  if ((m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url))) return m[1];
  if (url.includes('/loadtests/app/')) return 'app';
  return url;
}
const nameOf = (frame) => {
  let where = '';
  if (frame.url === registerUrl && map) {
    const e = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (e?.originalSource) where = `${e.originalSource.replace(/^.*\/(plugins|src|node_modules)\//, '$1/')}:${e.originalLine + 1}`;
  } else if (frame.url) where = `${frame.url.replace(/^.*\/(node_modules|loadtests)\//, '$1/')}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'} ${where}`;
};
const top = (m, n, scale) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, +(v * scale).toFixed(2)]);

const out = { variant: o.variant, disable, seconds, requests, startupMs: Math.round(app.startupMs), cpuUsPerRequest: +((cpuUsed * 1000) / total).toFixed(1), rssAfterMB: +rssAfterMB.toFixed(1), dir };
for (const file of readdirSync(dir)) {
  if (file.endsWith('.cpuprofile')) {
    const p = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map();
    p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
    const byOwner = new Map();
    const byFn = new Map();
    let all = 0;
    let busy = 0;
    for (const [id, t] of self) {
      const f = byId.get(id).callFrame;
      all += t;
      if (f.functionName === '(idle)') continue;
      busy += t;
      const ow = owner(f);
      byOwner.set(ow, (byOwner.get(ow) ?? 0) + t);
      if (ow.startsWith('plugin:') || ow.startsWith('core:') || ow.startsWith('otel:') || ow === 'register.js' || ow === 'lru-cache') byFn.set(nameOf(f), (byFn.get(nameOf(f)) ?? 0) + t);
    }
    out.cpu = { busyShareOfWall: +(busy / all).toFixed(3), byOwnerPctOfBusy: top(byOwner, 25, 100 / busy), preloadTopFnPctOfBusy: top(byFn, 20, 100 / busy), busyUsPerRequest: +(busy / total).toFixed(1) };
  }
  if (file.endsWith('.heapprofile')) {
    const p = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    const byOwner = new Map();
    const byFn = new Map();
    let sum = 0;
    const walk = (n) => {
      const bytes = n.selfSize ?? 0;
      if (bytes) {
        sum += bytes;
        const ow = owner(n.callFrame);
        byOwner.set(ow, (byOwner.get(ow) ?? 0) + bytes);
        if (ow.startsWith('plugin:') || ow.startsWith('core:') || ow.startsWith('otel:') || ow === 'lru-cache') byFn.set(nameOf(n.callFrame), (byFn.get(nameOf(n.callFrame)) ?? 0) + bytes);
      }
      for (const c of n.children ?? []) walk(c);
    };
    walk(p.head);
    out.heap = { sampledMB: +(sum / 2 ** 20).toFixed(1), byOwnerBytesPerRequest: top(byOwner, 15, 1 / total), preloadTopFnBytesPerRequest: top(byFn, 15, 1 / total) };
  }
}
if (o.gc) {
  const lines = stderr.split('\n').filter((l) => l.includes('gc='));
  const num = (l, k) => Number(new RegExp(`\\b${k}=([\\d.]+)`).exec(l)?.[1] ?? 0);
  const scav = lines.filter((l) => /gc=s\b/.test(l));
  const full = lines.filter((l) => /gc=(mc|mmc|ms)\b/.test(l));
  const allocated = lines.reduce((a, l) => a + num(l, 'allocated'), 0);
  out.gc = {
    scavenges: scav.length,
    markCompacts: full.length,
    pauseMs: +lines.reduce((a, l) => a + num(l, 'pause'), 0).toFixed(1),
    allocatedBytesPerRequest: +(allocated / total).toFixed(0),
    promotedMB: +(lines.reduce((a, l) => a + num(l, 'promoted'), 0) / 2 ** 20).toFixed(1),
    newSpaceSurvivalPctMedian: scav.length ? scav.map((l) => num(l, 'new_space_survive_rate_')).sort((a, b) => a - b)[scav.length >> 1] : null,
  };
}
const probe = /^probe (\{.*\})$/m.exec(stderr);
if (probe) out.probe = JSON.parse(probe[1]);
const young = /^probe-exit (\{.*\})$/m.exec(stderr);
if (young) out.youngGenerationAtExit = JSON.parse(young[1]);
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
