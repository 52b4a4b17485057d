/** Database and pools: queries (rate, duration, errors, slow, N+1), the pg pools, Redis commands and clients, and generic-pool object pools. */
import { db, pool, redis } from './metrics.mjs';
import { UIDS, dashboard, quantile, queryVariable, rate, row, sel, stat, sumBy, svc, timeseries } from './panels.mjs';

const POOL = 'db_client_connection_pool_name=~"$pool"';
const OP = 'db_operation_name, db_collection_name';
/** PostgreSQL only: the Redis plugin records into the same `db.client.operation.duration`. */
const PG = 'db_system_name="postgresql"';
const REDIS = 'db_system_name="redis"';
const overview = { title: 'Overview', uid: UIDS.overview };

export default function database() {
  return dashboard({
    uid: UIDS.database,
    title: 'plandex-perf / Database and pools',
    description: 'PostgreSQL queries as the app sees them, the pg pools that serve them, and the generic-pool object pools.',
    extraVariables: [
      queryVariable('pool', 'pg pool', 'label_values({__name__=~"db_client_connection_max", job=~"$job", instance=~"$instance"}, db_client_connection_pool_name)'),
    ],
    panels: [
      row('Queries'),
      timeseries({ title: 'Queries / s', description: 'By operation and table.', unit: 'ops', stack: true, links: [overview] }, [
        { expr: sumBy(OP, rate(db.duration, { part: 'count', where: PG })), legend: '{{db_operation_name}} {{db_collection_name}}' },
      ]),
      timeseries({ title: 'Query duration p95', description: 'By operation and table; the client’s view, including the network.', unit: 's' }, [
        { expr: quantile(0.95, db.duration, OP, PG), legend: '{{db_operation_name}} {{db_collection_name}}' },
      ]),
      timeseries({ title: 'Query errors / s', description: 'Failed queries by error type (the SQLSTATE class, or the client error).', unit: 'ops', w: 8 }, [
        { expr: sumBy('error_type, db_operation_name', rate(db.duration, { part: 'count', where: `${PG}, error_type!=""` })), legend: '{{error_type}} {{db_operation_name}}' },
      ]),
      timeseries({ title: 'Slow queries / s', description: 'Queries slower than the pg-pool plugin’s slowQueryMs; the log has their fingerprints.', unit: 'ops', w: 8 }, [
        { expr: sumBy('db_operation_name', rate(db.slow)), legend: '{{db_operation_name}}' },
      ]),
      timeseries({ title: 'N+1 requests / s', description: 'Requests that ran one query fingerprint nPlusOneThreshold times or more, by route.', unit: 'reqps', w: 8 }, [
        { expr: sumBy('http_route', rate(db.nPlusOne)), legend: '{{http_route}}' },
      ]),
      row('pg pools'),
      timeseries({ title: 'Connections', description: 'Used and idle connections per pool, and the pool’s max.', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('db_client_connection_pool_name, db_client_connection_state', svc(sel(db.connections, { where: POOL }))), legend: '{{db_client_connection_state}} {{db_client_connection_pool_name}}' },
        { expr: sumBy('db_client_connection_pool_name', svc(sel(db.max, { where: POOL }))), legend: 'max {{db_client_connection_pool_name}}' },
      ]),
      timeseries({ title: 'Requests waiting for a connection', description: 'Queued acquirers per pool.', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('db_client_connection_pool_name', svc(sel(db.pending, { where: POOL }))), legend: '{{db_client_connection_pool_name}}' },
      ]),
      timeseries({ title: 'Idle connections kept', description: 'The pool’s idle bounds (min and max idle connections).', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('db_client_connection_pool_name', svc(sel(db.idleMax, { where: POOL }))), legend: 'idle max {{db_client_connection_pool_name}}' },
        { expr: sumBy('db_client_connection_pool_name', svc(sel(db.idleMin, { where: POOL }))), legend: 'idle min {{db_client_connection_pool_name}}' },
      ]),
      timeseries({ title: 'Wait for a connection', description: 'p95 and p99 time to get a connection from the pool.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, db.waitTime, 'db_client_connection_pool_name', POOL), legend: 'p95 {{db_client_connection_pool_name}}' },
        { expr: quantile(0.99, db.waitTime, 'db_client_connection_pool_name', POOL), legend: 'p99 {{db_client_connection_pool_name}}' },
      ]),
      timeseries({ title: 'Connection held', description: 'p95 time between borrowing a connection and returning it.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, db.useTime, 'db_client_connection_pool_name', POOL), legend: 'p95 {{db_client_connection_pool_name}}' },
      ]),
      timeseries({ title: 'New connections', description: 'Connections opened per second, and p95 time to open one.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, db.createTime, 'db_client_connection_pool_name', POOL), legend: 'p95 open time {{db_client_connection_pool_name}}' },
        { expr: sumBy('db_client_connection_pool_name', rate(db.createTime, { part: 'count', where: POOL })), legend: 'opened / s {{db_client_connection_pool_name}}' },
      ]),
      stat({ title: 'Acquire timeouts', description: 'Acquirers that gave up waiting (connectionTimeoutMillis), since the process started.', thresholds: [{ value: 1, color: 'red' }] }, {
        expr: sumBy('', svc(sel(db.timeouts, { where: POOL }))),
      }),
      stat({ title: 'Leaked connections', description: 'Clients held past leakDetectionMs, since the process started; the log has the checkout stack.', thresholds: [{ value: 1, color: 'red' }] }, {
        expr: sumBy('', svc(sel(db.leaked, { where: POOL }))),
      }),
      stat({ title: 'Idle client errors', description: 'Idle pooled clients that lost their connection (handled, so they could not crash the app), since the process started.', thresholds: [{ value: 1, color: 'orange' }] }, {
        expr: sumBy('', svc(sel(db.idleErrors, { where: POOL }))),
      }),
      stat({ title: 'Connections outside a pool / s', description: 'A steady stream means a new pg.Client per request.', unit: 'ops', thresholds: [{ value: 1, color: 'orange' }] }, {
        expr: sumBy('', rate(db.unpooled)),
      }),
      row('Redis'),
      timeseries({ title: 'Redis commands / s', description: 'By command (ioredis and node-redis); unknown command names are _OTHER.', unit: 'ops', stack: true, w: 8 }, [
        { expr: sumBy('db_operation_name', rate(db.duration, { part: 'count', where: REDIS })), legend: '{{db_operation_name}}' },
      ]),
      timeseries({ title: 'Redis command duration p95', description: 'By command: from the call to the reply, offline-queue wait included.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, db.duration, 'db_operation_name', REDIS), legend: '{{db_operation_name}}' },
      ]),
      timeseries({ title: 'Redis errors / s', description: 'Failed commands by error type: the server’s prefix (WRONGTYPE, ERR) or the client’s error (ECONNREFUSED, ClientOfflineError, MaxRetriesPerRequestError).', unit: 'ops', min: 0, w: 8 }, [
        { expr: sumBy('error_type, db_operation_name', rate(db.duration, { part: 'count', where: `${REDIS}, error_type!=""` })), legend: '{{error_type}} {{db_operation_name}}' },
      ]),
      timeseries({ title: 'Redis clients by state', description: 'The app’s Redis clients: ready, connecting (or reconnecting), closed. Clients that stay connecting mean Redis is unreachable.', unit: 'short', min: 0 }, [
        { expr: sumBy('plandex_perf_redis_client_library, plandex_perf_redis_client_state', svc(sel(redis.clients))), legend: '{{plandex_perf_redis_client_state}} {{plandex_perf_redis_client_library}}' },
      ]),
      row('Object pools (generic-pool)'),
      timeseries({ title: 'Resources', description: 'Borrowed and available resources per pool, and its max.', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.borrowed))), legend: 'borrowed {{plandex_perf_pool_name}}' },
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.available))), legend: 'available {{plandex_perf_pool_name}}' },
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.size))), legend: 'size {{plandex_perf_pool_name}}' },
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.max))), legend: 'max {{plandex_perf_pool_name}}' },
      ]),
      timeseries({ title: 'Waiting acquirers', description: 'Queued acquire() calls per pool.', unit: 'short', min: 0, w: 8 }, [
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.pending))), legend: '{{plandex_perf_pool_name}}' },
      ]),
      timeseries({ title: 'Acquire duration', description: 'p95 and p99 time for acquire() per pool.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, pool.acquire, 'plandex_perf_pool_name'), legend: 'p95 {{plandex_perf_pool_name}}' },
        { expr: quantile(0.99, pool.acquire, 'plandex_perf_pool_name'), legend: 'p99 {{plandex_perf_pool_name}}' },
      ]),
      timeseries({ title: 'Create errors / s', description: 'Factory create() failures per pool (creation backs off).', unit: 'ops', min: 0 }, [
        { expr: sumBy('plandex_perf_pool_name', rate(pool.createErrors)), legend: '{{plandex_perf_pool_name}}' },
      ]),
      timeseries({ title: 'Leaked resources', description: 'Resources borrowed past leakDetectionMs per pool, since the process started; the log has the acquire stack.', unit: 'short', min: 0 }, [
        { expr: sumBy('plandex_perf_pool_name', svc(sel(pool.leaked))), legend: '{{plandex_perf_pool_name}}' },
      ]),
    ],
  });
}
