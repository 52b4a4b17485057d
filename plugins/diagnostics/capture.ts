import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import type { Profiler } from 'node:inspector';

/**
 * Samples the CPU for `ms` through the in-process inspector. The sampling runs on V8's profiler thread
 * and the wait is a timer, so the event loop is free throughout; only `JSON.stringify` of the result
 * costs the loop, in proportion to the profile's size. Aborting (client gone, shutdown) stops early.
 */
export async function captureCpuProfile(ms: number, signal: AbortSignal): Promise<Profiler.Profile> {
  // Loaded on demand: nothing of the inspector is paid for until someone asks for a profile, and a Node
  // built without the inspector fails here, on the request, not at start-up.
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    let aborted: unknown;
    try {
      // Unref'd: a host that is done must not be kept alive by a profile in progress.
      await sleep(ms, undefined, { signal, ref: false });
    } catch (error) {
      aborted = error;
    }
    // Stopped on abort too, so V8 does not go on sampling for nobody.
    const { profile } = await session.post('Profiler.stop');
    if (aborted !== undefined) throw aborted;
    return profile;
  } finally {
    session.disconnect();
  }
}

/**
 * Streams a heap snapshot into `response`. V8 stops the process while it takes the snapshot (seconds for
 * a large heap): that pause is the price of a snapshot and is why the route is rate-limited and refused
 * under memory pressure. `done` runs once, when the response is finished or has failed.
 */
export function streamHeapSnapshot(response: ServerResponse, filename: string, done: (error?: Error) => void): void {
  const snapshot = v8.getHeapSnapshot();
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'no-store',
  });
  pipeline(snapshot, response, (error) => done(error ?? undefined));
}
