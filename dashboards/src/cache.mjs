/**
 * Cache: hit ratio, latency and size of the two-level cache (L1 in process, L2 in Redis), its
 * circuit breaker and its invalidation bus. Every metric here is pending: the cache plugin has not
 * shipped, and ../pending-metrics.json lists the names it will use (with type, unit and attributes).
 */
import { cache } from './metrics.mjs';
import { UIDS, dashboard, quantile, rate, row, sel, stat, sumBy, svc, timeseries } from './panels.mjs';

const LEVEL = 'plandex_perf_cache_level';
const RESULT = 'plandex_perf_cache_result';
const requests = (/** @type {string} */ by, /** @type {string} */ where = '') => sumBy(by, rate(cache.requests, where ? { where } : {}));
const overview = { title: 'Overview', uid: UIDS.overview };

export default function cacheDashboard() {
  return dashboard({
    uid: UIDS.cache,
    title: 'plandex-perf / Cache',
    description: 'The two-level cache: hits and misses per level, latency, L1 size, evictions, request coalescing, the L2 circuit breaker and the invalidation bus. (Pending: the cache plugin is not released yet.)',
    panels: [
      row('Effectiveness'),
      stat({ title: 'L1 hit ratio', description: 'Share of L1 lookups that hit.', unit: 'percentunit', decimals: 1, links: [overview] }, {
        expr: `${requests('', `${LEVEL}="l1", ${RESULT}="hit"`)} / ${requests('', `${LEVEL}="l1"`)}`,
      }),
      stat({ title: 'L2 hit ratio', description: 'Share of L2 (Redis) lookups that hit.', unit: 'percentunit', decimals: 1 }, {
        expr: `${requests('', `${LEVEL}="l2", ${RESULT}="hit"`)} / ${requests('', `${LEVEL}="l2"`)}`,
      }),
      stat({ title: 'Stale served', description: 'Share of lookups answered with a stale value (stale-while-revalidate or L2 down).', unit: 'percentunit', decimals: 2 }, {
        expr: `${requests('', `${RESULT}="stale"`)} / ${requests('')}`,
      }),
      stat({ title: 'Coalesced / s', description: 'Lookups that joined an in-flight load instead of loading again (stampede protection).', unit: 'ops' }, {
        expr: sumBy('', rate(cache.coalesced)),
      }),
      timeseries({ title: 'Lookups / s by level and result', description: 'hit, miss and stale per level.', unit: 'ops', stack: true }, [
        { expr: requests(`${LEVEL}, ${RESULT}`), legend: '{{plandex_perf_cache_level}} {{plandex_perf_cache_result}}' },
      ]),
      timeseries({ title: 'Hit ratio by level', description: 'Hits / all lookups per level.', unit: 'percentunit', min: 0, max: 1 }, [
        { expr: `${requests(LEVEL, `${RESULT}="hit"`)} / ${requests(LEVEL)}`, legend: '{{plandex_perf_cache_level}}' },
      ]),
      row('Latency and size'),
      timeseries({ title: 'Lookup duration by level', description: 'p50, p95 and p99 per level.', unit: 's', w: 8 }, [
        { expr: quantile(0.5, cache.duration, LEVEL), legend: 'p50 {{plandex_perf_cache_level}}' },
        { expr: quantile(0.95, cache.duration, LEVEL), legend: 'p95 {{plandex_perf_cache_level}}' },
        { expr: quantile(0.99, cache.duration, LEVEL), legend: 'p99 {{plandex_perf_cache_level}}' },
      ]),
      timeseries({ title: 'L1 size', description: 'Bytes held by the in-process cache (bounded by the profile’s cacheL1Bytes).', unit: 'bytes', min: 0, w: 8 }, [
        { expr: sumBy('instance', svc(sel(cache.l1Bytes))), legend: '{{instance}}' },
      ]),
      timeseries({ title: 'L1 entries', description: 'Entries in the in-process cache.', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('instance', svc(sel(cache.l1Entries))), legend: '{{instance}}' },
      ]),
      row('Health'),
      timeseries({ title: 'Evictions / s', description: 'Entries dropped to stay within the L1 bound.', unit: 'ops', min: 0, w: 8 }, [
        { expr: sumBy('instance', rate(cache.evictions)), legend: '{{instance}}' },
      ]),
      timeseries({ title: 'L2 circuit breaker', description: '0 closed (Redis in use), 1 half-open (probing), 2 open (Redis skipped, L1 only).', unit: 'short', min: 0, max: 2, decimals: 0, w: 8, thresholds: [{ value: 1, color: 'orange' }, { value: 2, color: 'red' }] }, [
        { expr: `max by (instance) (${svc(sel(cache.breakerState))})`, legend: '{{instance}}' },
      ]),
      timeseries({ title: 'Invalidation bus messages / s', description: 'Messages on the bus that keeps the L1 caches of all instances consistent.', unit: 'ops', min: 0, w: 8 }, [
        { expr: sumBy('instance', rate(cache.busMessages)), legend: '{{instance}}' },
      ]),
    ],
  });
}
