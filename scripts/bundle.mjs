#!/usr/bin/env node
// Bundles the preload (dist/src/preload.js → dist/register.js) with esbuild: one file, so `-r` and
// `--import` load the same code with no module resolution per dependency at start-up.
//
// One dependency is changed on its way into the bundle, deliberately and checked: the metrics SDK keys every
// measurement by `hashAttributes(attributes)` (sort the keys, JSON.stringify them): ~1 KB of garbage and a
// sort per `record()`, 4 times per request with a query on the overhead bench, where no public API lets a
// caller pass a key it already has. The bundle memoises the hash of *frozen* attribute objects by identity
// (a frozen object cannot change, so its hash cannot either); every other object is hashed as before. The
// plugins pass frozen, cached attribute objects on their hot paths (src/attribute-sets.ts).
// If the SDK's source no longer has the function this looks for, the build fails instead of shipping unpatched.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { HASH, patchHashAttributes } from './sdk-patch.mjs';

const patchSdk = {
  name: 'plandex-perf-sdk-metrics-hash',
  setup(b) {
    let patched = false;
    b.onLoad({ filter: /[\\/]@opentelemetry[\\/]sdk-metrics[\\/].*[\\/]utils\.m?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const contents = patchHashAttributes(source);
      if (contents === undefined) return undefined;
      patched = true;
      return { contents, loader: 'js' };
    });
    b.onEnd((result) => {
      if (result.errors.length === 0 && !patched) {
        result.errors.push({ text: `scripts/bundle.mjs: "${HASH}" not found in @opentelemetry/sdk-metrics; update the patch for this SDK version` });
      }
    });
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
  plugins: [patchSdk],
});
