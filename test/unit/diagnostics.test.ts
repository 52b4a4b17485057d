import type { IncomingMessage } from 'node:http';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decideAccess, isLoopback, shouldServe, tokensMatch } from '../../plugins/diagnostics/access.js';
import { heapSnapshotFit, readAvailableMemory, readCgroupLimit, type FitInput } from '../../plugins/diagnostics/fit.js';
import { HeavyGate, TokenBucket } from '../../plugins/diagnostics/rate-limit.js';
import { parseSeconds } from '../../plugins/diagnostics/respond.js';
import { GcStats } from '../../plugins/diagnostics/runtime-stats.js';
import { schema } from '../../plugins/diagnostics/schema.js';

const TOKEN = 'a-token-of-16-chars-or-more';

describe('loopback', () => {
  it('knows loopback names and addresses, including IPv4-mapped ones', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', '::ffff:10.0.0.1', 'example.com', '', undefined]) expect(isLoopback(host), String(host)).toBe(false);
  });

  it('serves off loopback only with a token', () => {
    expect(shouldServe('127.0.0.1', undefined)).toBe(true);
    expect(shouldServe('0.0.0.0', undefined)).toBe(false);
    expect(shouldServe('0.0.0.0', TOKEN)).toBe(true);
    expect(shouldServe(undefined, undefined)).toBe(false);
  });
});

describe('access decision', () => {
  const base = { boundHost: '127.0.0.1', remoteAddress: '127.0.0.1', token: undefined, authorization: undefined };

  it('lets loopback callers of a loopback-bound server in, token or not', () => {
    expect(decideAccess(base)).toEqual({ allowed: true });
    expect(decideAccess({ ...base, token: TOKEN })).toEqual({ allowed: true });
    expect(decideAccess({ ...base, remoteAddress: '::ffff:127.0.0.1' })).toEqual({ allowed: true });
  });

  it('asks everyone for the token when the server is bound off loopback, loopback callers included', () => {
    const open = { ...base, boundHost: '0.0.0.0', token: TOKEN };
    expect(decideAccess(open)).toMatchObject({ allowed: false, reason: expect.stringContaining('missing') });
    expect(decideAccess({ ...open, authorization: `Bearer ${TOKEN}` })).toEqual({ allowed: true });
    expect(decideAccess({ ...open, authorization: `bearer ${TOKEN}` })).toEqual({ allowed: true });
    expect(decideAccess({ ...open, authorization: `Bearer ${TOKEN}x` })).toMatchObject({ allowed: false, reason: 'wrong token' });
    expect(decideAccess({ ...open, authorization: `Basic ${TOKEN}` }).allowed).toBe(false);
    expect(decideAccess({ ...open, authorization: 'Bearer' }).allowed).toBe(false);
  });

  it('asks a non-loopback caller for the token, and refuses it when none is configured', () => {
    expect(decideAccess({ ...base, remoteAddress: '10.1.2.3' })).toMatchObject({ allowed: false, reason: expect.stringContaining('none is configured') });
    expect(decideAccess({ ...base, remoteAddress: '10.1.2.3', token: TOKEN, authorization: `Bearer ${TOKEN}` })).toEqual({ allowed: true });
    expect(decideAccess({ ...base, remoteAddress: undefined, token: TOKEN }).allowed).toBe(false);
  });

  it('compares tokens of any length without throwing', () => {
    expect(tokensMatch(TOKEN, TOKEN)).toBe(true);
    expect(tokensMatch('short', TOKEN)).toBe(false);
    expect(tokensMatch(`${TOKEN}${TOKEN}`, TOKEN)).toBe(false);
    expect(tokensMatch('', TOKEN)).toBe(false);
  });
});

