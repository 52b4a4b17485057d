// The memory bench's reports scenario: the exact-size JSON document behind GET /report/:size, the
// spike schedule, and the per-round arithmetic the target is judged on.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM shared with the reference app
import { MAX_REPORT_BYTES, MIN_REPORT_BYTES, buildReport, parseReportSize } from '../../loadtests/app/report.mjs';
// @ts-expect-error plain ESM shared with the bench
import { REPORT_MIX, REPORT_VARIANTS, combinePhases, roundRatios, spikePhases, targetVerdict, unsupportedVariants } from '../../loadtests/bench/memory-levers.mjs';
// @ts-expect-error plain ESM shared with the benches
import { nodeAcceptsFlag } from '../../loadtests/lib/app-process.mjs';

const at = new Date('2026-12-02T01:58:00.000Z');

describe('buildReport', () => {
  it('serialises to exactly the size asked for, across the range and at its edges', () => {
    for (const size of [MIN_REPORT_BYTES, 1025, 1337, 9_999, 100_003, 102_400, 262_144, 524_288, 1_048_576, MAX_REPORT_BYTES]) {
      const json = JSON.stringify(buildReport(size, at));
      expect(json.length, `size ${size}`).toBe(size);
      expect(Buffer.byteLength(json), `bytes of ${size}`).toBe(size); // ASCII only: characters are bytes
    }
  });

  it('is made of rows, not padding: all but less than one row of it', () => {
    const report = buildReport(1_048_576, at);
    const rowBytes = JSON.stringify(report.rows[0]).length;
    expect(report.row_count).toBe(report.rows.length);
    expect(report.rows.length).toBeGreaterThan(3000);
    expect(report.pad.length).toBeLessThan(rowBytes + 1);
    expect(new Set(report.rows.map((r: { id: number }) => r.id)).size).toBe(report.rows.length);
  });

  it('gives the same document for the same size and time', () => {
    expect(JSON.stringify(buildReport(262_144, at))).toBe(JSON.stringify(buildReport(262_144, at)));
  });

  it('refuses sizes outside the range', () => {
    for (const bad of [0, MIN_REPORT_BYTES - 1, MAX_REPORT_BYTES + 1, 1.5, Number.NaN]) expect(() => buildReport(bad, at)).toThrow(RangeError);
  });
});

describe('parseReportSize', () => {
  it('accepts byte counts in range and nothing else', () => {
    expect(parseReportSize('102400')).toBe(102_400);
    expect(parseReportSize(String(MAX_REPORT_BYTES))).toBe(MAX_REPORT_BYTES);
    for (const bad of ['', '0', '01024', '1023', String(MAX_REPORT_BYTES + 1), '1e6', '100k', '-5', '12345678901']) expect(parseReportSize(bad), bad).toBeNull();
  });

  it('covers every size of the bench mix', () => {
    for (const { path } of REPORT_MIX) expect(parseReportSize(path.split('/').at(-1))).not.toBeNull();
  });
});

describe('spikePhases', () => {
  it('alternates base and spike phases, cycles times', () => {
    expect(spikePhases({ baseConnections: 8, spikeConnections: 64, baseSec: 3, spikeSec: 5, cycles: 2 })).toEqual([
      { phase: 'base', connections: 8, durationSec: 3 },
      { phase: 'spike', connections: 64, durationSec: 5 },
      { phase: 'base', connections: 8, durationSec: 3 },
      { phase: 'spike', connections: 64, durationSec: 5 },
    ]);
  });

  it('refuses a spike that is not one, and non-positive figures', () => {
    expect(() => spikePhases({ baseConnections: 8, spikeConnections: 8, baseSec: 1, spikeSec: 1, cycles: 1 })).toThrow(/spikeConnections/);
    expect(() => spikePhases({ baseConnections: 8, spikeConnections: 64, baseSec: 0, spikeSec: 1, cycles: 1 })).toThrow(/baseSec/);
  });
});

