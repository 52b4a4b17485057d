import type { PluginDefinition } from './plugin.js';
import telemetry from './telemetry/index.js';
import http from '../plugins/http/index.js';
import pg from '../plugins/pg/index.js';
import runtime from '../plugins/runtime/index.js';
import heapBudget from '../plugins/heap-budget/index.js';
import pgPool from '../plugins/pg-pool/index.js';
import objectPool from '../plugins/object-pool/index.js';
import diagnostics from '../plugins/diagnostics/index.js';
import cache from '../plugins/cache/index.js';

/** Every capability the preload ships, in no particular order: the host sorts them by dependency. */
export const builtinPlugins = [telemetry, http, pg, pgPool, objectPool, runtime, heapBudget, cache, diagnostics] as unknown as PluginDefinition[];
