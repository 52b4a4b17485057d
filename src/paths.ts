/**
 * A matcher for path lists in options (exempt, readiness, liveness paths): a path matches itself and
 * anything below it (`/health` matches `/health/db`, not `/healthz`); the query string is ignored.
 * Shared by the plugins that answer before the app does (heap-budget's shedder, the concurrency limit).
 */
export function pathMatcher(paths: readonly string[]): (url: string) => boolean {
  if (paths.length === 0) return () => false;
  // Built once: this runs on every request (the http plugin's exclusions).
  const exact = [...paths];
  const below = paths.map((p) => (p.endsWith('/') ? p : `${p}/`));
  return (url) => {
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    for (let i = 0; i < exact.length; i++) if (pathname === exact[i] || pathname.startsWith(below[i]!)) return true;
    return false;
  };
}

/**
 * `pathMatcher` plus wildcard patterns, for the http plugin's exclusions (static files by suffix): an
 * entry with a `*` is matched against the whole path (query ignored), each `*` standing for any run of
 * characters, `/` included, so `*.css` is every path ending in `.css` and `/static/*.js` every `.js`
 * path below `/static/`, at any depth. Entries without `*` keep the prefix rule above.
 *
 * Compiled once into literal pieces: a request costs a `startsWith`, an `endsWith` and one `indexOf`
 * per inner piece, never a regular expression. The first piece is anchored at the start and the last at
 * the end; taking each inner piece at its leftmost place is exact for `*`-only patterns.
 */
export function pathPatternMatcher(patterns: readonly string[]): (url: string) => boolean {
  const prefixes = patterns.filter((p) => !p.includes('*'));
  const globs = patterns.filter((p) => p.includes('*')).map((p) => p.split('*'));
  const byPrefix = pathMatcher(prefixes);
  if (globs.length === 0) return byPrefix;
  return (url) => {
    if (byPrefix(url)) return true;
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    for (let i = 0; i < globs.length; i++) if (globMatches(globs[i]!, pathname)) return true;
    return false;
  };
}

/** `pieces`: a pattern split at its `*`s (so at least two, the first and last possibly empty). */
function globMatches(pieces: readonly string[], path: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (path.length < first.length + last.length || !path.startsWith(first) || !path.endsWith(last)) return false;
  let from = first.length;
  const end = path.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === '') continue;
    const at = path.indexOf(piece, from);
    if (at === -1 || at + piece.length > end) return false;
    from = at + piece.length;
  }
  return true;
}
