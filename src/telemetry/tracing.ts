import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, context, propagation, trace, type Context, type ContextManager, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { TelemetryOptions } from './schema.js';
import { keepAcrossQueues } from '../async-context.js';
import { importModule } from '../import-module.js';

/**
 * An AsyncLocalStorage context manager that can also *enter* a context. HTTP requests are seen through
 * diagnostics_channel, which gives no callback to wrap, so the request's span is entered for the rest of
 * that synchronous run and its async continuations — the approach of dd-trace's channel-based plugins.
 */
export class EnterableContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const call = fn as unknown as (...a: unknown[]) => ReturnType<F>;
    return this.storage.run(ctx, () => call.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = this.storage.run.bind(this.storage);
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function bound(this: unknown, ...args: unknown[]) {
      return run(ctx, () => fn.apply(this, args));
    } as unknown as T;
  }
  enter(ctx: Context): void {
    this.storage.enterWith(ctx);
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

export interface Tracing {
  tracer: Tracer;
  /** Makes `ctx` the active context for the rest of this synchronous run and its continuations. */
  enter(ctx: Context): void;
  flush(timeoutMs: number): Promise<void>;
  shutdown(): Promise<void>;
}

/** Loaded only when traces are configured, so the SDK's trace packages cost nothing otherwise. */
export async function startTracing(options: TelemetryOptions, resource: Resource): Promise<Tracing> {
  const [{ TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, ConsoleSpanExporter }, { W3CTraceContextPropagator }] =
    await Promise.all([importModule<typeof import('@opentelemetry/sdk-trace')>('@opentelemetry/sdk-trace'), import('@opentelemetry/core')]);
  let exporter;
  if (options.tracesExporter === 'console') {
    exporter = new ConsoleSpanExporter();
  } else {
    const { OTLPTraceExporter } = await importModule<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter(options.tracesEndpoint ? { url: options.tracesEndpoint } : {});
  }
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.tracesSampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  // Join the host's own OpenTelemetry if it has one: the global setters refuse to replace an existing registration.
  const manager = new EnterableContextManager();
  const ownManager = context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  // A query parked in a pool's queue keeps its caller's span as parent, whichever context manager runs.
  keepAcrossQueues({ current: () => context.active(), run: (ctx, fn) => context.with(ctx as Context, fn) });
  const tracer = provider.getTracer('@plandex-perf/register');
  return {
    tracer,
    enter(ctx) {
      if (ownManager) manager.enter(ctx);
    },
    async flush(timeoutMs) {
      await Promise.race([provider.forceFlush(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    },
    shutdown: () => provider.shutdown(),
  };
}
