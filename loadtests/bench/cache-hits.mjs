#!/usr/bin/env node
// L1 hit throughput of a cached function, side by side in one run:
//   bare       the function itself (no cache): the ceiling
//   ours       cached() from @plandex-perf/register/api (plugins/cache), an L1 hit
//   bentocache bentocache's memory driver, getOrSet with the same key text
//   cacheable  cacheable's wrap() (its in-memory primary store)
//
//   npm run build && node loadtests/bench/cache-hits.mjs          (5 rounds × 1 s per variant)
//   BENCH_ROUNDS=9 BENCH_SECONDS=2 node loadtests/bench/cache-hits.mjs
//   BENCH_PIN=0  (no taskset; see ../lib/cpu.mjs)   --write  (also write loadtests/results/cache-hits-<date>-node<major>.{json,md})
//
// The work: an async function of two small arguments (a user id among 100 and a status string),
// awaited call by call as an app would. Every variant is warmed up on the same 100 keys first, so
// the measured calls are all hits; the loop yields to the event loop every 1000 calls. Variants are interleaved round by round and the median of the
// rounds is reported, with ratios to `ours`. The process pins itself to one CPU when it can: the
// target is ≥ 1 M wrapped hits/s on one core. bentocache and cacheable are dev dependencies of this
// benchmark only.

import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin } from '../lib/cpu.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const TARGET = 1_000_000;

if (process.env.BENCH_CACHE_CHILD !== '1' && process.env.BENCH_PIN !== '0' && canPin(0)) {
  const run = spawnSync('taskset', ['-c', '0', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_CACHE_CHILD: '1', BENCH_PINNED: '0' },
  });
  process.exit(run.status ?? 1);
}

const { cached } = await import(path.join(REPO, 'dist/plugins/cache/public.js'));
const { BentoCache, bentostore } = await import('bentocache');
const { memoryDriver } = await import('bentocache/drivers/memory');
const { Cacheable } = await import('cacheable');

const STATUSES = ['active', 'trial', 'cancelled'];
async function getUserPlans(userId, status) {
  return { userId, status, plans: [{ id: userId * 10, name: 'pro' }] };
}

const bento = new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver({ maxSize: '64mb' })) } });
const cacheable = new Cacheable({ ttl: '1h' });

const variants = {
  bare: getUserPlans,
  ours: cached(getUserPlans, { ttl: '1h' }),
  bentocache: (userId, status) => bento.getOrSet({ key: `plans:${userId}:${status}`, ttl: '1h', factory: () => getUserPlans(userId, status) }),
  cacheable: cacheable.wrap(getUserPlans, { ttl: '1h', keyPrefix: 'plans' }),
};

async function measure(fn, seconds) {
  let calls = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let now = started;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) {
      await fn(i % 100, STATUSES[i % 3]);
    }
    calls += 1000;
    // A server yields to the event loop between requests; so does this loop, so timers (and clocks
    // cached with them, ours and lru-cache's) run as they would in an app.
    await new Promise(setImmediate);
    now = performance.now();
  }
  return calls / ((now - started) / 1000);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const fn of Object.values(variants)) {
  for (let i = 0; i < 300; i++) await fn(i % 100, STATUSES[i % 3]); // fill: every measured call is a hit
  await measure(fn, 0.3); // JIT warm-up
}
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(variants)) samples[name].push(await measure(fn, SECONDS));
  process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
}

const results = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, { median: median(xs), samples: xs.map(Math.round) }]));
const ours = results.ours.median;
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);
const date = new Date().toISOString().slice(0, 10);
const machine = `${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
const lines = [
  `# Cache L1 hit throughput (${date}, Node ${process.versions.node})`,
  '',
  `Machine: ${machine}; pinned to one CPU: ${process.env.BENCH_PINNED === '0' ? 'yes (CPU 0)' : 'no'}. ${ROUNDS} rounds × ${SECONDS} s per variant, interleaved; medians.`,
  '',
  '| Variant | Hits/s (median) | vs ours |',
  '| --- | ---: | ---: |',
  ...Object.entries(results).map(([name, r]) => `| ${name} | ${fmt(r.median)} | ${(r.median / ours).toFixed(2)}× |`),
  '',
  `Target ≥ ${fmt(TARGET)} wrapped hits/s: ${ours >= TARGET ? '✓' : '✗'} (${fmt(ours)}).`,
];
console.log(lines.join('\n'));
if (process.argv.includes('--write')) {
  const dir = path.join(REPO, 'loadtests/results');
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, `cache-hits-${date}-node${process.versions.node.split('.')[0]}`);
  await writeFile(`${base}.json`, JSON.stringify({ date, node: process.versions.node, machine, rounds: ROUNDS, seconds: SECONDS, results }, null, 2));
  await writeFile(`${base}.md`, `${lines.join('\n')}\n`);
}
await bento.disconnectAll?.();
process.exit(0);
