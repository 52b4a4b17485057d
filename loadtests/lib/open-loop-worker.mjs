// Spawned by open-loop.mjs: sends requests at the scheduled rates with node:http and reports one summary.
import http from 'node:http';
import { createIdSampler, mulberry32 } from './load.mjs';
import { createWeightedPick } from '../k6/lib/zipf.js';

process.once('disconnect', () => process.exit(1));
process.once('message', async (options) => {
  try {
    const result = await run(options);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (err) {
    process.send({ ok: false, error: err?.stack ?? String(err) }, () => process.exit(1));
  }
});

function createPicker(o) {
  const nextId = createIdSampler(o.ids);
  const specs = o.requests.map((r) => ({
    method: r.method ?? 'GET',
    path: r.path,
    body: r.body == null || typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
    weight: r.weight ?? 1,
  }));
  const pick = createWeightedPick(specs, mulberry32((o.ids.seed ?? 1) ^ 0x9e3779b9));
  return () => {
    const spec = pick();
    let id;
    const sub = (s) => s.replaceAll('{id}', () => (id ??= nextId()));
    return { method: spec.method, path: sub(spec.path), body: spec.body == null ? undefined : sub(spec.body) };
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

async function run(o) {
  const url = new URL(o.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets, maxFreeSockets: o.maxSockets });
  const pick = createPicker(o);
  const phases = o.schedule.map((p) => ({ name: p.name, rate: p.rate, durationSec: p.durationSec, sent: 0, ok: 0, status503: 0, otherStatus: 0, timeouts: 0, errors: 0, dropped: 0, errorKinds: {}, latencies: [] }));
  const totalSec = o.schedule.reduce((a, p) => a + p.durationSec, 0);
  const seconds = Array.from({ length: Math.ceil(totalSec) }, (_, t) => ({ t, phase: null, sent: 0, okBySend: 0, okByDone: 0 }));
  let pending = 0;
  let inFlightDone;
  const drained = new Promise((resolve) => (inFlightDone = resolve));
  let sendingDone = false;

  const send = (phase, dueAt, second) => {
    if (pending >= o.maxPending) return void phase.dropped++;
    pending++;
    phase.sent++;
    second.sent++;
    const r = pick();
    const headers = r.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body) } : {};
    let settled = false;
    /** @param {string} kind @param {number} [status] @param {string} [detail] what failed: a status code or the socket error's code */
    const settle = (kind, status, detail) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const now = performance.now();
      if (kind === 'response') {
        if (status >= 200 && status < 300) {
          phase.ok++;
          second.okBySend++;
          const done = seconds[Math.floor((now - t0) / 1000)];
          if (done) done.okByDone++;
          phase.latencies.push(now - dueAt);
        } else if (status === 503) phase.status503++;
        else {
          phase.otherStatus++;
          phase.errorKinds[`HTTP ${status}`] = (phase.errorKinds[`HTTP ${status}`] ?? 0) + 1;
        }
      } else if (kind === 'timeout') phase.timeouts++;
      else {
        phase.errors++;
        const what = detail ?? 'unknown';
        phase.errorKinds[what] = (phase.errorKinds[what] ?? 0) + 1;
      }
      if (--pending === 0 && sendingDone) inFlightDone();
    };
    const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => settle('response', res.statusCode));
      res.on('error', (err) => settle('error', undefined, `response ${err.code ?? err.message}`));
    });
    const timer = setTimeout(() => {
      settle('timeout');
      req.destroy();
    }, Math.max(1, o.timeoutMs - (performance.now() - dueAt)));
    req.on('error', (err) => settle('error', undefined, `${req.reusedSocket ? 'reused socket' : 'new socket'} ${err.code ?? err.message}`));
    req.end(r.body);
  };

  const t0 = performance.now();
  let phaseStart = t0;
  for (const phase of phases) {
    const interval = 1000 / phase.rate;
    const end = phaseStart + phase.durationSec * 1000;
    let next = phaseStart;
    for (const s of seconds.slice(Math.floor((phaseStart - t0) / 1000 + 1e-9), Math.ceil((end - t0) / 1000 - 1e-9))) s.phase ??= phase.name;
    while (next < end) {
      const now = performance.now();
      // Everything that has come due is sent now; each keeps its due time for the latency.
      while (next <= now && next < end) {
        send(phase, next, seconds[Math.floor((next - t0) / 1000)]);
        next += interval;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (performance.now() < next - 1) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    phaseStart = end;
  }
  sendingDone = true;
  if (pending > 0) await drained;
  agent.destroy();

  return {
    phases: phases.map(({ latencies, ...p }) => {
      const sorted = Float64Array.from(latencies).sort();
      return { ...p, goodput: p.ok / p.durationSec, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : null };
    }),
    perSecond: seconds,
    timeoutMs: o.timeoutMs,
  };
}
