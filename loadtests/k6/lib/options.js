// @ts-check
/**
 * k6 options for a profile of the shared scenario (loadtests/scenarios/reference-app.mjs): its
 * stages as a ramping-vus scenario and its thresholds as k6 thresholds. A breached threshold makes
 * `k6 run` exit with code 99, which is what fails a CI job.
 */
import { profiles } from '../../scenarios/reference-app.mjs';

/** @typedef {keyof typeof profiles} ProfileName */

/**
 * @param {string} name
 * @returns {name is ProfileName}
 */
export function isProfileName(name) {
  return Object.hasOwn(profiles, name);
}

/**
 * @param {string} name  smoke, load, stress, spike or soak
 * @returns {import('k6/options').Options}
 */
export function optionsFor(name) {
  if (!isProfileName(name)) throw new Error(`unknown scenario "${name}" (one of ${Object.keys(profiles).join(', ')})`);
  const profile = profiles[name];
  return {
    scenarios: {
      [name]: {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: profile.stages.map((stage) => ({ ...stage })),
        gracefulRampDown: '10s',
      },
    },
    thresholds: {
      http_req_duration: [`p(95)<${profile.thresholds.p95Ms}`],
      http_req_failed: [`rate<${profile.thresholds.errorRate}`],
    },
    summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
    // Bodies are only status-checked; not keeping them saves the load generator's memory.
    discardResponseBodies: true,
    tags: { profile: name },
  };
}
