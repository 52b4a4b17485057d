/**
 * How many times one request ran each statement text; fingerprints are taken only at the end, and only when the
 * request ran `threshold` queries or more (texts that differ by literals share a fingerprint). Most requests run
 * one text, so the first needs no Map; a request that runs thousands of distinct texts keeps the first 1 000.
 */
export class QueryCounts {
  total = 0;
  private first: string | undefined;
  private firstCount = 0;
  private more: Map<string, number> | undefined;

  add(text: string): void {
    this.total++;
    if (this.first === undefined || this.first === text) {
      this.first = text;
      this.firstCount++;
      return;
    }
    this.more ??= new Map();
    const count = this.more.get(text);
    if (count !== undefined) this.more.set(text, count + 1);
    else if (this.more.size < MAX_TEXTS_PER_REQUEST - 1) this.more.set(text, 1); // the first is kept apart
  }

  /** The counts summed per fingerprint. */
  byFingerprint(fingerprintOf: (text: string) => string): Map<string, number> {
    const out = new Map<string, number>();
    if (this.first !== undefined) out.set(fingerprintOf(this.first), this.firstCount);
    if (this.more) {
      for (const [text, count] of this.more) {
        const fp = fingerprintOf(text);
        out.set(fp, (out.get(fp) ?? 0) + count);
      }
    }
    return out;
  }
}
const MAX_TEXTS_PER_REQUEST = 1000;
