import { s, type Output } from '../../src/schema.js';

const fields = {
  eventLoopResolutionMs: s
    .integer({ min: 1, max: 1000 })
    .default(20)
    .describe('Period of the one event-loop delay sampler of the process (shared with heap-budget and diagnostics; the finest any reader asks for wins), in ms. Lower is finer and costs more timer wake-ups.'),
};

export const schema = s.object(fields);
export type RuntimeOptions = Output<typeof fields>;
