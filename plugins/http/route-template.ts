/**
 * Joins the templates of the layers a request went through (mount paths, then the route's path) into one
 * `http.route`. Mount paths behave as Express's `req.baseUrl` does (no trailing slash, `/` adds nothing) and
 * non-strict routes match with or without a trailing slash, so `/` + `/users/` is `/users`, never `//users/`.
 */
export function joinRoute(parts: readonly string[]): string {
  let out = '';
  for (const part of parts) {
    if (part === '' || part === '/') continue;
    out += part.startsWith('/') ? part : `/${part}`;
  }
  out = out.replace(/\/{2,}/g, '/');
  if (out.length > 1 && out.endsWith('/')) out = out.replace(/\/+$/, '');
  return out === '' ? '/' : out;
}

/** A route template as reported by a framework (Fastify's `routeOptions.url`), with the same slash rules. */
export function normalizeRoute(route: string): string {
  return joinRoute([route]);
}

/**
 * The template of a matched path when only the match is known (layers of `router` before 2.3 keep no path):
 * each segment equal to a parameter's value becomes `:name`, a splat's segments become `*name`. Literal
 * segments stay as matched. Returns undefined when a parameter cannot be placed, so no value can leak.
 */
export function templateFromMatch(matched: string, params: Readonly<Record<string, unknown>>): string | undefined {
  const segments = matched.split('/');
  const out = segments.slice();
  let from = 1;
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || values.some((v) => typeof v !== 'string')) return undefined;
    const at = findRun(segments, values as string[], from);
    if (at === -1) return undefined;
    out.splice(at, values.length, Array.isArray(value) ? `*${name}` : `:${name}`, ...new Array<string>(values.length - 1).fill('\0'));
    from = at + values.length;
  }
  return out.filter((s) => s !== '\0').join('/');
}

function findRun(segments: string[], values: string[], from: number): number {
  for (let i = from; i + values.length <= segments.length; i++) {
    if (values.every((v, j) => decode(segments[i + j]!) === v)) return i;
  }
  return -1;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
