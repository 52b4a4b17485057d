/**
 * The reference app's load scenario, defined once and used by both load generators:
 *   - the k6 scripts in loadtests/k6/ (smoke.js, load.js, stress.js, spike.js, soak.js), and
 *   - the Node load generator, loadtests/lib/load.mjs: `runLoad(runLoadOptions('smoke', { baseUrl }))`.
 *
 * Plain data and pure functions only: k6 imports this file too, and k6 has no Node APIs (no
 * `node:` imports, no `process`, no Buffer).
 *
 * Ids. Every request names one id, `{id}` in its path and body, drawn from 1..users (the seed makes
 * users 1..1000 × scale, none deleted). Every such id is also a plan id, since the seed makes about
 * five plans per user; so one draw serves /users/{id} and /plans/{id} alike. About 2% of plans are
 * soft-deleted, which is why the plan reads accept 404.
 */

/** Users per unit of seed scale (loadtests/app/seed.mjs). */
export const USERS_PER_SCALE = 1000;

/**
 * Which user (or plan) a request is for: Zipf, P(id = k) ∝ 1 / k^s, so id 1 is the hottest and a
 * few ids take most of the traffic, as real users do. That skew is what caches and the database's
 * buffer cache live on; uniform ids would understate both. s = 1.1 puts ~30% of draws on the
 * hottest 10 of 1 000 ids.
 */
export const userChoice = /** @type {const} */ ({ distribution: 'zipf', s: 1.1 });

/**
 * @typedef {object} RequestSpec
 * @property {string} name               k6 `name` tag and report label: the route, never the raw URL
 * @property {'GET' | 'POST'} method
 * @property {string} path               `{id}` is replaced by the drawn id
 * @property {Record<string, string>} [body]  sent as JSON; `{id}` is replaced in its string values
 * @property {number} weight             relative share of requests
 * @property {number[]} expectedStatuses anything else counts as a failed request
 */

/** The request mix: reads dominate, one write, one heavy export, a little of the N+1 endpoint. */
/** @type {readonly RequestSpec[]} */
export const requestMix = [
  { name: 'GET /users/:id', method: 'GET', path: '/users/{id}', weight: 25, expectedStatuses: [200] },
  { name: 'GET /users/:id/plans', method: 'GET', path: '/users/{id}/plans', weight: 20, expectedStatuses: [200] },
  { name: 'GET /plans/:id/stats', method: 'GET', path: '/plans/{id}/stats', weight: 15, expectedStatuses: [200, 404] },
  { name: 'POST /plans/:id/conversations', method: 'POST', path: '/plans/{id}/conversations', body: { message: 'load test message for plan {id}' }, weight: 10, expectedStatuses: [201] },
  { name: 'GET /users/:id/plans-n1', method: 'GET', path: '/users/{id}/plans-n1', weight: 5, expectedStatuses: [200] },
  { name: 'GET /plans/:id/export', method: 'GET', path: '/plans/{id}/export', weight: 5, expectedStatuses: [200, 404] },
  { name: 'GET /hello', method: 'GET', path: '/hello', weight: 15, expectedStatuses: [200] },
  { name: 'GET /health', method: 'GET', path: '/health', weight: 5, expectedStatuses: [200] },
];

/** Pause of a k6 virtual user between two requests, like a user reading a page. */
export const thinkTimeMs = /** @type {const} */ ({ min: 100, max: 500 });

/**
 * @typedef {{ duration: string, target: number }} Stage
 * @typedef {object} Profile
 * @property {string} description
 * @property {Stage[]} stages   virtual users over time (k6 ramping-vus; the Node generator uses the peak)
 * @property {{ p95Ms: number, errorRate: number }} thresholds  pass/fail: p95 of all requests, share of failed requests
 */

/**
 * The load shapes. Thresholds are for the reference app on a small machine (2 cores, the container
 * profile); they are the line a change must not cross, not a performance target.
 * @type {Readonly<Record<'smoke' | 'load' | 'stress' | 'spike' | 'soak', Profile>>}
 */
