import { z } from 'zod';

export const schema = z.strictObject({
  routes: z
    .array(z.string().startsWith('/'))
    .max(1000)
    .default([])
    .describe(
      'Route templates (`/users/:id/plans`, `*` for a rest) for servers whose framework reports no route (plain `node:http`). Express, Fastify and Nest routes are found without it. Requests that match none get no `http.route`.',
    ),
  maxRoutes: z
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(200)
    .describe('Bound on distinct `http.route` values; further routes are recorded as `_OTHER` (warned once).'),
});

export type HttpOptions = z.output<typeof schema>;
