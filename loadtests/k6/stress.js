// @ts-check
// k6 run loadtests/k6/stress.js  (env BASE_URL, SCALE, SEED): the "stress" profile of loadtests/scenarios/reference-app.mjs.
import { optionsFor } from './lib/options.js';

export const options = optionsFor('stress');
export { default } from './lib/iteration.js';
