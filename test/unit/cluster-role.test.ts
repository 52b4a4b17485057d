import { afterEach, describe, expect, it, vi } from 'vitest';

const loaded = vi.hoisted(() => ({ cluster: false as boolean | undefined }));
vi.mock('../../src/hooks.js', async (original) => ({ ...(await original<typeof import('../../src/hooks.js')>()), builtinLoaded: (name: string) => (name === 'cluster' ? loaded.cluster : false) }));
const { processRole } = await import('../../src/telemetry/cluster.js');

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
  loaded.cluster = false;
});

function clusterModule(value: { isWorker: boolean; workers?: object }) {
  const real = process.getBuiltinModule.bind(process);
  vi.spyOn(process, 'getBuiltinModule').mockImplementation(((id: string) => (id === 'node:cluster' ? value : real(id))) as typeof process.getBuiltinModule);
}

describe('processRole', () => {
  it('a cluster worker stays one after it loads node:cluster, which deletes NODE_UNIQUE_ID', () => {
    delete process.env.pm_id;
    process.env.NODE_UNIQUE_ID = '1';
    expect(processRole()).toBe('cluster-worker');
    delete process.env.NODE_UNIQUE_ID;
    loaded.cluster = true;
    clusterModule({ isWorker: true, workers: undefined });
    expect(processRole()).toBe('cluster-worker');
  });

  it('a primary with workers; a process that has not loaded node:cluster or has no workers', () => {
    delete process.env.pm_id;
    delete process.env.NODE_UNIQUE_ID;
    expect(processRole()).toBe('process');
    loaded.cluster = true;
    clusterModule({ isWorker: false, workers: {} });
    expect(processRole()).toBe('process');
    vi.restoreAllMocks();
    clusterModule({ isWorker: false, workers: { 1: {} } });
    expect(processRole()).toBe('cluster-primary');
  });
});
