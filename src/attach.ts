import fs from 'node:fs';
import path from 'node:path';

/**
 * Decides whether this process is one to instrument. `NODE_OPTIONS` reaches every Node process a
 * command starts: `npm start` runs npm's own CLI first (then `sh`, then the app), PM2 runs its CLI and
 * its daemon, `plandex-perf run` runs ours. Those tool processes must stay untouched — the first one to
 * start would otherwise take the metrics port and serve an empty picture — while the app they start is
 * instrumented as usual.
 */

/** Oldest Node with `module.registerHooks` (synchronous, in-thread hooks for require and import). */
export const MIN_NODE = [22, 15] as const;

export function nodeSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/**
 * Packages whose command-line entry points are launchers, not servers. PM2 is a launcher except for its
 * process containers, which `require` the app in the same process (fork and cluster mode).
 */
const TOOL_PACKAGES = new Set([
  'npm',
  'yarn',
  '@yarnpkg/cli-dist',
  'pnpm',
  'corepack',
  'pm2',
  'nodemon',
  'tsx',
  'npm-run-all',
  'npm-run-all2',
  'concurrently',
  'cross-env',
  'dotenv-cli',
]);
/** Our own command line (`plandex-perf run`, `bench`, …); the rest of this package may hold apps (the reference app). */
const OWN_CLI = /[\\/]dist[\\/]src[\\/]cli\.js$/;
const PM2_CONTAINER = /[\\/]ProcessContainer(Fork)?(Bun)?\.js$/;
/** Yarn Berry ships as one file in the project: `.yarn/releases/yarn-4.5.0.cjs`. */
const YARN_RELEASE = /[\\/]\.yarn[\\/]releases[\\/]yarn-[\w.-]+\.c?js$/;

/** The name of the package that owns `file` (nearest package.json with a name), if any. */
export function owningPackage(file: string, read = (f: string) => fs.readFileSync(f, 'utf8')): { name: string; dir: string } | undefined {
  let dir = path.dirname(file);
  for (;;) {
    try {
      const name = (JSON.parse(read(path.join(dir, 'package.json'))) as { name?: unknown }).name;
      if (typeof name === 'string' && name !== '') return { name, dir };
    } catch {
      // No package.json here (or unreadable): keep walking up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The tool this process runs, when its main script belongs to a known launcher; else undefined. */
export function toolName(mainScript: string | undefined, realpath = (f: string) => fs.realpathSync(f)): string | undefined {
  if (!mainScript) return undefined;
  let file: string;
  try {
    file = realpath(path.resolve(mainScript)); // node_modules/.bin/* are symlinks into the package
  } catch {
    return undefined;
  }
  if (YARN_RELEASE.test(file)) return 'yarn';
  if (PM2_CONTAINER.test(file)) return undefined;
  const owner = owningPackage(file);
  if (owner?.name === '@plandex-perf/register') return OWN_CLI.test(file) ? 'plandex-perf' : undefined;
  return owner && TOOL_PACKAGES.has(owner.name) ? owner.name : undefined;
}
