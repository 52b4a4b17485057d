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
  // keepNames costs a `__name(fn, 'name')` per closure the hot paths create (about 1–2 µs of a one-query
  // request: the pg plugin's callback wrapper is one), yet without it V8 grew the young generation under load
  // on the overhead bench. Narrowed down on 2026-12-02 (Node 24.22, 20 000 `/ping-db` requests, c16): removing
  // only that one `__name` (an anonymous callback wrapper in plugins/pg/index.ts) is enough, with only the pg
  // plugin on. Without it the scavenger promotes 97 % of what survives (about 1 MB a scavenge, the whole graph
  // of in-flight requests) instead of 10–20 % (5 KB), the young generation grows 8 → 32 MiB and RSS after the
  // load is 150–160 MB instead of 105–112 (bare: 87–92); allocation-site pretenuring is not the cause
  // (--no-allocation-site-pretenuring changes nothing). Kept, and the wrapper keeps its name, until it is understood.
  keepNames: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-http', 'keyv', '@keyv/redis', '@keyv/postgres', 'pg'],
  banner: { js: "import{createRequire as __pperfRequire}from'node:module';const require=__pperfRequire(import.meta.url);" },
  plugins: [patchSdk],
});
