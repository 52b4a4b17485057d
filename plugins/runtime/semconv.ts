/** Runtime metric names: the first group is OpenTelemetry's runtime instrumentation's (@opentelemetry/instrumentation-runtime-node), kept name for name. */
export const METRIC_NODEJS_EVENTLOOP_DELAY_P99 = 'nodejs.eventloop.delay.p99' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_P90 = 'nodejs.eventloop.delay.p90' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_P50 = 'nodejs.eventloop.delay.p50' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_MAX = 'nodejs.eventloop.delay.max' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_MEAN = 'nodejs.eventloop.delay.mean' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_MIN = 'nodejs.eventloop.delay.min' as const;
export const METRIC_NODEJS_EVENTLOOP_DELAY_STDDEV = 'nodejs.eventloop.delay.stddev' as const;
export const METRIC_V8JS_RESOURCE_ACTIVE = 'v8js.resource.active' as const;
export const METRIC_NODEJS_EVENTLOOP_UTILIZATION = 'nodejs.eventloop.utilization' as const;
export const METRIC_V8JS_GC_DURATION = 'v8js.gc.duration' as const;
export const METRIC_V8JS_MEMORY_HEAP_USED = 'v8js.memory.heap.used' as const;
export const METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE = 'v8js.memory.heap.space.size' as const;
export const METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE = 'v8js.memory.heap.space.available_size' as const;
export const METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE = 'v8js.memory.heap.space.physical_size' as const;
export const METRIC_NODEJS_EVENTLOOP_TIME = 'nodejs.eventloop.time' as const;

/** Their attributes, as that instrumentation sets them. */
export const ATTR_NODEJS_EVENTLOOP_STATE = 'nodejs.eventloop.state' as const;
export const ATTR_V8JS_GC_TYPE = 'v8js.gc.type' as const;
export const ATTR_V8JS_HEAP_SPACE_NAME = 'v8js.heap.space.name' as const;
export const ATTR_V8JS_RESOURCE_TYPE = 'v8js.resource.type' as const;

/** Ours: process memory, from `process.memoryUsage()`. */
export const METRIC_PROCESS_MEMORY_USAGE = 'process.memory.usage' as const;

export const metricNames = [
  METRIC_NODEJS_EVENTLOOP_DELAY_P99,
  METRIC_NODEJS_EVENTLOOP_DELAY_P90,
  METRIC_NODEJS_EVENTLOOP_DELAY_P50,
  METRIC_NODEJS_EVENTLOOP_DELAY_MAX,
  METRIC_NODEJS_EVENTLOOP_DELAY_MEAN,
  METRIC_NODEJS_EVENTLOOP_DELAY_MIN,
  METRIC_NODEJS_EVENTLOOP_DELAY_STDDEV,
  METRIC_V8JS_RESOURCE_ACTIVE,
  METRIC_NODEJS_EVENTLOOP_UTILIZATION,
  METRIC_V8JS_GC_DURATION,
  METRIC_V8JS_MEMORY_HEAP_USED,
  METRIC_V8JS_MEMORY_HEAP_SPACE_SIZE,
  METRIC_V8JS_MEMORY_HEAP_SPACE_AVAILABLE_SIZE,
  METRIC_V8JS_MEMORY_HEAP_SPACE_PHYSICAL_SIZE,
  METRIC_NODEJS_EVENTLOOP_TIME,
  METRIC_PROCESS_MEMORY_USAGE,
] as const;
