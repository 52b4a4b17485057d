/**
 * Copied from plugins/heap-budget/shed.ts (`exemptMatcher`), which another plugin owns: the two should share
 * one module once merged. A path matches itself and anything below it; the query string is ignored.
 */
export function pathMatcher(paths: readonly string[]): (url: string) => boolean {
  if (paths.length === 0) return () => false;
  return (url) => {
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    return paths.some((p) => pathname === p || pathname.startsWith(p.endsWith('/') ? p : `${p}/`));
  };
}
