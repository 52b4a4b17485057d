import { z } from 'zod';

export const schema = z.strictObject({
  maxCollections: z
    .number()
    .int()
    .min(1)
    .max(10000)
    .default(200)
    .describe('Bound on distinct `db.collection.name` values; further tables are recorded as `_OTHER` (warned once).'),
  maxPools: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(50)
    .describe('Bound on pools reported in `db.client.connection.*`; pools beyond it are not reported (warned once).'),
});

export type PgOptions = z.output<typeof schema>;
