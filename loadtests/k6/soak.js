// @ts-check
// k6 run loadtests/k6/soak.js  (env BASE_URL, SCALE, SEED): the "soak" profile of loadtests/scenarios/reference-app.mjs.
import { optionsFor } from './lib/options.js';

export const options = optionsFor('soak');
export { default } from './lib/iteration.js';
