/**
 * Every capability the preload ships. Adding a plugin is a folder under `plugins/` and a line here; the
 * core (`src/`) knows none of them by name. The host sorts them by dependency, so the order is free.
 */
import type { PluginDefinition } from '../src/plugin.js';
import telemetry from '../src/telemetry/index.js';
import http from './http/index.js';
import httpClient from './http-client/index.js';
import redisClient from './redis-client/index.js';
import pg from './pg/index.js';
import runtime from './runtime/index.js';
import heapBudget from './heap-budget/index.js';
import pgPool from './pg-pool/index.js';
import objectPool from './object-pool/index.js';
import diagnostics from './diagnostics/index.js';
import cache from './cache/index.js';
import concurrencyLimit from './concurrency-limit/index.js';

export const plugins: PluginDefinition[] = [telemetry, http, pg, pgPool, objectPool, runtime, heapBudget, concurrencyLimit, cache, diagnostics, httpClient, redisClient];
