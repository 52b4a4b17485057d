import { describe, expect, it } from 'vitest';
import { decideAccess, failureKey, isTrustedCaller } from '../../plugins/diagnostics/access.js';
import { AuthFailureLog } from '../../plugins/diagnostics/auth-log.js';
import { FailureLimiter, TokenBucket } from '../../plugins/diagnostics/rate-limit.js';

const TOKEN = 'a-token-of-16-chars-or-more';

describe('failed token checks, per address', () => {
  it('allows a burst of N failures, then 429 with Retry-After until the allowance refills', () => {
    let now = 0;
    const limiter = new FailureLimiter(10, 60_000, 1024, () => now);
    for (let i = 0; i < 10; i++) {
      expect(limiter.check('10.0.0.1').ok).toBe(true);
      limiter.fail('10.0.0.1');
    }
    // One attempt back every 60 s / 10 = 6 s.
    expect(limiter.check('10.0.0.1')).toEqual({ ok: false, retryAfterSeconds: 6 });
    expect(limiter.check('10.0.0.2')).toEqual({ ok: true }); // another address is not affected
    now = 5_000;
    expect(limiter.check('10.0.0.1')).toEqual({ ok: false, retryAfterSeconds: 1 });
    now = 6_000;
    expect(limiter.check('10.0.0.1').ok).toBe(true);
    limiter.fail('10.0.0.1');
    expect(limiter.check('10.0.0.1').ok).toBe(false);
    now = 66_000; // a full back-off: the whole burst is back
    for (let i = 0; i < 10; i++) limiter.fail('10.0.0.1');
    expect(limiter.check('10.0.0.1').ok).toBe(false);
  });

  it('checking does not use up the allowance', () => {
    const limiter = new FailureLimiter(2, 1000, 1024, () => 0);
    for (let i = 0; i < 100; i++) expect(limiter.check('a').ok).toBe(true);
    limiter.fail('a');
    expect(limiter.check('a').ok).toBe(true);
    limiter.fail('a');
    expect(limiter.check('a').ok).toBe(false);
  });

  it('remembers at most maxAddresses, forgetting the least recently failed', () => {
    const limiter = new FailureLimiter(1, 60_000, 3, () => 0);
    for (const address of ['a', 'b', 'c']) limiter.fail(address);
    limiter.fail('a'); // a is now the most recent
    limiter.fail('d');
    expect(limiter.size).toBe(3);
    expect(limiter.check('b').ok).toBe(true); // forgotten
    expect(limiter.check('a').ok).toBe(false);
    expect(limiter.check('d').ok).toBe(false);
  });

  it('token bucket peek does not take', () => {
    const bucket = new TokenBucket(1, 1, () => 0);
    expect(bucket.peek().ok).toBe(true);
    expect(bucket.take().ok).toBe(true);
    expect(bucket.peek().ok).toBe(false);
  });
});

describe('failure keys and trusted callers', () => {
  it('keys IPv4 (plain or mapped) by address and IPv6 by /64', () => {
    expect(failureKey('10.1.2.3')).toBe('10.1.2.3');
    expect(failureKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(failureKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(failureKey('2001:db8:0:1:bbbb:cccc:dddd:eeee')).toBe('2001:db8:0:1::/64');
    expect(failureKey('2001:0db8::1')).toBe('2001:db8:0:0::/64');
    expect(failureKey(undefined)).toBe('unknown');
  });

  it('trusts only loopback callers of a loopback-bound server, who are never asked for a token', () => {
    expect(isTrustedCaller('127.0.0.1', '127.0.0.1')).toBe(true);
    expect(isTrustedCaller('0.0.0.0', '127.0.0.1')).toBe(false);
    expect(isTrustedCaller('127.0.0.1', '10.0.0.1')).toBe(false);
  });

  it('says why a caller was refused, as a fixed label', () => {
    const open = { boundHost: '0.0.0.0', remoteAddress: '10.0.0.1', token: TOKEN };
    expect(decideAccess({ ...open, authorization: undefined })).toMatchObject({ denial: 'missing_token' });
    expect(decideAccess({ ...open, authorization: 'Bearer nope-nope-nope-nope' })).toMatchObject({ denial: 'wrong_token' });
    expect(decideAccess({ ...open, token: undefined, authorization: undefined })).toMatchObject({ denial: 'no_token_configured' });
  });
});

describe('failure log', () => {
  function setup() {
    let now = 0;
    const lines: { message: string; fields: Record<string, unknown> }[] = [];
    const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
    const log = new AuthFailureLog(
      (message, fields) => lines.push({ message, fields }),
      60_000,
      () => now,
      (fn, ms) => {
        const timer = { fn, at: now + ms, cancelled: false };
        timers.push(timer);
        return () => void (timer.cancelled = true);
      },
    );
    const advance = (ms: number) => {
      now += ms;
      for (const timer of timers.filter((t) => !t.cancelled && t.at <= now)) {
        timer.cancelled = true;
        timer.fn();
      }
    };
    return { log, lines, timers, advance };
  }

  it('logs the first failure at once, then one counted summary per window, never a line per attempt', () => {
    const { log, lines, timers, advance } = setup();
    log.record('10.0.0.1', 'wrong token', false);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toContain('10.0.0.1');
    for (let i = 0; i < 35_000; i++) log.record(i % 3 === 0 ? '10.0.0.2' : '10.0.0.1', 'wrong token', i > 10);
    expect(lines).toHaveLength(1);
    expect(timers).toHaveLength(1); // one timer for the whole flood
    advance(60_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.fields).toMatchObject({ failures: 35_000, rateLimited: 34_989, addresses: 2, top: '10.0.0.1' });
    expect(lines[1]!.message).toMatch(/35000 more failed authentications in the last 60 s from 2 address/);
  });

  it('a flood that goes on gets a summary a minute; a new failure after a quiet minute is logged at once', () => {
    const { log, lines, advance } = setup();
    log.record('a', 'wrong token', false);
    advance(1000);
    log.record('a', 'wrong token', false);
    advance(59_000);
    expect(lines).toHaveLength(2);
    advance(10_000);
    log.record('a', 'wrong token', false); // within a minute of the summary: counted
    expect(lines).toHaveLength(2);
    advance(50_000);
    expect(lines).toHaveLength(3);
    advance(120_000);
    log.record('b', 'missing bearer token', false);
    expect(lines).toHaveLength(4);
    expect(lines[3]!.message).toContain('from b');
  });

  it('bounds the addresses it remembers, and flush on close writes what is pending', () => {
    const { log, lines } = setup();
    log.record('first', 'wrong token', false);
    for (let i = 0; i < 1000; i++) log.record(`10.0.${i >> 8}.${i & 255}`, 'wrong token', false);
    log.flush();
    expect(lines).toHaveLength(2);
    expect(lines[1]!.message).toContain('from 100+ address');
    expect(lines[1]!.fields.addresses).toBe(100);
    log.flush();
    expect(lines).toHaveLength(2);
  });
});
