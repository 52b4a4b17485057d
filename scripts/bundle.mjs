#!/usr/bin/env node
// Bundles the preload (dist/src/preload.js → dist/preload.cjs) with esbuild: one file, so `-r` and
// `--import` load the same code with no module resolution per dependency at start-up; and its loader
// (dist/src/load.js → dist/register.js), which runs it with a code cache (src/load.ts).
//
// A dependency is changed on its way into the bundle, deliberately and checked: the metrics SDK's
// per-measurement path (scripts/sdk-patch.mjs says what and why: the attribute hash memoised for frozen
// attribute objects, which the plugins pass on their hot paths (src/attribute-sets.ts), and no clock read
// per measurement). If the SDK's source no longer has what a patch looks for, the build fails instead of
// shipping unpatched.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
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

const external = ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', 'keyv', '@keyv/redis', '@keyv/postgres', 'pg'];

// 1. The preload: one CommonJS module, dist/preload.cjs. The loader (2) runs it with a V8 code cache; it is
// also an ordinary CommonJS module, which the loader falls back to `require`. Strict, as its ES sources are.
// CommonJS also means Node's built-ins come through `require`: an ESM `import` of a built-in builds its ES
// module facade, which reads every export once, lazy ones included (`node:http` then loads the whole bundled
// undici for its WebSocket getters, `node:fs` its streams and readline); measured on Node 24.22, ~25 ms.
await build({
  entryPoints: ['dist/src/preload.js'],
  outfile: 'dist/preload.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
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
  external,
  // The sources' `import.meta.url` (createRequire bases), as a CommonJS module knows it.
  define: { 'import.meta.url': '__pperf_url' },
  banner: { js: '"use strict";var __pperf_url=require("node:url").pathToFileURL(__filename).href;' },
  plugins: [patchSdk],
});

// `import()` in a script compiled by node:vm needs vm's experimental loader hook: the bundle's dynamic imports
// go through src/import-module.ts, whose one `import(` is the fallback outside the loader.
const bundled = await readFile('dist/preload.cjs', 'utf8');
const imports = bundled.match(/\bimport\(/g)?.length ?? 0;
if (imports !== 1) throw new Error(`scripts/bundle.mjs: dist/preload.cjs has ${imports} \`import(\` (one expected, in src/import-module.ts): route dynamic imports through importModule()`);

// 2. The loader, dist/register.js: small, Node's built-ins only, told which build of the bundle it caches.
await build({
  entryPoints: ['dist/src/load.js'],
  outfile: 'dist/register.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22.15',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __PPERF_BUILD__: JSON.stringify(createHash('sha256').update(bundled).digest('hex').slice(0, 16)) },
});
