import { s, type Output } from '../../src/schema.js';

const fields = {
  maxClients: s
    .integer({ min: 1, max: 10000 })
    .default(200)
    .describe('Bound on Redis clients followed for `plandex_perf.redis.clients`; clients beyond it are still measured, but not counted by state (warned once).'),
};

export const schema = s.object(fields);
export type RedisClientOptions = Output<typeof fields>;
