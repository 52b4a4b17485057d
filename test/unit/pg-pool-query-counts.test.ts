import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../plugins/pg-pool/fingerprint.js';
import { QueryCounts } from '../../plugins/pg-pool/query-counts.js';

describe('pg-pool: per-request query counts (N+1 detection)', () => {
  it('counts by text and sums per fingerprint at the end: texts that differ only by literals are one query', () => {
    const counts = new QueryCounts();
    counts.add('select * from users where id = $1');
    for (let id = 0; id < 12; id++) counts.add(`select * from posts where user_id = ${id}`);
    counts.add('select * from users where id = $1');
    expect(counts.total).toBe(14);
    const byFp = counts.byFingerprint(fingerprint);
    expect(byFp.get(fingerprint('select * from posts where user_id = 1'))).toBe(12);
    expect(byFp.get(fingerprint('select * from users where id = $1'))).toBe(2);
    expect(byFp.size).toBe(2);
  });

  it('keeps at most 1 000 distinct texts per request, while the total counts every query', () => {
    const counts = new QueryCounts();
    for (let i = 0; i < 5000; i++) counts.add(`select ${i} as "c${i}"`); // distinct texts and fingerprints
    expect(counts.total).toBe(5000);
    expect(counts.byFingerprint(fingerprint).size).toBe(1000);
  });
});
