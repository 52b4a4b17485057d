import type { Profile } from '../../src/profiles.js';

/**
 * Tuning a `tuned` profile asks of every pool: bounded waits and statements, idle sessions ended,
 * connections rotated (HikariCP's `connectionTimeout`, `maxLifetime`). They change what a running app
 * sees, so a `safe` profile (`auto`) never sets them.
 */
const tuned = {
  connectionTimeoutMillis: 5_000,
  idleTimeoutMillis: 30_000,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
  maxLifetimeSeconds: 1800,
};

/**
 * pg-pool's defaults from a profile's figures. Pool size only when the profile knows the connections
 * this process may hold; a floor of one in eight of them stays open (none below 8), for the first
 * requests of a burst. `auto` knows neither, so it sets nothing and the app's pools stay as they are.
 */
export function poolProfileDefaults(profile: Profile): Record<string, number> {
  const values: Record<string, number> = {};
  if (profile.connections !== undefined) {
    values.max = Math.max(1, Math.round(profile.connections));
    values.min = Math.floor(values.max / 8);
  }
  return profile.intent === 'tuned' ? { ...values, ...tuned } : values;
}
