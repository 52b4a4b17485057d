import type { PgPoolOptions } from './schema.js';

export type PoolConfig = Record<string, unknown>;

/** Where an applied value comes from: `app`, `pg default`, `profile <name>`, `config`, `env` or `plandex-perf default`. */
export type Origin = string;
export interface Applied {
  value: unknown;
  from: Origin;
}

type OptionName = keyof PgPoolOptions;

/** Each pool setting, with the option that sets it and what pg-pool does when nobody does. */
const settings: { key: string; option: OptionName; pgDefault: unknown }[] = [
  { key: 'max', option: 'max', pgDefault: 10 },
  { key: 'min', option: 'min', pgDefault: 0 },
  { key: 'idleTimeoutMillis', option: 'idleTimeoutMillis', pgDefault: 10_000 },
  { key: 'connectionTimeoutMillis', option: 'connectionTimeoutMillis', pgDefault: 0 },
  { key: 'maxLifetimeSeconds', option: 'maxLifetimeSeconds', pgDefault: 0 },
  { key: 'keepAlive', option: 'keepAlive', pgDefault: false },
  // `undefined`: pg sends nothing, so the server's own setting (normally none) applies.
  { key: 'statement_timeout', option: 'statementTimeoutMs', pgDefault: undefined },
  { key: 'idle_in_transaction_session_timeout', option: 'idleInTransactionTimeoutMs', pgDefault: undefined },
  { key: 'query_timeout', option: 'queryTimeoutMs', pgDefault: undefined },
];

/** The app's own value of a setting, as pg-pool reads it (`poolSize` is pg's old name for `max`). */
function appValue(config: PoolConfig, key: string): unknown {
  if (key === 'max') return config.max ?? config.poolSize;
  return config[key];
}

/** The name the app gives its connections, if any, and where it gives it (pg reads these before any fallback). */
function appName(config: PoolConfig, env: NodeJS.ProcessEnv): { key: string; value: unknown } | undefined {
  if (config.application_name !== undefined) return { key: 'application_name', value: config.application_name };
  if (typeof config.connectionString === 'string' && /[?&]application_name=/.test(config.connectionString)) return { key: 'application_name', value: '(from the connection string)' };
  if (env.PGAPPNAME) return { key: 'application_name', value: env.PGAPPNAME };
  if (config.fallback_application_name !== undefined) return { key: 'fallback_application_name', value: config.fallback_application_name };
  return undefined;
}

/**
 * Fills what the options set and the app left unset; the app's explicit value wins unless the option is
 * enforced. With no configuration the options set nothing but the loose connection wait bound, so the
 * pool is the app's. Returns the new config and, for the one-time log, every value with its origin.
 */
export function tunePoolConfig(
  config: PoolConfig,
  options: PgPoolOptions,
  serviceName: string,
  originOf: (option: OptionName) => Origin = () => 'config',
  env: NodeJS.ProcessEnv = process.env,
): { config: PoolConfig; applied: Record<string, Applied> } {
  const enforced = (key: string) => (options.enforce as readonly string[]).includes(key);
  const ours = (option: OptionName, key: string): unknown => {
    const value = options[option];
    // 0 turns the server-side timeouts off: nothing is sent.
    if (key === 'statement_timeout' || key === 'idle_in_transaction_session_timeout' || key === 'query_timeout') return value || undefined;
    return value;
  };
  const out: PoolConfig = { ...config };
  const applied: Record<string, Applied> = {};
  for (const { key, option, pgDefault } of settings) {
    let value = ours(option, key);
    let from = originOf(option);
    if (key === 'query_timeout' && options.queryTimeoutMs === undefined && options.statementTimeoutMs) {
      value = options.statementTimeoutMs + 1000;
      from = `${originOf('statementTimeoutMs')}, statement_timeout + 1 s`;
    }
    const own = appValue(config, key);
    if (value !== undefined && (own === undefined || enforced(key))) {
      out[key] = value;
      applied[key] = { value, from };
    } else if (own !== undefined) {
      applied[key] = { value: own, from: 'app' };
    } else {
      applied[key] = { value: pgDefault ?? 'unset', from: 'pg default' };
    }
  }
  if (typeof out.min === 'number' && typeof out.max === 'number' && out.min > out.max) {
    out.min = out.max;
    applied.min = { value: out.max, from: `${applied.min?.from ?? 'config'}, capped at max` };
  }

  // The service name only as a fallback: pg sends `application_name || fallback_application_name`, so
  // whatever name the app gives wins, and the server shows ours only where it would show none.
  const name = options.applicationName ?? serviceName;
  const nameFrom = options.applicationName === undefined ? 'plandex-perf default: the service name' : originOf('applicationName');
  const own = appName(config, env);
  if (enforced('application_name')) {
    out.application_name = name;
    applied.application_name = { value: name, from: nameFrom };
  } else if (own) {
    applied[own.key] = { value: own.value, from: 'app' };
  } else {
    out.fallback_application_name = name;
    applied.fallback_application_name = { value: name, from: nameFrom };
  }
  return { config: out, applied };
}

/** One line for the log: `max=10 (pg default), connectionTimeoutMillis=30000 (plandex-perf default), …`. */
export function describeApplied(applied: Record<string, Applied>): string {
  return Object.entries(applied)
    .map(([key, { value, from }]) => `${key}=${typeof value === 'string' && value !== 'unset' ? JSON.stringify(value) : String(value)} (${from})`)
    .join(', ');
}
