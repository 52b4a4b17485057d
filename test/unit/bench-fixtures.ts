/** One bench run as the bench's results file holds it, for the report tests (kpis, markdown). */
export const benchRun = (variant: string, round: number, rps = 100, extra: Record<string, unknown> = {}) => ({
  variant,
  round,
  rps,
  latency: { p50: 10, p95: 40, p99: 80, p999: 120 },
  hwmMB: 100,
  startupMs: 200,
  db: { perRequestMs: 2 },
  requests: 1000,
  errors: 0,
  timeouts: 0,
  shed: 0,
  ...extra,
});
