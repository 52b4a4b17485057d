// @ts-check
/**
 * One virtual-user iteration of the shared scenario: pick a request by weight, pick the user by
 * Zipf, send it, check its status, think.
 *
 * Env: BASE_URL (default http://127.0.0.1:3000), SCALE (seed scale, default 1: ids 1..1000),
 * SEED (default 1; each virtual user adds its number, so users differ but runs repeat).
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { USERS_PER_SCALE, requestMix, thinkTimeMs, userChoice } from '../../scenarios/reference-app.mjs';
import { createWeightedPick, createZipf, mulberry32 } from './zipf.js';

const baseUrl = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const scale = Number(__ENV.SCALE || '1');
if (!(scale > 0)) throw new Error(`SCALE must be a positive number, got ${JSON.stringify(__ENV.SCALE)}`);
const seed = Number(__ENV.SEED || '1');

// Init context: runs once per virtual user, so every user has its own seeded sequence.
const random = mulberry32(seed + __VU * 7919);
const nextId = createZipf(Math.max(1, Math.round(USERS_PER_SCALE * scale)), userChoice.s, random);
const nextRequest = createWeightedPick(
  requestMix.map((spec) => {
    /** @type {import('k6/http').Params} */
    const params = {
      // The route as the name tag: one time series per route, not one per id.
      tags: { name: spec.name },
      // Planned statuses (a deleted plan's 404) are not failures in http_req_failed.
      responseCallback: http.expectedStatuses(...spec.expectedStatuses),
      headers: spec.body ? { 'content-type': 'application/json' } : {},
    };
    return { ...spec, params };
  }),
  random,
);

export default function iteration() {
  const spec = nextRequest();
  const id = String(nextId());
  const url = baseUrl + spec.path.replaceAll('{id}', id);
  const body = spec.body ? JSON.stringify(spec.body).replaceAll('{id}', id) : null;
  const response = http.request(spec.method, url, body, spec.params);
  check(response, { [`${spec.name}: expected status`]: (r) => spec.expectedStatuses.includes(r.status) });
  sleep((thinkTimeMs.min + random() * (thinkTimeMs.max - thinkTimeMs.min)) / 1000);
}
