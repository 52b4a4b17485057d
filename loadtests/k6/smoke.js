// @ts-check
// k6 run loadtests/k6/smoke.js  (env BASE_URL, SCALE, SEED): the "smoke" profile of loadtests/scenarios/reference-app.mjs.
import { optionsFor } from './lib/options.js';

export const options = optionsFor('smoke');
export { default } from './lib/iteration.js';
