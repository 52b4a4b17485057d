import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import v8 from 'node:v8';
import type { PluginContext } from '../../src/plugin.js';
import type { HeapBudget } from '../heap-budget/index.js';
import { captureCpuProfile, streamFile, writeHeapSnapshotFile } from './capture.js';
import { ERR_CAPTURE_FAILED, ERR_SNAPSHOT_NO_FIT, ERR_SNAPSHOT_OFF } from './codes.js';
import { SNAPSHOT_RSS_FACTOR, heapSnapshotFit, readAvailableMemory, readCgroupLimit, readDisk } from './fit.js';
import { HeavyGate, TokenBucket } from './rate-limit.js';
import { downloadName, parseSeconds, sendJson, sendRetry } from './respond.js';
import type { DiagnosticsOptions } from './schema.js';
import { buildSnapshot, type SnapshotSources } from './snapshot.js';
import * as sc from './semconv.js';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** The three route handlers, without access control (index.ts wraps them). */
export function createHandlers(ctx: PluginContext, options: DiagnosticsOptions, sources: SnapshotSources, inFlight: Set<AbortController>): Map<sc.Route, Handler> {
  const gate = new HeavyGate(options.minIntervalMs);
  const bucket = new TokenBucket(options.snapshotsPerSecond, options.snapshotsPerSecond);
  const failed = (response: ServerResponse, what: string, error: unknown): void => {
    ctx.log.error(ERR_CAPTURE_FAILED, `${what} failed`, { error });
    sendJson(response, 500, { error: 'Internal Server Error', code: ERR_CAPTURE_FAILED, reason: `${what} failed: ${error instanceof Error ? error.message : String(error)}` });
  };

  const cpuProfile: Handler = (request, response) => {
    const seconds = parseSeconds(request, options.cpuProfileSeconds, options.maxCpuProfileSeconds);
    if ('error' in seconds) return sendJson(response, 400, { error: 'Bad Request', reason: seconds.error });
    const admission = gate.tryAcquire('CPU profile', seconds.ms);
    if (!admission.ok) return sendRetry(response, admission.status, admission.reason, admission.retryAfterSeconds);
    const controller = new AbortController();
    inFlight.add(controller);
    // A caller that hangs up gets no profile, so the sampling stops with it.
    response.once('close', () => controller.abort());
    captureCpuProfile(seconds.ms, controller.signal)
      .then((profile) => {
        const body = JSON.stringify(profile);
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'content-disposition': `attachment; filename="${downloadName('cpu', 'cpuprofile')}"`,
          'cache-control': 'no-store',
        });
        response.end(body);
      })
      .catch((error: unknown) => {
        if (controller.signal.aborted) return sendJson(response, 503, { error: 'Service Unavailable', reason: 'the profile was cancelled' });
        failed(response, 'the CPU profile', error);
      })
      .finally(() => {
        inFlight.delete(controller);
        admission.release();
      });
  };

  const snapshotDir = options.heapSnapshotDir ?? os.tmpdir();
  const heapSnapshotOff: Handler = (_request, response) =>
    sendJson(response, 403, {
      error: 'Forbidden',
      code: ERR_SNAPSHOT_OFF,
      reason: `heap snapshots are off here (profile "${ctx.profile.name}"${ctx.profile.constrained ? ', a container' : ''}, ${Math.round(ctx.profile.memoryBytes / 2 ** 20)} MiB): one stops the process for seconds and needs about ${SNAPSHOT_RSS_FACTOR} × the used heap in extra memory`,
      fix: 'set PLANDEX_PERF_DIAGNOSTICS_HEAP_SNAPSHOT=true (or diagnostics.heapSnapshot: true in the config) and restart; a snapshot that cannot fit in memory is still refused',
    });

  const heapSnapshot: Handler = (_request, response) => {
    const heap = v8.getHeapStatistics();
    const fit = heapSnapshotFit({
      budgetState: ctx.use<HeapBudget>('heap-budget')?.state(),
      heapUsed: heap.used_heap_size,
      rss: process.memoryUsage.rss(),
      cgroupLimit: readCgroupLimit(),
      profileMemory: ctx.profile.memoryBytes,
      profileName: ctx.profile.name,
      availableMemory: readAvailableMemory(),
      ...readDisk(snapshotDir),
    });
    if (!fit.fits) return sendJson(response, 503, { error: 'Service Unavailable', code: ERR_SNAPSHOT_NO_FIT, reason: fit.reason });
    // The expected duration only feeds a competing request's Retry-After: measured ~5 MB of heap per second.
    const admission = gate.tryAcquire('heap snapshot', Math.max(1000, heap.used_heap_size / 5_000));
    if (!admission.ok) return sendRetry(response, admission.status, admission.reason, admission.retryAfterSeconds);
    let file: { fd: number; size: number };
    try {
      file = writeHeapSnapshotFile(snapshotDir);
    } catch (error) {
      return failed(response, 'the heap snapshot', error);
    } finally {
      // Released once the file is written: the snapshot's memory is freed by now, and a slow reader of
      // the download must not hold every other heavy operation off.
      admission.release();
    }
    const headers = { 'content-type': 'application/json', 'content-disposition': `attachment; filename="${downloadName('heap', 'heapsnapshot')}"` };
    streamFile(response, file, headers, { stallMs: options.downloadStallMs, minBytes: 64 * 1024 }, (error) => {
      if (error && !response.writableFinished) ctx.log.debug('heap snapshot download ended early', { error: error.message });
    });
  };

  const snapshot: Handler = (_request, response) => {
    const taken = bucket.take();
    if (!taken.ok) return sendRetry(response, 429, `at most ${options.snapshotsPerSecond} snapshots per second`, taken.retryAfterSeconds);
    sendJson(response, 200, buildSnapshot(sources));
  };

  const handlers = new Map<sc.Route, Handler>([
    [sc.ROUTE_CPU_PROFILE, cpuProfile],
    [sc.ROUTE_SNAPSHOT, snapshot],
  ]);
  handlers.set(sc.ROUTE_HEAP_SNAPSHOT, options.heapSnapshot ? heapSnapshot : heapSnapshotOff);
  return handlers;
}
