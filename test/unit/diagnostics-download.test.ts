import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import diagnostics from '../../plugins/diagnostics/index.js';
import { streamFile } from '../../plugins/diagnostics/capture.js';
import { orderPlugins } from '../../src/host.js';
import { builtinPlugins } from '../../src/builtin.js';
import { resolveProfile } from '../../src/profiles.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pperf-download-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A real server streaming `size` bytes of a real file with the plugin's streamFile. */
async function serveFile(size: number, stallMs: number) {
  const file = path.join(dir, `f-${size}`);
  fs.writeFileSync(file, Buffer.alloc(size, 97));
  const ended: { error?: Error }[] = [];
  let fd = -1;
  const server = http.createServer((_request, response) => {
    fd = fs.openSync(file, 'r');
    fs.unlinkSync(file); // as the plugin does: the open descriptor keeps the data
    streamFile(response, { fd, size }, { 'content-type': 'application/octet-stream' }, { stallMs, minBytes: 64 * 1024 }, (error) => ended.push({ error }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, ended, fd: () => fd, file, close: () => new Promise((r) => server.close(r)) };
}

describe('heap snapshot download', () => {
  it('streams the whole file with its length to a client that reads, and closes the descriptor', async () => {
    const served = await serveFile(3 * 2 ** 20, 10_000); // a generous bound: a loaded CI machine reads slowly
    try {
      const response = await fetch(`http://127.0.0.1:${served.port}/`);
      expect(response.headers.get('content-length')).toBe(String(3 * 2 ** 20));
      expect((await response.arrayBuffer()).byteLength).toBe(3 * 2 ** 20);
      await new Promise((r) => setTimeout(r, 50));
      expect(served.ended).toEqual([{ error: undefined }]);
      expect(fs.existsSync(served.file)).toBe(false);
      expect(() => fs.fstatSync(served.fd())).toThrow(); // closed
    } finally {
      await served.close();
    }
  });

  it('drops a client that stops reading, after the stall bound', async () => {
    // Larger than what loopback socket buffers can hold, so the writer really stalls.
    const served = await serveFile(64 * 2 ** 20, 300);
    try {
      const socket = net.connect(served.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.pause(); // never reads a byte
      const closed = new Promise((r) => socket.once('close', r));
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => {
          if (served.ended.length > 0) {
            clearInterval(poll);
            resolve();
          } else if (Date.now() - started > 10_000) {
            clearInterval(poll);
            reject(new Error('the stalled client was not dropped'));
          }
        }, 20);
      });
      expect(served.ended[0]!.error?.message ?? '').toMatch(/dropped|premature|destroyed|aborted/i);
      socket.resume();
      socket.destroy();
      await closed;
      expect(() => fs.fstatSync(served.fd())).toThrow();
    } finally {
      await served.close();
    }
  }, 20_000);
});

describe('heap snapshot defaults', () => {
  const defaults = (name: string) => diagnostics.profileDefaults!(resolveProfile(name)!);
  it('is off in the constrained profiles and on a 16 GB server', () => {
    expect(defaults('container-512m')).toEqual({ heapSnapshot: false });
    expect(defaults('laptop-4g')).toEqual({ heapSnapshot: false });
    expect(defaults('server-16g')).toEqual({ heapSnapshot: true });
    expect(diagnostics.profileDefaults!(resolveProfile('auto', { constrainedMemory: 1 * 2 ** 30, totalMemory: 64 * 2 ** 30, cpus: 4 })!)).toEqual({ heapSnapshot: false });
  });
});

describe('one event-loop delay sampler', () => {
  it('heap-budget starts before diagnostics, so diagnostics can read its sampler', () => {
    const names = orderPlugins(builtinPlugins).ordered.map((p) => p.name);
    expect(names.indexOf('heap-budget')).toBeGreaterThan(-1);
    expect(names.indexOf('heap-budget')).toBeLessThan(names.indexOf('diagnostics'));
  });
});
