import type { Meter } from '@opentelemetry/api';
import type { Engine } from './engine.js';
import * as sc from './semconv.js';

/**
 * The cache's instruments. Counts are plain numbers on the engine, observed at scrape time; only L2 and
 * origin durations go into a histogram (an L1 hit is not timed: timing it would cost as much as the hit).
 */
export function registerMetrics(meter: Meter, engine: Engine): void {
  const duration = meter.createHistogram(sc.METRIC_CACHE_DURATION, {
    description: 'Duration of an L2 lookup or an origin call.',
    unit: 's',
    advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
  });
  const l2 = { [sc.ATTR_CACHE_LEVEL]: 'l2' };
  const origin = { [sc.ATTR_CACHE_LEVEL]: 'origin' };
  engine.onDuration = (level, seconds) => duration.record(seconds, level === 'l2' ? l2 : origin);

  const requests = meter.createObservableCounter(sc.METRIC_CACHE_REQUESTS, { description: 'Cache lookups by level and result; level origin counts calls that reached the function.', unit: '{request}' });
  const bytes = meter.createObservableGauge(sc.METRIC_CACHE_L1_BYTES, { description: 'Bytes held by the in-process (L1) cache (estimated).', unit: 'By' });
  const entries = meter.createObservableGauge(sc.METRIC_CACHE_L1_ENTRIES, { description: 'Entries in the in-process (L1) cache.', unit: '{entry}' });
  const evictions = meter.createObservableCounter(sc.METRIC_CACHE_EVICTIONS, { description: 'L1 entries evicted to stay within the size budget.', unit: '{entry}' });
  const coalesced = meter.createObservableCounter(sc.METRIC_CACHE_COALESCED, { description: 'Lookups that joined an in-flight load instead of starting another.', unit: '{request}' });
  const breaker = meter.createObservableGauge(sc.METRIC_CACHE_BREAKER_STATE, { description: 'L2 circuit breaker: 0 closed, 1 half-open, 2 open.', unit: '{state}' });
  const bus = meter.createObservableCounter(sc.METRIC_CACHE_BUS_MESSAGES, { description: 'Messages on the invalidation bus.', unit: '{message}' });

  const attrs = (level: string, result: string) => ({ [sc.ATTR_CACHE_LEVEL]: level, [sc.ATTR_CACHE_RESULT]: result });
  const a = {
    l1Hit: attrs('l1', 'hit'),
    l1Miss: attrs('l1', 'miss'),
    l1Stale: attrs('l1', 'stale'),
    l2Hit: attrs('l2', 'hit'),
    l2Miss: attrs('l2', 'miss'),
    l2Stale: attrs('l2', 'stale'),
    origin: attrs('origin', 'miss'),
  };
  const sent = { [sc.ATTR_CACHE_BUS_DIRECTION]: 'sent' };
  const received = { [sc.ATTR_CACHE_BUS_DIRECTION]: 'received' };
  meter.addBatchObservableCallback(
    (batch) => {
      const s = engine.stats;
      batch.observe(requests, s.l1Hit, a.l1Hit);
      batch.observe(requests, s.l1Miss, a.l1Miss);
      batch.observe(requests, s.l1Stale, a.l1Stale);
      if (engine.l2) {
        batch.observe(requests, s.l2Hit, a.l2Hit);
        batch.observe(requests, s.l2Miss, a.l2Miss);
        batch.observe(requests, s.l2Stale, a.l2Stale);
        batch.observe(breaker, engine.l2.state);
      }
      batch.observe(requests, s.origin, a.origin);
      batch.observe(bytes, engine.l1.bytes);
      batch.observe(entries, engine.l1.entries);
      batch.observe(evictions, engine.l1.evictions);
      batch.observe(coalesced, s.coalesced);
      if (engine.bus) {
        batch.observe(bus, s.busSent, sent);
        batch.observe(bus, s.busReceived, received);
      }
    },
    [requests, bytes, entries, evictions, coalesced, breaker, bus],
  );
}
