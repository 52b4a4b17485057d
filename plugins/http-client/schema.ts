import { s, type Output } from '../../src/schema.js';

const fields = {
  maxHosts: s
    .integer({ min: 1, max: 1000 })
    .default(50)
    .describe('Bound on distinct `server.address` values (host and port pairs); requests to further hosts are recorded as `_OTHER`, without a port (warned once).'),
  ignoreHosts: s
    .array(s.string({ min: 1 }), { max: 100 })
    .default([])
    .describe('Host names (exactly as in the URL, e.g. `collector.internal`) whose requests are not measured at all.'),
};

export const schema = s.object(fields);
export type HttpClientOptions = Output<typeof fields>;
