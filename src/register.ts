/**
 * `node --import @plandex-perf/register server.js`: loads the preload bundle (`dist/register.js`, which
 * `-r` loads directly) and holds the app's main module until every plugin has set up, so that even a
 * plugin that waits for I/O (a Redis L2, a trace exporter) is in place before the first request.
 * The preload bounds that wait itself (setup and config-load time limits) and never rejects.
 */
const bundle = new URL('../register.js', import.meta.url).href;
const { ready } = (await import(bundle)) as { ready: Promise<void> };
await ready;

export {};
