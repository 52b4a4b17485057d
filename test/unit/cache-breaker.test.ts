import { describe, expect, it } from 'vitest';
import { Breaker, CLOSED, HALF_OPEN, OPEN } from '../../plugins/cache/breaker.js';

describe('L2 circuit breaker', () => {
  it('opens after N consecutive failures, probes once after the cool-down, and closes on success', () => {
    let t = 0;
    const changes: number[] = [];
    const breaker = new Breaker(3, 1000, (state) => changes.push(state), () => t);
    breaker.failure();
    breaker.success(); // a success resets the count
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe(CLOSED);
    breaker.failure();
    expect(breaker.state).toBe(OPEN);
    expect(breaker.allow()).toBe(false);
    t = 1000;
    expect(breaker.allow()).toBe(true);
    expect(breaker.state).toBe(HALF_OPEN);
    expect(breaker.allow()).toBe(false); // one probe at a time
    breaker.failure();
    expect(breaker.state).toBe(OPEN);
    t = 2500;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state).toBe(CLOSED);
    expect(breaker.allow()).toBe(true);
    expect(changes).toEqual([OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]);
    expect(breaker.opened).toBe(2);
  });
});
