#!/usr/bin/env node
// Instructions per request, counted by valgrind's callgrind: the repeatable figure on a shared machine, where
// req/s moves ±25 % between runs but the instructions of one request move well under 1 %.
//
//   node loadtests/bench/instructions.mjs [--variants bare,defaults,metrics-only] [--endpoint users|hello]
//        [--warmup 20000] [--requests 5000] [--windows 3] [--parallel 2] [--register FILE] [--out DIR]
//        [--tag NAME] [--keep DIR]
//
// Per variant, a fresh reference app (loadtests/app/server.mjs) under callgrind with V8's `--single-threaded`
// (its compilers and GC then run on the main thread, where callgrind counts them in order, not on helper
// threads whose share depends on wall time). `--warmup` requests with the counters running but discarded;
// 5 s idle, counted (what the preload's timers cost; valgrind slows requests ~50× but not timers, so they are
// subtracted per second of the measured window); 5 000 more warm-up requests; then `--windows` windows of
// `--requests` each, 8 at a time over keep-alive. Self cost is split by symbol into V8's garbage collector
// (with its write barriers), its compilers, and the rest: the mutator, the host's and the preload's own work,
// the figure to compare, reported as the median of the clean windows.
// Why each step (docs/benchmarks.md, 2026-12-04): a 10 s idle window equals pg's idle timeout, so the pool
// dropped clients in it and V8 deoptimised pg-pool, which then re-warmed inside the measured window; the
// telemetry's once-a-minute background fold is switched off here (a whole collection, ~7 M instructions, that
// lands in some windows and not others); a window that caught a major GC, or in which code was re-tiered
// (compilers above 8 k per request), is not clean: it is listed, not used. `--keep DIR` keeps the dumps; with
// NODE_OPTIONS=--perf-basic-prof, V8's /tmp/perf-PID.map names the JIT code in them.
//
// PLANDEX_PERF_* set in the environment reach the defaults variant (one plugin or feature off, to find a cost)
// and are written to the results. Needs valgrind (apt-get install valgrind) and PostgreSQL
// (loadtests/lib/database.mjs finds or starts one).
// Exit status: 0; 1 when a run failed; 2 on bad usage.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, sleep } from '../lib/bench-util.mjs';
import { benchPinning } from '../lib/cpu.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const OFF = 'pg-pool,object-pool,heap-budget,cache,diagnostics';
const ENDPOINTS = { users: '/users/1', hello: '/hello' };

