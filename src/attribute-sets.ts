import type { Attributes } from '@opentelemetry/api';

type Key = string | number | boolean | undefined;
type Build<A extends Key, B extends Key, C extends Key, D extends Key> = (a: A, b: B, c: C, d: D) => Attributes;

/**
 * Frozen attribute objects, one per combination of up to four values, for the measurements made on every
 * request or query. The bundled metrics SDK hashes a frozen object's attributes once and remembers the hash
 * (scripts/bundle.mjs); a fresh object per measurement costs a key sort and a JSON string (~1 KB) each time.
 * Lookups are nested Maps, so a hit allocates nothing. The values must already be bounded (routes, methods,
 * status codes, pool names); past `max` combinations new ones are built fresh and not kept.
 */
export class AttributeSets<A extends Key, B extends Key = undefined, C extends Key = undefined, D extends Key = undefined> {
  private readonly root = new Map<A, Map<B, Map<C, Map<D, Attributes>>>>();
  private size = 0;

  constructor(
    private readonly build: Build<A, B, C, D>,
    private readonly max = 10_000,
  ) {}

  // The last combination asked for: a host whose requests mostly look alike (one route, 200s) skips the maps.
  private lastA: A | undefined;
  private lastB: B | undefined;
  private lastC: C | undefined;
  private lastD: D | undefined;
  private last: Attributes | undefined;

  get(a: A, b?: B, c?: C, d?: D): Attributes {
    if (this.last !== undefined && a === this.lastA && b === this.lastB && c === this.lastC && d === this.lastD) return this.last;
    const attributes = this.lookup(a, b, c, d);
    if (Object.isFrozen(attributes)) {
      this.lastA = a;
      this.lastB = b;
      this.lastC = c;
      this.lastD = d;
      this.last = attributes;
    }
    return attributes;
  }

  private lookup(a: A, b?: B, c?: C, d?: D): Attributes {
    let level1 = this.root.get(a);
    if (level1 === undefined) this.root.set(a, (level1 = new Map()));
    let level2 = level1.get(b as B);
    if (level2 === undefined) level1.set(b as B, (level2 = new Map()));
    let level3 = level2.get(c as C);
    if (level3 === undefined) level2.set(c as C, (level3 = new Map()));
    let attributes = level3.get(d as D);
    if (attributes === undefined) {
      attributes = this.build(a, b as B, c as C, d as D);
      if (this.size >= this.max) return attributes;
      this.size++;
      level3.set(d as D, (attributes = Object.freeze(attributes)));
    }
    return attributes;
  }
}
