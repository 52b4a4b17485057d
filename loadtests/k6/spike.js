// @ts-check
// k6 run loadtests/k6/spike.js  (env BASE_URL, SCALE, SEED): the "spike" profile of loadtests/scenarios/reference-app.mjs.
import { optionsFor } from './lib/options.js';

export const options = optionsFor('spike');
export { default } from './lib/iteration.js';