let o;
try {
  ({ values: o } = parseArgs({
    strict: true,
    options: {
      variants: { type: 'string', default: 'bare,defaults,metrics-only' },
      endpoint: { type: 'string', default: 'users' },
      warmup: { type: 'string', default: '20000' },
      requests: { type: 'string', default: '5000' },
      windows: { type: 'string', default: '3' },
      parallel: { type: 'string', default: '2' },
      register: { type: 'string' },
      out: { type: 'string', default: path.join(REPO, 'loadtests/results') },
      tag: { type: 'string' },
      keep: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  console.error(`instructions: ${error.message} (--help)`);
  process.exit(2);
}
if (o.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 27).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const variants = o.variants.split(',').filter(Boolean);
const known = ['bare', 'defaults', 'metrics-only'];
const count = (name) => {
  const n = Number(o[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`instructions: --${name} must be a positive integer, got ${JSON.stringify(o[name])}`);
    process.exit(2);
  }
  return n;
};
const warmup = count('warmup');
const requests = count('requests');
const windows = count('windows');
const parallel = Math.min(2, count('parallel'));
if (!(o.endpoint in ENDPOINTS) || variants.length === 0 || variants.some((v) => !known.includes(v))) {
  console.error(`instructions: --endpoint is one of ${Object.keys(ENDPOINTS).join(', ')}; --variants of ${known.join(', ')}`);
  process.exit(2);
}
if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('instructions: needs valgrind (apt-get install valgrind)');
  process.exit(1);
}
const REGISTER = pathToFileURL(path.resolve(o.register ?? path.join(REPO, 'dist/register.js'))).href;

/** Exactly `n` keep-alive GETs, 8 at a time. */
async function drive(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < n) {
        sent++;
        await new Promise((resolve) => {
          http
            .get({ host: '127.0.0.1', port, path: ENDPOINTS[o.endpoint], agent }, (res) => {
              if (res.statusCode !== 200) failed++;
              res.resume().on('end', resolve);
            })
            .on('error', () => (failed++, resolve()));
        });
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - t0) / 1000, failed };
}

const GC = /Heap::|Scaveng|MarkCompact|Sweep|GCTracer|heap::|Evacuat|Marking|MemoryAllocator|RememberedSet|SlotSet|IteratePointers|Migrat|SizeFromMap|IterateObjectCache|RootScavenge|RecordWrite|ActiveSystemPages|popcount|Concurrent|FreeList|PagedSpace|NewSpace|LargeObject|MemoryChunk|PageMetadata|IterateBody|VisitPointers|Weak/;
const COMPILE = /compiler::|maglev::|Maglev|baseline::|v8::internal::Parser|ParserBase|BytecodeGenerator|Compiler::|turboshaft|Turboshaft|Zone::|interpreter::|Deoptimizer|RelocIterator|FlushedBytecode|Assembler|CodeGen|Reloc/;

/**
 * Self cost by class for each of `files` (callgrind dumps of one process, in order: function names are
 * compressed to ids defined at their first use, possibly in an earlier dump). A cost line right after `calls=`
 * is the call's inclusive cost, not the caller's own.
 */
function selfCosts(files) {
  const names = new Map();
  const nameOf = (spec) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? spec;
  };
  return files.map((file) => {
    const sums = { gc: 0, compile: 0, mutator: 0 };
    let kind = 'mutator';
    let afterCall = false;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.startsWith('fn=')) {
        const name = nameOf(line.slice(3));
        kind = GC.test(name) ? 'gc' : COMPILE.test(name) ? 'compile' : 'mutator';
        afterCall = false;
      } else if (line.startsWith('cfn=')) nameOf(line.slice(4));
      else if (line.startsWith('calls=')) afterCall = true;
      else if (/^[0-9+*-]/.test(line)) {
        if (afterCall) afterCall = false;
        else sums[kind] += Number(line.split(' ')[1] ?? 0);
      }
    }
    return sums;
  });
}

const control = (pid, arg) => spawnSync('callgrind_control', [arg, String(pid)], { stdio: 'ignore' });

