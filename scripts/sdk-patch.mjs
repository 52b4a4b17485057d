// The changes the bundle makes to a dependency (see bundle.mjs), all in the metrics SDK's per-measurement
// path, each found by an exact piece of its source (the build fails when one is missing). Kept apart so a
// test can apply them to the installed SDK.
//
// 1. The attribute hash, memoised for frozen attribute objects: the SDK sorts the keys and JSON-stringifies
//    them for every measurement (~1 KB of garbage); a frozen object cannot change, so its hash cannot either.
// 2. The series of the last measurement, remembered per instrument: a host's measurements mostly repeat the
//    previous attribute set (one pool, one route), and each one hashed it and looked the hash up in a Map. A
//    measurement with the same frozen object, in the same collection interval, goes straight to its
//    accumulation; any other object, or after a collection, takes the SDK's own path and becomes the last.
// 3. The clock read per measurement: `Date.now()` (a call into the runtime) is taken for every `record()` but
//    read only when the measurement starts a new series in the collection interval (its start time). The
//    patched SDK reads it there instead; the start time is the same.
export const HASH = 'function hashAttributes(attributes) {';

const memoised = `
const __pperfFrozenHashes = new WeakMap();
/** The last object hashed, when it was frozen: the metric processor may remember its series (patch 2). */
let __pperfLastFrozen;
export function __pperfWasFrozen(attributes) {
	return attributes === __pperfLastFrozen;
}
function hashAttributes(attributes) {
	// The lookup first: Object.isFrozen is a call into the runtime (~600 instructions), paid only on a miss.
	let hash = __pperfFrozenHashes.get(attributes);
	if (hash !== undefined) {
		__pperfLastFrozen = attributes;
		return hash;
	}
	hash = __pperfHashAttributes(attributes);
	if (Object.isFrozen(attributes)) {
		__pperfFrozenHashes.set(attributes, hash);
		__pperfLastFrozen = attributes;
	}
	return hash;
}
function __pperfHashAttributes(attributes) {`;

/** Each patch: the SDK file it applies to, the exact source it replaces, and the replacement. */
export const SDK_PATCHES = [
  { name: 'frozen attribute hashes', file: /[\\/]utils\.m?js$/, find: HASH, replace: memoised },
  {
    name: 'last series: the import',
    file: /[\\/]state[\\/]DeltaMetricProcessor\.m?js$/,
    find: 'import { hashAttributes } from "../utils.mjs";',
    replace: 'import { hashAttributes, __pperfWasFrozen } from "../utils.mjs";',
  },
  {
    name: 'last series: the fields',
    file: /[\\/]state[\\/]DeltaMetricProcessor\.m?js$/,
    find: '\t_aggregator;\n\tconstructor(aggregator, aggregationCardinalityLimit) {',
    replace: '\t_aggregator;\n\t__pperfLastAttributes = undefined;\n\t__pperfLastStorage = undefined;\n\t__pperfLastAccumulation = undefined;\n\tconstructor(aggregator, aggregationCardinalityLimit) {',
  },
  {
    name: 'last series: the measurement',
    file: /[\\/]state[\\/]DeltaMetricProcessor\.m?js$/,
    find: '\trecord(value, attributes, collectionTime) {\n\t\tlet accumulation = this._activeCollectionStorage.get(attributes);',
    replace:
      '\trecord(value, attributes, collectionTime) {\n\t\tif (attributes === this.__pperfLastAttributes && this._activeCollectionStorage === this.__pperfLastStorage) {\n\t\t\tthis.__pperfLastAccumulation.record(value);\n\t\t\treturn;\n\t\t}\n\t\tlet accumulation = this._activeCollectionStorage.get(attributes);\n\t\tif (accumulation !== undefined && __pperfWasFrozen(attributes)) {\n\t\t\tthis.__pperfLastAttributes = attributes;\n\t\t\tthis.__pperfLastStorage = this._activeCollectionStorage;\n\t\t\tthis.__pperfLastAccumulation = accumulation;\n\t\t}',
  },
  {
    name: 'last series: forgotten when series are merged in',
    file: /[\\/]state[\\/]DeltaMetricProcessor\.m?js$/,
    find: '\tbatchCumulate(measurements, collectionTime) {',
    replace: '\tbatchCumulate(measurements, collectionTime) {\n\t\tthis.__pperfLastAttributes = undefined;',
  },
  {
    name: 'no clock read per measurement',
    file: /[\\/]Instruments\.m?js$/,
    find: 'this._writableMetricStorage.record(value, attributes, context, Date.now());',
    replace: 'this._writableMetricStorage.record(value, attributes, context, void 0);',
  },
  {
    name: 'clock read when a series starts',
    file: /[\\/]state[\\/]DeltaMetricProcessor\.m?js$/,
    find: 'const hrTime = millisToHrTime(collectionTime);',
    replace: 'const hrTime = millisToHrTime(collectionTime ?? Date.now());',
  },
];

/** The patches for this file (by path): the patched source and the names applied, or undefined when none applies. */
export function patchSdkFile(file, source) {
  let contents = source;
  const applied = [];
  for (const patch of SDK_PATCHES) {
    if (!patch.file.test(file)) continue;
    if (contents.split(patch.find).length !== 2) continue; // absent, or not exactly once: not applied (the build says so)
    contents = contents.replace(patch.find, patch.replace);
    applied.push(patch.name);
  }
  return applied.length > 0 ? { contents, applied } : undefined;
}

/** The hash patch alone, for the unit test that loads the patched utils module. */
export function patchHashAttributes(source) {
  return patchSdkFile('/utils.mjs', source)?.contents;
}
