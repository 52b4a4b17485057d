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
