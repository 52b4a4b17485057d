/**
 * Whether the loader (src/load.ts) may use a folder for its code cache. A cache is code the process runs,
 * so the folder must be one only this user or root can write to: owned by this user or by root (a cache
 * baked into an image at build time, read-only to the app's user), and writable by neither its group nor
 * others (OpenSSH's rule for its own files). Built-ins only: the loader imports nothing else.
 */
export function folderRefusal(stat: { isDirectory(): boolean; uid: number; mode: number }, uid: number | undefined): string | undefined {
  if (!stat.isDirectory()) return 'not a folder';
  if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) return `owned by uid ${stat.uid}, neither this user (${uid}) nor root`;
  if ((stat.mode & 0o022) !== 0) return 'writable by its group or by others';
  return undefined;
}
