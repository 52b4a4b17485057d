import { s, type Output } from '../../src/schema.js';

const fields = {
  eventLoopResolutionMs: s
    .integer({ min: 1, max: 1000 })
    .default(20)
    .describe('Resolution of the event-loop delay histogram (`perf_hooks.monitorEventLoopDelay`), in ms. Lower is finer and costs more timer wake-ups.'),
};

export const schema = s.object(fields);
export type RuntimeOptions = Output<typeof fields>;
