import http from 'node:http';
import { scrape, sumSamples, waitFor } from './helpers.js';

/** GET over a new connection each time (no keep-alive), so a cluster spreads them over its workers. */
export function getFresh(url: string): Promise<{ status: number; pid: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume();
      response.once('end', () => resolve({ status: response.statusCode ?? 0, pid: String(response.headers['x-pid']) }));
    });
    request.once('error', reject);
  });
}

/** Sends `n` requests, `concurrency` at a time; returns the pids that answered and how often. */
export async function sendRequests(url: string, n: number, concurrency = 8): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const { status, pid } = await getFresh(url);
      if (status !== 200) throw new Error(`app answered ${status}`);
      pids.set(pid, (pids.get(pid) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return pids;
}

export const requestCount = (lines: string[]): number => sumSamples(lines, 'http_server_request_duration_count');
export const answering = (lines: string[]): number => sumSamples(lines, 'plandex_perf_cluster_processes', { plandex_perf_cluster_process_state: 'answered' });

/** Scrapes until `processes` answer (followers join a little after start). */
export function waitForProcesses(metricsPort: number, processes: number, timeoutMs = 10_000): Promise<string[]> {
  return waitFor(async () => {
    const lines = await scrape(metricsPort).catch(() => undefined);
    return lines && answering(lines) === processes ? lines : undefined;
  }, timeoutMs);
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
