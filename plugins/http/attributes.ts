import type { IncomingHttpHeaders } from 'node:http';
import { boundedLabel, type BoundedLabelOptions } from '../../src/bounded.js';
import { OTHER } from './semconv.js';

/**
 * `<attribute>=header:<header name>` or `<attribute>=param:<route parameter>`. The attribute is a dotted
 * lower-case name that is not one of the conventions' namespaces the plugin writes itself.
 */
export const ATTRIBUTE_SPEC = /^(?!(?:http|url|error|server|network|client)\.)[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*=(?:header:[A-Za-z0-9!#$%&'*+.^_`|~-]+|param:[A-Za-z_$][A-Za-z0-9_$]*)$/;
export const ATTRIBUTE_SPEC_TEXT = '"<attribute>=header:<name>" or "<attribute>=param:<name>", the attribute lower-case and dotted, outside http.*, url.*, error.*, server.*, network.*, client.*';

/** Longer values are `_OTHER`: an id is short, and a long header should not take one of the capped places. */
export const MAX_VALUE_LENGTH = 64;

export interface AttributeSource {
  attribute: string;
  from: 'header' | 'param';
  /** Header name in lower case (as Node keys `request.headers`), or the parameter name as written. */
  key: string;
}

/** Parses specs that passed the schema's `ATTRIBUTE_SPEC`. */
export function parseAttributeSpecs(specs: readonly string[]): AttributeSource[] {
  return specs.map((spec) => {
    const eq = spec.indexOf('=');
    const colon = spec.indexOf(':', eq);
    const from = spec.slice(eq + 1, colon) as AttributeSource['from'];
    const key = spec.slice(colon + 1);
    return { attribute: spec.slice(0, eq), from, key: from === 'header' ? key.toLowerCase() : key };
  });
}

export interface AttributeInput {
  headers: IncomingHttpHeaders;
  /** The value of a route parameter, or undefined when the request has none of that name. */
  param(name: string): unknown;
}

/**
 * Reads the configured attributes of a request, each bounded on its own (`src/bounded.ts`): the first
 * `max` distinct values pass, later ones are `_OTHER`; a value unseen for `bound.forgetAfterMs` (the
 * stale-series time) frees its place. A missing or empty value leaves the attribute out.
 */
export class RequestAttributes {
  private readonly entries: { source: AttributeSource; bound: (value: string) => string }[];
  readonly usesParams: boolean;

  constructor(sources: readonly AttributeSource[], max: number, bound: BoundedLabelOptions = {}) {
    this.entries = sources.map((source) => ({ source, bound: boundedLabel(`values of the http attribute ${source.attribute}`, max, bound) }));
    this.usesParams = sources.some((s) => s.from === 'param');
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** Adds the attributes found to `into`. */
  read(input: AttributeInput, into: Record<string, unknown>): void {
    for (const { source, bound } of this.entries) {
      const raw = source.from === 'header' ? input.headers[source.key] : input.param(source.key);
      const value = Array.isArray(raw) ? raw[0] : raw;
      if (typeof value !== 'string' && typeof value !== 'number') continue;
      const text = String(value);
      if (text === '') continue;
      into[source.attribute] = text.length > MAX_VALUE_LENGTH ? OTHER : bound(text);
    }
  }
}
