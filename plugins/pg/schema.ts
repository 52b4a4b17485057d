import { s, type Output } from '../../src/schema.js';

const fields = {
  maxCollections: s
    .integer({ min: 1, max: 10000 })
    .default(200)
    .describe('Bound on distinct `db.collection.name` values; further tables are recorded as `_OTHER` (warned once).'),
  maxPools: s
    .integer({ min: 1, max: 1000 })
    .default(50)
    .describe('Bound on pools reported in `db.client.connection.*`; pools beyond it are not reported (warned once).'),
};

export const schema = s.object(fields);
export type PgOptions = Output<typeof fields>;