describe('heap snapshot fit', () => {
  const MiB = 2 ** 20;
  const roomy: FitInput = {
    budgetState: 'ok', heapUsed: 100 * MiB, rss: 200 * MiB, cgroupLimit: undefined,
    profileMemory: 16384 * MiB, profileName: 'server-16g', availableMemory: 8192 * MiB, diskFree: 50_000 * MiB, tmpfs: false,
  };

  it('fits with room, and without the heap-budget plugin; estimates 8 × the used heap', () => {
    expect(heapSnapshotFit(roomy)).toEqual({ fits: true, needBytes: 800 * MiB, fileBytes: 200 * MiB });
    expect(heapSnapshotFit({ ...roomy, budgetState: undefined }).fits).toBe(true);
  });

  it('is refused while the heap budget is soft or shedding', () => {
    expect(heapSnapshotFit({ ...roomy, budgetState: 'shedding' })).toMatchObject({ fits: false, reason: expect.stringContaining('"shedding"') });
    expect(heapSnapshotFit({ ...roomy, budgetState: 'soft' })).toMatchObject({ fits: false, reason: expect.stringContaining('"soft"') });
  });

  it('refuses the case measured in the issue: a 299 MB heap in a 512 MB container (+2.2 GB RSS)', () => {
    const container = { ...roomy, heapUsed: 299 * MiB, rss: 400 * MiB, cgroupLimit: 512 * MiB, profileMemory: 512 * MiB, profileName: 'container-512m' };
    expect(heapSnapshotFit(container)).toMatchObject({ fits: false, reason: expect.stringContaining("container's memory limit of 512 MiB") });
    // Even a small heap does not fit 512 MB once RSS is counted: 40 MB × 8 = 320 MB on top of 250 MB.
    expect(heapSnapshotFit({ ...container, heapUsed: 40 * MiB, rss: 250 * MiB }).fits).toBe(false);
    expect(heapSnapshotFit({ ...container, heapUsed: 20 * MiB, rss: 150 * MiB }).fits).toBe(true);
  });

  it('checks each limit: cgroup, the profile, the memory the system has left, and the disk', () => {
    expect(heapSnapshotFit({ ...roomy, profileMemory: 4096 * MiB, profileName: 'laptop-4g', heapUsed: 500 * MiB })).toMatchObject({ fits: false, reason: expect.stringContaining('profile "laptop-4g"') });
    expect(heapSnapshotFit({ ...roomy, availableMemory: 700 * MiB })).toMatchObject({ fits: false, reason: expect.stringContaining('the system has available') });
    expect(heapSnapshotFit({ ...roomy, diskFree: 240 * MiB })).toMatchObject({ fits: false, reason: expect.stringContaining('temporary directory') });
    expect(heapSnapshotFit({ ...roomy, diskFree: 260 * MiB }).fits).toBe(true);
  });

  it('counts the file as memory when the temporary directory is tmpfs', () => {
    expect(heapSnapshotFit({ ...roomy, tmpfs: true })).toMatchObject({ fits: true, needBytes: 1000 * MiB });
    expect(heapSnapshotFit({ ...roomy, availableMemory: 900 * MiB }).fits).toBe(true);
    expect(heapSnapshotFit({ ...roomy, availableMemory: 900 * MiB, tmpfs: true }).fits).toBe(false);
  });

  it('reads cgroup v2 and v1 limits, "max" and v1\'s huge number as none', () => {
    const files = (map: Record<string, string>) => (file: string) => {
      if (file in map) return map[file]!;
      throw new Error('ENOENT');
    };
    expect(readCgroupLimit(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).toBe(512 * MiB);
    expect(readCgroupLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeUndefined();
    expect(readCgroupLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '268435456' }))).toBe(256 * MiB);
    expect(readCgroupLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }))).toBeUndefined();
    expect(readCgroupLimit(files({}))).toBeUndefined();
    expect(readAvailableMemory(files({ '/proc/meminfo': 'MemTotal:       24684000 kB\nMemAvailable:    1024 kB\n' }))).toBe(1024 * 1024);
  });
});

