// Registers OpenTelemetry's ESM loader hook, for the "otel" variant of the
// overhead benchmark: node --import <this> --import @opentelemetry/auto-instrumentations-node/register app.mjs
//
// Why it is needed: auto-instrumentations-node/register alone patches modules
// through require() hooks. The app's `import http from 'node:http'` never goes
// through require(), so http is never patched and OTel records no
// http.server.request.duration at all (checked: the metric is absent without
// this hook, present with it). pg is caught either way, because a CommonJS
// package imported from ESM is still loaded by the CommonJS loader. The hook
// (import-in-the-middle underneath) wraps ES modules and builtins imported
// from ESM so the instrumentations can patch them too.
//
// OpenTelemetry's ESM doc (opentelemetry-js doc/esm-support.md) gives
// `--experimental-loader=@opentelemetry/instrumentation/hook.mjs`; Node 24
// warns that flag may be removed and points to module.register() with the
// same hook, which is what this file does. Both were checked to produce the
// same metrics. It must be imported before the SDK and before the app.

import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
