/** Overview: the golden signals per route (rate, errors, duration) and the saturation signals. */
import { budget, db, http, httpClient, runtime } from './metrics.mjs';
import { UIDS, dashboard, quantile, rate, row, sel, stat, sumBy, svc, timeseries } from './panels.mjs';

const requests = (/** @type {string} */ by, /** @type {string} */ where = '') => sumBy(by, rate(http.duration, { part: 'count', where }));
const ratio = (/** @type {string} */ by, /** @type {string} */ where) => `${requests(by, where)} / ${requests(by)}`;
/** `ROUTE_UNMATCHED` in plugins/http/semconv.ts. */
const UNMATCHED = '_UNMATCHED';
/** Requests that carry the tenant attribute (plugins/http: `http.attributes`, named `tenant.id`). */
const TENANT = 'tenant_id!=""';
const links = {
  database: { title: 'Database and pools', uid: UIDS.database },
  runtime: { title: 'Runtime and heap budget', uid: UIDS.runtime },
};

export default function overview() {
  return dashboard({
    uid: UIDS.overview,
    title: 'plandex-perf / Overview',
    description: 'Request rate, errors and duration per route, and what saturates first: the event loop, the pg pools, the heap budget.',
    panels: [
      row('Traffic'),
      stat({ title: 'Requests / s', description: 'All HTTP requests the server answered.', unit: 'reqps' }, { expr: requests('') }),
      stat(
        { title: 'Server errors (5xx)', description: 'Share of requests answered with a 5xx status.', unit: 'percentunit', decimals: 2, thresholds: [{ value: 0.01, color: 'red' }] },
        { expr: ratio('', 'http_response_status_code=~"5.."') },
      ),
      stat({ title: 'p95 duration', description: 'Over all routes.', unit: 's', thresholds: [{ value: 0.5, color: 'red' }] }, { expr: quantile(0.95, http.duration) }),
      stat({ title: 'p99 duration', description: 'Over all routes.', unit: 's', thresholds: [{ value: 1, color: 'red' }] }, { expr: quantile(0.99, http.duration) }),
      row('Per route'),
      timeseries({ title: 'Requests / s by route', description: 'Requests Express or Fastify matched to no route are _UNMATCHED. On plain node:http, paths outside PLANDEX_PERF_HTTP_ROUTES have no route.', unit: 'reqps', stack: true }, [
        { expr: requests('http_route, http_request_method'), legend: '{{http_request_method}} {{http_route}}' },
      ]),
      timeseries({ title: 'Errors by route', description: 'Share of each route’s requests answered with 5xx (server) and 4xx (client) statuses.', unit: 'percentunit', min: 0 }, [
        { expr: ratio('http_route', 'http_response_status_code=~"5.."'), legend: '5xx {{http_route}}' },
        { expr: ratio('http_route', 'http_response_status_code=~"4.."'), legend: '4xx {{http_route}}' },
      ]),
      timeseries({ title: 'p50 duration by route', description: 'Median request duration.', unit: 's', w: 8 }, [{ expr: quantile(0.5, http.duration, 'http_route'), legend: '{{http_route}}' }]),
      timeseries({ title: 'p95 duration by route', description: '95th percentile request duration.', unit: 's', w: 8 }, [{ expr: quantile(0.95, http.duration, 'http_route'), legend: '{{http_route}}' }]),
      timeseries({ title: 'p99 duration by route', description: '99th percentile request duration.', unit: 's', w: 8 }, [{ expr: quantile(0.99, http.duration, 'http_route'), legend: '{{http_route}}' }]),
      timeseries({ title: 'Unmatched requests / s', description: 'Requests the router (Express, Fastify) matched to no route (http.route="_UNMATCHED"): 404s, scanners, answers from middleware before any route.', unit: 'reqps', min: 0, stack: true }, [
        { expr: requests('http_request_method, http_response_status_code', `http_route="${UNMATCHED}"`), legend: '{{http_request_method}} {{http_response_status_code}}' },
      ]),
      timeseries({ title: 'Excluded requests / s', description: 'Requests to the paths in PLANDEX_PERF_HTTP_EXCLUDE (health checks…), which have no series above; counted unless PLANDEX_PERF_HTTP_COUNT_EXCLUDED=false.', unit: 'reqps', min: 0 }, [
        { expr: sumBy('instance', rate(http.excluded)), legend: '{{instance}}' },
      ]),
      row('Per tenant (tenant.id)'),
      timeseries({ title: 'Requests / s by tenant', description: 'The tenant.id attribute, set with PLANDEX_PERF_HTTP_ATTRIBUTES=tenant.id=header:<name> (or =param:<name>). Tenants over PLANDEX_PERF_HTTP_MAX_ATTRIBUTE_VALUES are _OTHER.', unit: 'reqps', stack: true, w: 8 }, [
        { expr: requests('tenant_id', TENANT), legend: '{{tenant_id}}' },
      ]),
      timeseries({ title: 'Server errors by tenant', description: 'Share of each tenant’s requests answered with a 5xx status.', unit: 'percentunit', min: 0, w: 8 }, [
        { expr: ratio('tenant_id', `${TENANT}, http_response_status_code=~"5.."`), legend: '{{tenant_id}}' },
      ]),
      timeseries({ title: 'p95 duration by tenant', description: '95th percentile request duration, all routes of the tenant together.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, http.duration, 'tenant_id', TENANT), legend: '{{tenant_id}}' },
      ]),
      row('Outbound HTTP'),
      timeseries({ title: 'Outbound requests / s by host', description: 'Requests the app made (fetch, undici, node:http) by upstream host and status; hosts over the http-client plugin’s maxHosts are _OTHER.', unit: 'reqps', stack: true, w: 8 }, [
        { expr: sumBy('server_address, http_response_status_code', rate(httpClient.duration, { part: 'count' })), legend: '{{server_address}} {{http_response_status_code}}' },
      ]),
      timeseries({ title: 'Outbound errors / s by host', description: 'Requests with no response (error.type is the error code: ECONNREFUSED, timeouts) or a 4xx/5xx answer.', unit: 'reqps', min: 0, w: 8 }, [
        { expr: sumBy('server_address, error_type', rate(httpClient.duration, { part: 'count', where: 'error_type!=""' })), legend: '{{server_address}} {{error_type}}' },
      ]),
      timeseries({ title: 'Outbound p95 by host', description: 'Time until the upstream’s response headers arrive.', unit: 's', w: 8 }, [
        { expr: quantile(0.95, httpClient.duration, 'server_address'), legend: '{{server_address}}' },
      ]),
      row('Saturation'),
      timeseries(
        { title: 'Event loop utilization', description: 'Share of time the event loop was busy. Near 1, every request waits for the loop.', unit: 'percentunit', min: 0, max: 1, w: 8, links: [links.runtime], thresholds: [{ value: 0.8, color: 'red' }] },
        [{ expr: `max by (instance) (${svc(sel(runtime.elu))})`, legend: '{{instance}}' }],
      ),
      timeseries({ title: 'Event loop delay p99', description: 'How late timers fire: the wait a new request sees before it runs.', unit: 's', w: 8, links: [links.runtime] }, [
        { expr: `max by (instance) (${svc(sel(runtime.delayP99))})`, legend: '{{instance}}' },
      ]),
      timeseries(
        { title: 'Heap budget used', description: 'Heap used / heap limit. The budget sheds load past its hard ratio.', unit: 'percentunit', min: 0, max: 1, w: 8, links: [links.runtime], thresholds: [{ value: 0.7, color: 'orange' }, { value: 0.85, color: 'red' }] },
        [{ expr: `max by (instance) (${svc(sel(budget.usedRatio))})`, legend: '{{instance}}' }],
      ),
      timeseries({ title: 'pg pool: requests waiting for a connection', description: 'Above 0 for long: the pool is too small for the load, or connections are held too long.', unit: 'short', min: 0, w: 8, links: [links.database] }, [
        { expr: sumBy('instance, db_client_connection_pool_name', svc(sel(db.pending))), legend: '{{db_client_connection_pool_name}} {{instance}}' },
      ]),
      timeseries({ title: 'pg pool: connections in use', description: 'Used connections / the pool’s max.', unit: 'percentunit', min: 0, max: 1, w: 8, links: [links.database], thresholds: [{ value: 0.9, color: 'red' }] }, [
        {
          expr: `${sumBy('instance, db_client_connection_pool_name', svc(sel(db.connections, { where: 'db_client_connection_state="used"' })))} / ${sumBy('instance, db_client_connection_pool_name', svc(sel(db.max)))}`,
          legend: '{{db_client_connection_pool_name}} {{instance}}',
        },
      ]),
      timeseries({ title: 'Requests shed (503)', description: 'Requests the heap budget refused while shedding.', unit: 'reqps', min: 0, w: 8, links: [links.runtime] }, [
        { expr: sumBy('instance', rate(budget.shed)), legend: '{{instance}}' },
      ]),
    ],
  });
}