async function measure(variant, db, cpu) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pperf-cg-${variant}-`));
  const nodeArgs = ['--single-threaded', ...(variant === 'bare' ? [] : ['--import', REGISTER])];
  const cmd = ['valgrind', '--tool=callgrind', `--callgrind-out-file=${dir}/cg.%p`, '--dump-instr=no', process.execPath, ...nodeArgs, path.join(REPO, 'loadtests/app/server.mjs')];
  const env = { ...process.env, DATABASE_URL: db.url, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', PLANDEX_PERF_TELEMETRY_STALE_SERIES_AFTER_MS: '0' };
  if (variant === 'metrics-only') env.PLANDEX_PERF_DISABLE = OFF;
  const child = spawn(cpu === undefined ? cmd[0] : 'taskset', cpu === undefined ? cmd.slice(1) : ['-c', String(cpu), ...cmd], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /"event":"listening","port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the ${variant} app exited (${code}) before listening: ${stderr.slice(-400)}`)));
  });
  try {
    const warm = await drive(port, warmup);
    await sleep(1000);
    control(child.pid, '--zero');
    await sleep(5000);
    control(child.pid, '--dump=idle');
    const warm2 = await drive(port, 5000);
    const runs = [];
    for (let w = 0; w < windows; w++) {
      control(child.pid, '--zero');
      runs.push(await drive(port, requests));
      control(child.pid, `--dump=load${w + 1}`);
    }
    const failed = warm.failed + warm2.failed + runs.reduce((sum, r) => sum + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} requests failed on the ${variant} app`);
    const dumps = readdirSync(dir).filter((f) => /^cg\.\d+\.\d+$/.test(f)).sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2])).map((f) => path.join(dir, f));
    if (dumps.length < 1 + windows) throw new Error(`callgrind wrote ${dumps.length} dumps for ${variant} (expected ${1 + windows})`);
    const [idle, ...loads] = selfCosts(dumps);
    const perReq = (x) => x / requests / 1000;
    const measured = loads.map((load, w) => {
      const timers = (idle.mutator / 5) * runs[w].seconds; // the idle window's mutator rate over the measured window
      return {
        mutatorK: perReq(load.mutator - timers),
        gcK: perReq(load.gc),
        compileK: perReq(load.compile),
        timersK: perReq(timers),
        seconds: runs[w].seconds,
        // A mark-compact in the window shows as GC several times the usual (~7 k); its write barriers slow the mutator too.
        majorGcSuspected: perReq(load.gc) > 20,
        // Steady windows spend 3–5 k per request in V8's compilers. More means code was being re-tiered inside the
        // window (after a mark-compact flushed bytecode just before it, say): the mutator then runs baseline code
        // and reads 10–20 k high (2026-12-04: the same defaults read 165.7 k and 184.5 k that way).
        retiered: perReq(load.compile) > 8,
      };
    });
    // The figure: the median of the clean windows; with none clean, the lowest window, flagged.
    const clean = measured.filter((m) => !m.majorGcSuspected && !m.retiered).sort((a, b) => a.mutatorK - b.mutatorK);
    const pick = clean.length > 0 ? clean[Math.floor((clean.length - 1) / 2)] : [...measured].sort((a, b) => a.mutatorK - b.mutatorK)[0];
    return { variant, ...pick, cleanWindows: clean.length, windows: measured };
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
    // The dumps run to tens of MB each; --keep moves them aside for callgrind_annotate (cg.PID.1 the idle window, cg.PID.2… the measured ones).
    if (o.keep) {
      mkdirSync(o.keep, { recursive: true });
      for (const f of readdirSync(dir)) renameSync(path.join(dir, f), path.join(o.keep, `${variant}${o.tag ? `-${o.tag}` : ''}.${f}`));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const { getDatabase } = await import('../lib/database.mjs');
const { seed } = await import('../app/seed.mjs');
const db = await getDatabase({ log: () => {} });
let status = 0;
const results = [];
try {
  await seed(db.url, { scale: 1 });
  const pin = benchPinning();
  console.error(`${new Date().toISOString()} · Node ${process.version} · ${o.endpoint} · ${warmup} + 5000 warm-up, ${windows} × ${requests} measured · ${parallel} at a time`);
  for (let i = 0; i < variants.length; i += parallel) {
    const batch = variants.slice(i, i + parallel);
    // Two at a time on two CPUs (instruction counts do not depend on the neighbour); pinned apart when possible.
    const settled = await Promise.allSettled(batch.map((v, k) => measure(v, db, pin.app === undefined ? undefined : k % 2)));
    for (const [k, r] of settled.entries()) {
      if (r.status === 'fulfilled') results.push(r.value);
      else {
        status = 1;
        console.error(`instructions: ${batch[k]}: ${r.reason?.message ?? r.reason}`);
      }
    }
  }
} finally {
  await db.stop();
}
const bare = results.find((r) => r.variant === 'bare');
const f1 = (x) => x.toFixed(1);
const lines = [
  `| variant | mutator, k instructions per request | × bare | GC | compilers | timers subtracted | clean windows | every window's mutator |`,
  '| --- | --: | --: | --: | --: | --: | --: | --- |',
  ...results.map(
    (r) =>
      `| ${r.variant}${r.cleanWindows > 0 ? '' : r.majorGcSuspected ? ' (no clean window, lowest shown: major GC; rerun)' : ' (no clean window, lowest shown: code re-tiered; rerun)'} | ${f1(r.mutatorK)} | ${bare ? (r.mutatorK / bare.mutatorK).toFixed(3) : '–'} | ${f1(r.gcK)} | ${f1(r.compileK)} | ${f1(r.timersK)} | ${r.cleanWindows}/${r.windows.length} | ${r.windows.map((w) => `${f1(w.mutatorK)}${w.majorGcSuspected ? ' (GC)' : w.retiered ? ' (JIT)' : ''}`).join(', ')} |`,
  ),
];
console.log(lines.join('\n'));
mkdirSync(o.out, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
const file = path.join(o.out, `instructions-${date}-node${process.versions.node.split('.')[0]}-${o.endpoint}${o.tag ? `-${o.tag}` : ''}.json`);
// The preload's own settings given to this run (the defaults variant takes them from the environment as is).
const settings = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PLANDEX_PERF_') || k.startsWith('OTEL_')));
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, machine: machine(), endpoint: o.endpoint, warmup, requests, settings, results }, null, 2)}\n`);
console.error(`wrote ${path.relative(REPO, file)}`);
process.exit(status);
