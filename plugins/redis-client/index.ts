import { definePlugin, type Telemetry } from '../../src/plugin.js';
import { schema } from './schema.js';
import { ClientRegistry } from './clients.js';
import { Recorder } from './recorder.js';
import { instrumentIoredis } from './ioredis.js';
import { instrumentClient, instrumentQueue, type NodeRedisState } from './node-redis.js';
import * as sc from './semconv.js';

/** node-redis v4 ships as `@redis/client` 1.x; v5 and v6 as 5.x and 6.x. */
const NODE_REDIS_VERSIONS = '>=1.0.0 <2 || >=5.0.0 <7';

/**
 * Redis command metrics for ioredis and node-redis, through prototype patches the host undoes on close
 * (`ctx.patch`). Labels: the command name (known commands, else `_OTHER`) and the error type — never
 * keys or arguments. The preload's own Redis clients (the cache plugin's) are not measured.
 */
export default definePlugin({
  name: 'redis-client',
  description: 'Redis command duration and errors by command, and clients by connection state, for ioredis and node-redis.',
  dependsOn: ['telemetry'],
  modules: [
    { name: 'ioredis', file: 'built/index.js', versions: '>=5.0.0 <6' },
    { name: '@redis/client', file: 'dist/lib/client/commands-queue.js', versions: NODE_REDIS_VERSIONS },
    { name: '@redis/client', file: 'dist/lib/client/index.js', versions: NODE_REDIS_VERSIONS },
  ],
  schema,
  setup(ctx, options) {
    const telemetry = ctx.need<Telemetry>('telemetry');
    const histogram = telemetry.meter.createHistogram(sc.METRIC_DB_CLIENT_OPERATION_DURATION, {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: sc.DURATION_BUCKETS },
    });
    const gauge = telemetry.meter.createObservableGauge(sc.METRIC_REDIS_CLIENTS, { description: 'Redis clients of the app, by library and connection state.', unit: '{client}' });
    const recorder = new Recorder(histogram, (error) => ctx.log.once('redis-client:record', 'error', 'PPERF_ERR_INSTRUMENTATION', 'recording a Redis command failed', { error }));
    const registry = new ClientRegistry(options.maxClients, () =>
      ctx.log.once('redis-client:clients', 'warn', 'PPERF_WRN_002', `more than ${options.maxClients} Redis clients; the rest are measured but not counted by state`),
    );
    const detach = registry.attach(gauge);
    const patched = new WeakSet<object>();
    const nodeRedis: NodeRedisState = { own: new WeakSet(), ownCount: 0, queued: false, patched };

    // onModuleLoad hands over both files of @redis/client to each listener; each instrument function
    // recognises its own file by shape (a queue's `addCommand`, a client's `connect`).
    ctx.onModuleLoad('ioredis', (exports) => instrumentIoredis(exports, ctx.patch, recorder, registry, patched));
    ctx.onModuleLoad('@redis/client', (exports) => {
      instrumentQueue(exports, ctx.patch, recorder, nodeRedis);
      instrumentClient(exports, ctx.patch, recorder, registry, nodeRedis);
    });
    return () => {
      // The host restores the patched methods after this; commands in flight record nothing.
      recorder.active = false;
      detach();
    };
  },
});
