import type { PgPoolOptions } from './schema.js';

export type PoolConfig = Record<string, unknown>;

/**
 * Fills every option the app left unset; the app's explicit value wins unless the option is enforced.
 * Returns the new config and which options came from us, for the one-time log.
 */
export function tunePoolConfig(config: PoolConfig, options: PgPoolOptions, serviceName: string): { config: PoolConfig; filled: string[] } {
  const queryTimeout = options.queryTimeoutMs ?? (options.statementTimeoutMs > 0 ? options.statementTimeoutMs + 1000 : 0);
  const ours: PoolConfig = {
    max: options.max,
    min: options.min,
    idleTimeoutMillis: options.idleTimeoutMillis,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
    maxLifetimeSeconds: options.maxLifetimeSeconds,
    keepAlive: options.keepAlive,
    application_name: options.applicationName ?? serviceName,
    statement_timeout: options.statementTimeoutMs || undefined,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs || undefined,
    query_timeout: queryTimeout || undefined,
  };
  const out: PoolConfig = { ...config };
  const filled: string[] = [];
  for (const [key, value] of Object.entries(ours)) {
    if (value === undefined) continue;
    const enforced = (options.enforce as readonly string[]).includes(key);
    if (out[key] === undefined || enforced) {
      if (out[key] !== value) filled.push(key);
      out[key] = value;
    }
  }
  if (typeof out.min === 'number' && typeof out.max === 'number' && out.min > out.max) out.min = out.max;
  return { config: out, filled };
}

/** The settings worth logging, without secrets. */
export function describeConfig(config: PoolConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const key of ['max', 'min', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxLifetimeSeconds', 'keepAlive', 'application_name', 'statement_timeout', 'idle_in_transaction_session_timeout', 'query_timeout']) {
    if (config[key] !== undefined) shown[key] = config[key];
  }
  return shown;
}