describe('combinePhases', () => {
  const result = (durationSec: number, codes: Record<string, number>, p99: number) => ({
    durationSec,
    requests: Object.values(codes).reduce((a, b) => a + b, 0),
    errors: 0,
    timeouts: 1,
    latency: { p50: p99 / 4, p99 },
    statusCodes: Object.fromEntries(Object.entries(codes).map(([c, count]) => [c, { count }])),
  });

  it('sums counts, takes throughput over the loaded time from 2xx only, and keeps spike and base p99 apart', () => {
    const c = combinePhases([
      { phase: 'base', result: result(2, { 200: 100 }, 10) },
      { phase: 'spike', result: result(2, { 200: 150, 503: 50 }, 80) },
      { phase: 'base', result: result(2, { 200: 110 }, 14) },
      { phase: 'spike', result: result(2, { 200: 140, 503: 60 }, 100) },
    ]);
    expect(c.statusCodes).toEqual({ 200: 500, 503: 110 });
    expect(c.ok).toBe(500);
    expect(c.requests).toBe(610);
    expect(c.timeouts).toBe(4);
    expect(c.rps).toBe(500 / 8);
    expect(c.p99).toBe(90);
    expect(c.p99Base).toBe(12);
  });
});

describe('roundRatios', () => {
  it('divides by the baseline of the same round, then takes the median over rounds', () => {
    const runs = [
      { variant: 'bare', round: 1, hwmMB: 200, rps: 100 },
      { variant: 'semi-4', round: 1, hwmMB: 100, rps: 95 },
      // A slow round for everyone: per-round ratios stay put where medians of absolutes would not.
      { variant: 'bare', round: 2, hwmMB: 200, rps: 50 },
      { variant: 'semi-4', round: 2, hwmMB: 120, rps: 45 },
      { variant: 'bare', round: 3, hwmMB: 220, rps: 110 },
      { variant: 'semi-4', round: 3, hwmMB: 110, rps: 99 },
      { variant: 'semi-4', round: 4, hwmMB: 1, rps: 1 }, // no baseline in round 4: skipped
    ];
    const r = roundRatios(runs, 'bare', ['hwmMB', 'rps']);
    expect(Object.keys(r)).toEqual(['semi-4']);
    expect(r['semi-4'].rounds).toBe(3);
    expect(r['semi-4'].hwmMB).toBeCloseTo(0.5, 10);
    expect(r['semi-4'].rps).toBeCloseTo(0.9, 10);
  });
});

describe('targetVerdict and the variants', () => {
  it('needs both halves of the target', () => {
    expect(targetVerdict({ peakRss: 0.6, throughput: 0.9 })).toEqual({ rss: true, throughput: true, both: true });
    expect(targetVerdict({ peakRss: 0.61, throughput: 1.2 }).both).toBe(false);
    expect(targetVerdict({ peakRss: 0.3, throughput: 0.89 }).both).toBe(false);
    expect(targetVerdict({ peakRss: null, throughput: null }).both).toBe(false);
  });

  it('has one baseline and each lever alone', () => {
    const names = REPORT_VARIANTS.map((v: { name: string }) => v.name);
    expect(names[0]).toBe('bare');
    expect(new Set(names).size).toBe(names.length);
    const levers = REPORT_VARIANTS.filter((v: { launch: string }) => v.launch === 'bare').slice(1);
    for (const v of levers) expect((v.nodeArgs?.length ?? 0) + Object.keys(v.env ?? {}).length, v.name).toBe(1);
  });
});

describe('variants that need a flag the node lacks', () => {
  it('are skipped with the reason, asking once per flag, only among the selected ones', () => {
    const asked: string[] = [];
    const without = unsupportedVariants(['bare', 'old-pct-1', 'semi-4'], (flag: string) => (asked.push(flag), false), 'v22.15.0');
    expect(without).toEqual([
      { name: 'old-pct-1', flag: '--max-old-space-size-percentage', reason: 'Node v22.15.0 does not accept --max-old-space-size-percentage (not in its process.allowedNodeEnvironmentFlags)' },
    ]);
    expect(asked).toEqual(['--max-old-space-size-percentage']);
    expect(unsupportedVariants(['bare', 'old-pct-1'], () => true)).toEqual([]);
    expect(unsupportedVariants(['bare', 'semi-4'], () => false)).toEqual([]); // old-pct-1 not selected: nothing to say
  });

  it('are told apart by asking the node the bench launches', () => {
    // The same binary startApp spawns (process.execPath), asked in a child process.
    expect(nodeAcceptsFlag('--max-old-space-size')).toBe(true);
    expect(nodeAcceptsFlag('--no-such-flag-for-the-memory-bench')).toBe(false);
    expect(nodeAcceptsFlag('--max-old-space-size-percentage')).toBe(process.allowedNodeEnvironmentFlags.has('--max-old-space-size-percentage'));
  });
});
