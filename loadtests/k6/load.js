// @ts-check
// k6 run loadtests/k6/load.js  (env BASE_URL, SCALE, SEED): the "load" profile of loadtests/scenarios/reference-app.mjs.
import { optionsFor } from './lib/options.js';

export const options = optionsFor('load');
export { default } from './lib/iteration.js';
