// Forked by load.mjs: runs autocannon in its own process and sends back one
// summary message. Not meant to be run directly.

import autocannon from 'autocannon';
import { createIdSampler, mulberry32 } from './load.mjs';
import { createWeightedPick } from '../k6/lib/zipf.js';

// If the parent dies (Ctrl-C, crash), stop loading its app at once instead of
// running on for the rest of the duration.
process.once('disconnect', () => process.exit(1));

process.once('message', async (options) => {
  try {
    const result = await run(options);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (err) {
    process.send({ ok: false, error: err?.stack ?? String(err) }, () => process.exit(1));
  }
});

async function run(o) {
  const pick = createPicker(o);
  if (o.warmupSec > 0) await once(o, pick, o.warmupSec);
  return once(o, pick, o.durationSec);
}

// Turn `paths` / `requests` into a function returning the next request, with
// `{id}` substituted. The request mix is re-drawn for every request.
function createPicker(o) {
  const nextId = createIdSampler(o.ids);
  const specs = o.requests
    ? o.requests.map((r) => ({
        method: r.method ?? 'GET',
        path: r.path,
        headers: r.headers,
        body: r.body == null || typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
        json: r.body != null && typeof r.body !== 'string',
        weight: r.weight ?? 1,
      }))
    : o.paths.map((path) => ({ method: 'GET', path, weight: 1 }));

  // Own seeded PRNG for the mix, so it does not disturb the id sequence.
  const pickSpec = createWeightedPick(specs, mulberry32((o.ids.seed ?? 1) ^ 0x9e3779b9));

  return () => {
    const spec = pickSpec();
    // One id per request, shared by path and body (e.g. POST /plans/{id}/...).
    let id;
    const sub = (s) => s.replaceAll('{id}', () => (id ??= nextId()));
    const req = { method: spec.method, path: sub(spec.path) };
    if (spec.body != null) req.body = sub(spec.body);
    if (spec.headers || spec.json) {
      req.headers = { ...(spec.json ? { 'content-type': 'application/json' } : {}), ...spec.headers };
    }
    return req;
  };
}

// One autocannon run. Latencies are collected here rather than read from
// autocannon's histogram, because that histogram stores whole milliseconds
// and a trivial endpoint answers in well under 1 ms; we keep every sample
// (8 bytes each) and take exact percentiles.
function once(o, pick, durationSec) {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    let responses = 0;
    // Per-second buckets of the measured phase, for throughput and latency
    // over time: [responses, 2xx, sum of 2xx latencies, max 2xx latency].
    const seconds = [];
    const started = performance.now();

    const instance = autocannon(
      {
        url: o.baseUrl,
        connections: o.connections,
        pipelining: o.pipelining,
        duration: durationSec,
        timeout: o.timeoutSec,
        // setupRequest is called before every request; returning a fresh
        // request object makes autocannon rebuild the request bytes.
        requests: [{ setupRequest: (req) => ({ ...req, ...pick() }) }],
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsedSec = (performance.now() - started) / 1000;
        const sorted = latencies.subarray(0, count).sort();
        resolve({
          requests: responses,
          rps: responses / elapsedSec,
          latency: {
            p50: percentile(sorted, 50),
            p90: percentile(sorted, 90),
            p95: percentile(sorted, 95),
            p99: percentile(sorted, 99),
            p999: percentile(sorted, 99.9),
            max: count ? sorted[count - 1] : null,
          },
          // The whole distribution at fixed percentiles, for latency charts.
          percentiles: CURVE.map((p) => [p, percentile(sorted, p)]),
          perSecond: Array.from({ length: Math.floor(elapsedSec) }, (_, i) => seconds[i]).map((b, i) => ({ t: i + 1, responses: b?.[0] ?? 0, ok: b?.[1] ?? 0, meanMs: b?.[1] ? b[2] / b[1] : null, maxMs: b?.[3] ?? null })),
          errors: result.errors,
          non2xx: result.non2xx,
          timeouts: result.timeouts,
          durationSec: elapsedSec,
          connections: o.connections,
          statusCodes: result.statusCodeStats,
        });
      },
    );

    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++;
      const second = Math.floor((performance.now() - started) / 1000);
      const bucket = (seconds[second] ??= [0, 0, 0, 0]);
      bucket[0]++;
      // Like autocannon, only successful responses feed the latency figures.
      if (statusCode < 200 || statusCode >= 300) return;
      bucket[1]++;
      bucket[2] += responseTime;
      if (responseTime > bucket[3]) bucket[3] = responseTime;
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
    });
  });
}

// Percentiles reported as the latency curve: dense where tails live.
const CURVE = [0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.99, 100];

// Nearest-rank percentile over an ascending array; null when there is no data.
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
