import { Field, s, type Output } from '../../src/schema.js';
import { ATTRIBUTE_SPEC, ATTRIBUTE_SPEC_TEXT } from './attributes.js';

/** A string that must match `pattern`, with the problem said in words (the schema builder has no pattern rule). */
function matching(pattern: RegExp, expected: string): Field<string> {
  const inner = s.string();
  return new Field<string>(inner.meta, (value, path, issues) => {
    const checked = inner.check(value, path, issues);
    // A pushed issue fails the whole section, so the value itself may be returned as is.
    if (typeof checked === 'string' && !pattern.test(checked)) issues.push({ path, message: `expected ${expected} (got ${JSON.stringify(checked)})` });
    return checked;
  });
}

/** An exclusion: a path (`/health`) or a wildcard pattern (`*.css`, `/static/*.js`); see `src/paths.ts`. */
const EXCLUDE_PATTERN = /^(?:\/|\*)/;

const fields = {
  routes: s
    .array(s.string({ startsWith: '/' }), { max: 1000 })
    .default([])
    .describe(
      'Route templates (`/users/:id/plans`, `*` for a rest) for servers whose framework reports no route (plain `node:http`). Express, Fastify and Nest routes are found without it. Once any template is set, a request that matches none (and that no framework routed) is recorded as `http.route="_UNMATCHED"`, as on Express and Fastify; with none set such requests get no `http.route`.',
    ),
  maxRoutes: s
    .integer({ min: 1, max: 10000 })
    .default(200)
    .describe('Bound on distinct `http.route` values; further routes are recorded as `_OTHER` (warned once). `_UNMATCHED` does not count against it.'),
  exclude: s
    .array(matching(EXCLUDE_PATTERN, 'a path starting with "/" or a pattern starting with "/" or "*"'), { max: 100 })
    .default([])
    .describe(
      'Paths whose requests get no metric and no span, the query string ignored. A path matches itself and everything below it (`/health` matches `/health/db`, not `/healthz`); an entry with `*` is a pattern for the whole path, `*` standing for any characters, `/` included (`*.css`: every path ending in `.css`; `/static/*.js`: every `.js` below `/static/`). E.g. `/health,/ready,*.css`. The preload\'s own metrics server is on its own port and never measured, so `/metrics` needs no entry. `OTEL_EXCLUDED_HTTP_URLS` is not read (warning PPERF_WRN_060).',
    ),
  countExcluded: s
    .boolean()
    .default(true)
    .describe('Count excluded requests in `http.server.excluded_requests`, one counter with no attributes (one series in all). `false`: they leave no trace at all.'),
  attributes: s
    .array(matching(ATTRIBUTE_SPEC, ATTRIBUTE_SPEC_TEXT), { max: 5 })
    .default([])
    .describe(
      'Extra attributes on `http.server.request.duration` and the server span, from a request header or a route parameter: `tenant.id=header:x-tenant-id`, `app.plan=param:planId`. Values are kept as sent (a header is app data, maybe personal: allow only what is safe to store); each attribute keeps at most `maxAttributeValues` values, the rest are `_OTHER`. None by default.',
    ),
  maxAttributeValues: s
    .integer({ min: 1, max: 1000 })
    .default(50)
    .describe('Bound on distinct values of each attribute in `attributes`: the first values seen are kept, later ones are `_OTHER` (warning PPERF_WRN_002, once per attribute); a value with no request for `telemetry.staleSeriesAfterMs` frees its place for a new one (never when that is 0). Values longer than 64 characters are `_OTHER` too.'),
};

export const schema = s.object(fields);
export type HttpOptions = Output<typeof fields>;
