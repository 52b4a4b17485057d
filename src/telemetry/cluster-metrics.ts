import { ValueType, type HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import * as sc from './semconv.js';

export interface ClusterCounts {
  timeouts: number;
  departures: number;
  inherited: number;
}

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1e6];

/**
 * The leader's own view of the cluster, as metric data added to the merged scrape (not instruments on
 * the meter: followers would report them too, and they are only true at the moment of the scrape).
 */
export function clusterMetrics(c: ClusterCounts & { answered: number; late: number; startMs: number; nowMs: number }): ScopeMetrics {
  const point = (value: number, attributes = {}) => ({ startTime: hr(c.startMs), endTime: hr(c.nowMs), attributes, value });
  const counter = (name: string, description: string, unit: string, value: number): MetricData => ({
    descriptor: { name, description, unit, valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: [point(value)],
  });
  return {
    scope: { name: '@plandex-perf/register' },
    metrics: [
      {
        descriptor: { name: sc.METRIC_CLUSTER_PROCESSES, description: 'Processes of this app whose metrics this scrape includes: answered in time, or timed out (their last snapshot is used).', unit: '{process}', valueType: ValueType.INT },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: [point(c.answered, { [sc.ATTR_CLUSTER_PROCESS_STATE]: 'answered' }), point(c.late, { [sc.ATTR_CLUSTER_PROCESS_STATE]: 'timed_out' })],
      },
      counter(sc.METRIC_CLUSTER_SCRAPE_TIMEOUTS, 'Followers that did not answer a scrape within telemetry.clusterScrapeTimeoutMs.', '{timeout}', c.timeouts),
      counter(sc.METRIC_CLUSTER_DEPARTURES, 'Processes that left the cluster; their counters and histograms stay in the totals.', '{process}', c.departures),
      counter(sc.METRIC_CLUSTER_INHERITED, 'Totals this leader took over from a previous leader (handed over to its heir).', '{handover}', c.inherited),
    ],
  };
}
