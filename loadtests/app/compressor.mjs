/**
 * A pool of worker-thread gzip compressors, on generic-pool: the reference app's heavy endpoint
 * (GET /plans/:id/export) compresses in a worker so a big export does not block the event loop.
 * Created the way an app would, with generic-pool's bare defaults: the preload's object-pool plugin
 * gives it a timeout, a bounded queue, eviction and metrics without a line changed here.
 */
import { Worker } from 'node:worker_threads';
import genericPool from 'generic-pool';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', ({ id, data }) => {
  const out = zlib.gzipSync(Buffer.from(data), { level: 6 });
  parentPort.postMessage({ id, out });
});
`;

let nextId = 0;

export const compressors = genericPool.createPool(
  {
    create: async () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      await new Promise((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      return worker;
    },
    destroy: (worker) => worker.terminate().then(() => {}),
  },
  { max: 2 },
);

/** Gzips `text` in a pooled worker. */
export async function gzipInWorker(text) {
  const worker = await compressors.acquire();
  try {
    const id = ++nextId;
    return await new Promise((resolve, reject) => {
      const onMessage = (message) => {
        if (message.id !== id) return;
        worker.off('error', reject);
        worker.off('message', onMessage);
        resolve(Buffer.from(message.out));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage({ id, data: text });
    });
  } finally {
    await compressors.release(worker);
  }
}