export const profiles = {
  smoke: {
    description: 'A few users for half a minute: does every endpoint answer, are the scripts right.',
    stages: [
      { duration: '5s', target: 2 },
      { duration: '25s', target: 2 },
    ],
    thresholds: { p95Ms: 300, errorRate: 0.01 },
  },
  load: {
    description: 'Expected traffic: ramp to 20 users, hold, ramp down.',
    stages: [
      { duration: '1m', target: 20 },
      { duration: '3m', target: 20 },
      { duration: '30s', target: 0 },
    ],
    thresholds: { p95Ms: 500, errorRate: 0.01 },
  },
  stress: {
    description: 'Steps past expected traffic until something gives: 50, 100, then 150 users.',
    stages: [
      { duration: '1m', target: 50 },
      { duration: '2m', target: 50 },
      { duration: '1m', target: 100 },
      { duration: '2m', target: 100 },
      { duration: '1m', target: 150 },
      { duration: '2m', target: 150 },
      { duration: '1m', target: 0 },
    ],
    thresholds: { p95Ms: 1500, errorRate: 0.05 },
  },
  spike: {
    description: 'A sudden burst from 5 to 150 users and back: does it recover, does the heap budget shed.',
    stages: [
      { duration: '30s', target: 5 },
      { duration: '10s', target: 150 },
      { duration: '1m', target: 150 },
      { duration: '10s', target: 5 },
      { duration: '1m', target: 5 },
      { duration: '10s', target: 0 },
    ],
    thresholds: { p95Ms: 2000, errorRate: 0.1 },
  },
  soak: {
    description: 'Expected traffic for an hour: leaks, heap growth, pool exhaustion over time.',
    stages: [
      { duration: '2m', target: 15 },
      { duration: '1h', target: 15 },
      { duration: '2m', target: 0 },
    ],
    thresholds: { p95Ms: 500, errorRate: 0.01 },
  },
};

/** @type {Record<string, number>} */
const UNIT_SECONDS = { h: 3600, m: 60, s: 1, ms: 0.001 };

/** Seconds in a k6 duration string such as '1m30s' or '500ms'. */
export function parseDuration(/** @type {string} */ text) {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new RangeError(`invalid duration: ${text}`);
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * (UNIT_SECONDS[/** @type {string} */ (unit)] ?? 0), 0);
}

/** The most virtual users a profile runs at once. */
export function peakUsers(/** @type {Profile} */ profile) {
  return Math.max(...profile.stages.map((stage) => stage.target));
}

/** Seconds a profile runs, all stages together. */
export function totalSeconds(/** @type {Profile} */ profile) {
  return profile.stages.reduce((sum, stage) => sum + parseDuration(stage.duration), 0);
}

/**
 * Options for `runLoad` (loadtests/lib/load.mjs) that send this scenario's mix with its Zipf ids.
 * autocannon has no stages and no think time: it holds the profile's peak as open connections, each
 * sending as fast as it can, so it is a harder load than k6's users at the same count.
 *
 * @param {keyof typeof profiles} name
 * @param {{ baseUrl: string, scale?: number, seed?: number, durationSec?: number, connections?: number }} options
 */
export function runLoadOptions(name, { baseUrl, scale = 1, seed = 1, durationSec, connections }) {
  const profile = profiles[name];
  if (!profile) throw new RangeError(`unknown profile: ${name}`);
  return {
    baseUrl,
    requests: requestMix.map(({ method, path, body, weight }) => ({ method, path, body, weight })),
    ids: { max: Math.max(1, Math.round(USERS_PER_SCALE * scale)), distribution: userChoice.distribution, s: userChoice.s, seed },
    connections: connections ?? peakUsers(profile),
    durationSec: durationSec ?? totalSeconds(profile),
  };
}
