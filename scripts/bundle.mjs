#!/usr/bin/env node
// Bundles the preload (dist/src/preload.js → dist/register.js) with esbuild: one file, so `-r` and
// `--import` load the same code with no module resolution per dependency at start-up.
//
// A dependency is changed on its way into the bundle, deliberately and checked: the metrics SDK's
// per-measurement path (scripts/sdk-patch.mjs says what and why: the attribute hash memoised for frozen
// attribute objects, which the plugins pass on their hot paths (src/attribute-sets.ts), and no clock read
// per measurement). If the SDK's source no longer has what a patch looks for, the build fails instead of
// shipping unpatched.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { SDK_PATCHES, patchSdkFile } from './sdk-patch.mjs';

const patchSdk = {
  name: 'plandex-perf-sdk-metrics',
  setup(b) {
    const applied = new Set();
    b.onLoad({ filter: /[\\/]@opentelemetry[\\/]sdk-metrics[\\/].*\.m?js$/ }, async (args) => {
      if (!SDK_PATCHES.some((p) => p.file.test(args.path))) return undefined;
      const patched = patchSdkFile(args.path, await readFile(args.path, 'utf8'));
      if (patched === undefined) return undefined;
      for (const name of patched.applied) applied.add(name);
      return { contents: patched.contents, loader: 'js' };
    });
    b.onEnd((result) => {
      if (result.errors.length > 0) return;
      for (const patch of SDK_PATCHES) {
        if (!applied.has(patch.name)) result.errors.push({ text: `scripts/bundle.mjs: the SDK patch "${patch.name}" (${JSON.stringify(patch.find)}) did not apply to @opentelemetry/sdk-metrics; update it for this SDK version` });
      }
    });
  },
};

// Node's built-in modules come through `require`, not ESM `import`: an `import` of a built-in builds its ES
// module facade, which reads every export once, lazy ones included — `node:http` then loads the whole
// bundled undici (its WebSocket getters), `node:fs` its streams, fs/promises and readline, and so on. Bare
// CommonJS hosts never pay that; measured on Node 24.22, the facades were ~25 ms of the preload's start-up.
const builtinsByRequire = {
  name: 'plandex-perf-builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'import-statement' ? { path: args.path, namespace: 'pperf-builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'pperf-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

await build({
  entryPoints: ['dist/src/preload.js'],
  outfile: 'dist/register.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22.15',
  minifySyntax: true,
  minifyWhitespace: true,
  // No keepNames: identifiers are not minified, so names survive without esbuild's `__name(fn, 'name')`, which
  // costs a property redefinition per closure the hot paths create (the function goes to dictionary mode:
  // ~1.5 k instructions a query on the pg callback wrapper). It was kept until 2026-12-02 because dropping it
  // made V8 promote whole in-flight requests under load (young generation 8 → 32 MiB, +50 MB RSS); that came
  // from the pg plugin's per-query closures (a `finish` closure and a callback wrapper sharing the query
  // call's context), not from the names. With one record object per query (plugins/pg/index.ts, QueryCall)
  // the promotion rate stays at bare's with or without names (`--trace-gc-nvp`, 20 000 `/ping-db` requests).
  keepNames: false,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', 'keyv', '@keyv/redis', '@keyv/postgres', 'pg'],
  banner: { js: "import{createRequire as __pperfRequire}from'node:module';const require=__pperfRequire(import.meta.url);" },
  plugins: [patchSdk, builtinsByRequire],
});
