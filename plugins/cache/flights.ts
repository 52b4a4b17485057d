import type { LoadTrace } from './trace.js';

/** One load in progress for one key: concurrent callers share it (single flight). */
export interface Flight {
  promise: Promise<unknown>;
  /** Set when the key is invalidated meanwhile: the result is returned but not stored. */
  invalidated: boolean;
  trace: LoadTrace;
  /** When it started (the engine's clock): a tag invalidated at or after it may have reached it too late. */
  started: number;
}

/** The loads in progress, bounded: past `max` a call is not coalesced (and not cached) rather than tracked without end. */
export class Flights {
  private readonly map = new Map<string, Flight>();
  constructor(private readonly max: number) {}

  get(key: string): Flight | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** False when full: the caller then runs uncoalesced. */
  add(key: string, flight: Flight): boolean {
    if (this.map.size >= this.max) return false;
    this.map.set(key, flight);
    return true;
  }

  end(key: string, flight: Flight): void {
    if (this.map.get(key) === flight) this.map.delete(key);
  }

  invalidate(key: string): void {
    const flight = this.map.get(key);
    if (flight) flight.invalidated = true;
  }
}
