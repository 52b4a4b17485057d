/**
 * A query's fingerprint: its text with literal values replaced by `?`, lists folded and whitespace
 * collapsed, so the same statement with different values reads the same — and no value is ever logged.
 */
export function fingerprint(text: string, maxLength = 300): string {
  let out = text
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, '?') // string literals
    .replace(/\$\$[\s\S]*?\$\$/g, '?') // dollar-quoted bodies
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, '?') // numbers ($1 keeps its $ and becomes $?)
    .replace(/\$\?/g, '$n')
    .replace(/\s+/g, ' ')
    .trim();
  // `IN (?, ?, ?)` and `VALUES (?, ?), (?, ?)` of any length read the same.
  out = out.replace(/\(\s*(?:\?|\$n)(?:\s*,\s*(?:\?|\$n))*\s*\)/g, '(?)').replace(/\(\?\)(?:\s*,\s*\(\?\))+/g, '(?)');
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}
