// The one change the bundle makes to a dependency (see bundle.mjs): the metrics SDK's attribute hash,
// memoised for frozen attribute objects. Kept apart so a test can apply it to the installed SDK.
export const HASH = 'function hashAttributes(attributes) {';

const memoised = `
const __pperfFrozenHashes = new WeakMap();
function hashAttributes(attributes) {
	// The lookup first: Object.isFrozen is a call into the runtime (~600 instructions), paid only on a miss.
	let hash = __pperfFrozenHashes.get(attributes);
	if (hash !== undefined) return hash;
	hash = __pperfHashAttributes(attributes);
	if (Object.isFrozen(attributes)) __pperfFrozenHashes.set(attributes, hash);
	return hash;
}
function __pperfHashAttributes(attributes) {`;

/** The patched source, or undefined when this file does not define the function. */
export function patchHashAttributes(source) {
  return source.includes(HASH) ? source.replace(HASH, memoised) : undefined;
}
