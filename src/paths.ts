/**
 * A matcher for path lists in options (exempt, readiness, liveness paths): a path matches itself and
 * anything below it (`/health` matches `/health/db`, not `/healthz`); the query string is ignored.
 * Shared by the plugins that answer before the app does (heap-budget's shedder, the concurrency limit).
 */
export function pathMatcher(paths: readonly string[]): (url: string) => boolean {
  if (paths.length === 0) return () => false;
  return (url) => {
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    return paths.some((p) => pathname === p || pathname.startsWith(p.endsWith('/') ? p : `${p}/`));
  };
}