describe('rate limits', () => {
  it('one heavy operation at a time (409), then a pause (429), each with a Retry-After', () => {
    let now = 0;
    const gate = new HeavyGate(10_000, () => now);
    const first = gate.tryAcquire('CPU profile', 5000);
    expect(first.ok).toBe(true);
    now = 1000;
    expect(gate.tryAcquire('heap snapshot', 1000)).toMatchObject({ ok: false, status: 409, retryAfterSeconds: 14 });
    now = 5000;
    if (first.ok) {
      first.release();
      first.release(); // a second release changes nothing
    }
    now = 7000;
    expect(gate.tryAcquire('CPU profile', 1000)).toMatchObject({ ok: false, status: 429, retryAfterSeconds: 8 });
    now = 15_000;
    expect(gate.tryAcquire('CPU profile', 1000).ok).toBe(true);
  });

  it('with minIntervalMs 0, only the one-at-a-time rule holds', () => {
    const now = 0;
    const gate = new HeavyGate(0, () => now);
    const a = gate.tryAcquire('x', 100);
    expect(gate.tryAcquire('y', 100)).toMatchObject({ status: 409, retryAfterSeconds: 1 });
    if (a.ok) a.release();
    expect(gate.tryAcquire('y', 100).ok).toBe(true);
  });

  it('token bucket: a burst of `capacity`, then `perSecond`', () => {
    let now = 0;
    const bucket = new TokenBucket(5, 5, () => now);
    for (let i = 0; i < 5; i++) expect(bucket.take().ok).toBe(true);
    expect(bucket.take()).toEqual({ ok: false, retryAfterSeconds: 1 });
    now = 200; // one token back
    expect(bucket.take().ok).toBe(true);
    expect(bucket.take().ok).toBe(false);
    now = 60_000; // never more than the capacity
    for (let i = 0; i < 5; i++) expect(bucket.take().ok).toBe(true);
    expect(bucket.take().ok).toBe(false);
  });
});

describe('request parsing', () => {
  const req = (url: string) => ({ url }) as IncomingMessage;
  it('reads ?seconds= with a default and a maximum', () => {
    expect(parseSeconds(req('/debug/cpu-profile'), 10, 60)).toEqual({ ms: 10_000 });
    expect(parseSeconds(req('/debug/cpu-profile?seconds=1.5'), 10, 60)).toEqual({ ms: 1500 });
    expect(parseSeconds(req('/debug/cpu-profile?seconds=60'), 10, 60)).toEqual({ ms: 60_000 });
    expect(parseSeconds(req('/debug/cpu-profile?seconds=61'), 10, 60)).toHaveProperty('error');
    expect(parseSeconds(req('/debug/cpu-profile?seconds=0'), 10, 60)).toHaveProperty('error');
    expect(parseSeconds(req('/debug/cpu-profile?seconds=-1'), 10, 60)).toHaveProperty('error');
    expect(parseSeconds(req('/debug/cpu-profile?seconds=ten'), 10, 60)).toHaveProperty('error');
  });
});

describe('GC statistics', () => {
  it('counts by kind with total and longest pause, in fixed records', () => {
    const gc = new GcStats();
    gc.record('minor', 1);
    gc.record('minor', 3);
    gc.record('major', 20);
    const read = gc.read();
    expect(read.byType.minor).toEqual({ count: 2, totalMs: 4, maxMs: 3 });
    expect(read.byType.major).toEqual({ count: 1, totalMs: 20, maxMs: 20 });
    expect(Object.keys(read.byType)).toEqual(['major', 'minor', 'incremental', 'weakcb']);
    expect(read.count).toBe(3);
    expect(read.totalMs).toBe(24);
  });

  it("hears real collections through the preload's one GC observer, and stops hearing them when stopped", async () => {
    v8.setFlagsFromString('--expose-gc');
    const collect = vm.runInNewContext('gc') as () => void;
    const gc = new GcStats();
    gc.start();
    gc.start(); // a second start does not subscribe twice
    collect();
    await new Promise((resolve) => setTimeout(resolve, 50)); // observers are told asynchronously
    const heard = gc.read().byType.major.count;
    expect(heard).toBeGreaterThanOrEqual(1);
    gc.stop();
    collect();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gc.read().byType.major.count).toBe(heard);
  });
});

describe('options', () => {
  it('has documented defaults and refuses a short token', () => {
    expect(schema.defaults()).toEqual({ minIntervalMs: 10_000, cpuProfileSeconds: 10, maxCpuProfileSeconds: 60, heapSnapshot: true, downloadStallMs: 30_000, authFailures: 10, authBackoffSeconds: 60, snapshotsPerSecond: 5 });
    for (const field of Object.values(schema.fields)) expect(field.meta.description.length).toBeGreaterThan(20);
    const parsed = schema.safeParse({ token: 'short' });
    expect(parsed.success).toBe(false);
  });
});
