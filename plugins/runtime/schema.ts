import { z } from 'zod';

export const schema = z.strictObject({
  eventLoopResolutionMs: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(20)
    .describe('Resolution of the event-loop delay histogram (`perf_hooks.monitorEventLoopDelay`), in ms. Lower is finer and costs more timer wake-ups.'),
});

export type RuntimeOptions = z.output<typeof schema>;
