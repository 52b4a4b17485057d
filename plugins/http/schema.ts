import { s, type Output } from '../../src/schema.js';

const fields = {
  routes: s
    .array(s.string({ startsWith: '/' }), { max: 1000 })
    .default([])
    .describe(
      'Route templates (`/users/:id/plans`, `*` for a rest) for servers whose framework reports no route (plain `node:http`). Express, Fastify and Nest routes are found without it. Requests that match none get no `http.route`.',
    ),
  maxRoutes: s
    .integer({ min: 1, max: 10000 })
    .default(200)
    .describe('Bound on distinct `http.route` values; further routes are recorded as `_OTHER` (warned once).'),
};

export const schema = s.object(fields);
export type HttpOptions = Output<typeof fields>;
