import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { CollectionResult } from '@opentelemetry/sdk-metrics';
import type { ExemplarStore } from './exemplars.js';
import { acceptsOpenMetrics, OPENMETRICS_CONTENT_TYPE, OpenMetricsSerializer, PROMETHEUS_CONTENT_TYPE } from './openmetrics.js';
import type { log as Log } from '../log.js';
import { Follower } from './follower.js';
import { Leader } from './leader.js';
import { toSnapshot, type Snapshot } from './merge.js';
import { createMetricsServer, type MetricsServer } from './metrics-server.js';
import type { Hello, ProcessRole } from './wire.js';
import { builtinLoaded } from '../hooks.js';

export interface EndpointOptions {
  host: string;
  port: number;
  path: string;
  serviceName: string;
  /** `auto`: processes of one app on one host share the port (one leader sums all); `off`: each alone. */
  cluster: 'auto' | 'off';
  clusterScrapeTimeoutMs: number;
  /** Retired series (of processes gone) that no live process reports are dropped after this; `0` keeps them. */
  staleSeriesAfterMs: number;
  /** The cumulative view of this process's metrics (`SeriesStore`, over a delta reader). */
  reader: { collect(): Promise<CollectionResult> };
  log: typeof Log;
}

export interface ProcessInfo {
  pid: number;
  role: ProcessRole;
  /** `leader` serves the port (and the sum), `follower` reports to it, `none` serves nothing. */
  metrics: 'starting' | 'leader' | 'follower' | 'none';
  /** Processes in this leader's scrape (itself included); 1 otherwise. */
  processes: number;
}

const MAX_FOLLOWERS = 256;
const MAX_ATTEMPTS = 10;
const START_MS = Math.round(Date.now() - process.uptime() * 1000);

export function processRole(): ProcessRole {
  if (process.env.pm_id !== undefined && process.env.NODE_APP_INSTANCE !== undefined) return 'pm2-instance';
  // node:cluster's own isWorker test, until the worker loads node:cluster, which deletes the variable.
  if (process.env.NODE_UNIQUE_ID !== undefined) return 'cluster-worker';
  // A primary has workers only once the host has loaded node:cluster; loading it here would cost every
  // host ~2 ms of start-up for nothing.
  if (builtinLoaded('cluster') === false) return 'process';
  const cluster = process.getBuiltinModule('node:cluster') as unknown as import('node:cluster').Cluster;
  if (cluster.isWorker) return 'cluster-worker';
  return Object.keys(cluster.workers ?? {}).length > 0 ? 'cluster-primary' : 'process';
}

/**
 * The metrics endpoint of one process, and its place among the other processes of the same app:
 * every process tries to bind the port; the one that does leads, the others follow it (an HTTP
 * Upgrade on that port). A follower whose leader goes away elects again after a short random delay;
 * the leader's heir (which holds its last totals) tries first.
 */
export class MetricsEndpoint {
  readonly server: MetricsServer;
  private state: ProcessInfo['metrics'] = 'starting';
  private leader: Leader | undefined;
  private follower: Follower | undefined;
  /** Totals inherited from a leader that went away, until a new leader has them. */
  private baseline: { term: string; data: Snapshot } | undefined;
  private attempts = 0;
  private closed = false;
  private readonly serializer = new PrometheusSerializer();
  private readonly openMetrics = new OpenMetricsSerializer();
  /**
   * Set once traces are on: histogram points then carry exemplars, in snapshots too (so followers'
   * exemplars reach the leader's scrape), and a scraper asking for OpenMetrics gets them.
   */
  exemplars: ExemplarStore | undefined;

  constructor(private readonly options: EndpointOptions) {
    this.server = createMetricsServer({
      host: options.host,
      port: options.port,
      path: options.path,
      render: (accept) => this.render(accept),
      describeProcess: () => {
        const info = this.info();
        return `pid=${info.pid}; role=${info.role}; metrics=${info.metrics}; processes=${info.processes}`;
      },
    });
  }

  info(): ProcessInfo {
    return { pid: process.pid, role: processRole(), metrics: this.state, processes: 1 + (this.leader?.followerCount ?? 0) };
  }

  start(): void {
    this.elect().catch((error: unknown) => this.options.log.error('PPERF_ERR_METRICS_LISTEN', 'metrics endpoint failed to start', { error }));
  }

  private async collectOwn() {
    const { resourceMetrics, errors } = await this.options.reader.collect();
    if (errors.length > 0) this.options.log.debug('metrics collection errors', { errors: errors.map(String) });
    this.exemplars?.attach(resourceMetrics);
    return resourceMetrics;
  }

  private async render(accept: string | undefined): Promise<{ body: string; contentType: string; varies: boolean }> {
    const resourceMetrics = this.leader ? await this.leader.collect() : await this.collectOwn();
    // OpenMetrics only when there are exemplars to carry: otherwise the answer stays what it always was.
    const varies = this.exemplars !== undefined;
    if (varies && acceptsOpenMetrics(accept)) return { body: this.openMetrics.serialize(resourceMetrics), contentType: OPENMETRICS_CONTENT_TYPE, varies };
    return { body: this.serializer.serialize(resourceMetrics), contentType: PROMETHEUS_CONTENT_TYPE, varies };
  }

  private where(): string {
    const { host, port } = this.options;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private async elect(): Promise<void> {
    if (this.closed) return;
    const { log, port } = this.options;
    const listened = await this.server.listen();
    if (this.closed) return void (await this.server.close());
    if (listened.ok) {
      this.state = 'leader';
      this.leader = new Leader({
        serviceName: this.options.serviceName,
        collectOwn: () => this.collectOwn(),
        timeoutMs: this.options.clusterScrapeTimeoutMs,
        staleAfterMs: this.options.staleSeriesAfterMs,
        maxFollowers: MAX_FOLLOWERS,
        inherited: this.baseline,
        debug: (message) => log.debug(message),
      });
      if (this.baseline) log.info(`metrics: took over as leader with the totals of the previous one`);
      this.baseline = undefined;
      this.server.onUpgrade = (request, socket, head) => this.leader?.handleUpgrade(request, socket, head);
      const host = this.options.host;
      log.info(`metrics at http://${host.includes(':') ? `[${host}]` : host}:${listened.port}${this.options.path}`);
      return;
    }
    const { error } = listened;
    if (error.code !== 'EADDRINUSE' || this.options.cluster === 'off' || port === 0) {
      this.state = 'none';
      if (error.code === 'EADDRINUSE') log.error('PPERF_ERR_METRICS_PORT_IN_USE', `metrics endpoint ${this.where()} is in use; metrics are not served, the host runs on`);
      else log.error('PPERF_ERR_METRICS_LISTEN', `metrics endpoint ${this.where()} failed to listen`, { error });
      return;
    }
    const follower: Follower = new Follower({
      host: this.options.host,
      port,
      hello: this.hello(),
      collect: async () => toSnapshot((await this.collectOwn()).scopeMetrics),
      onLost: () => this.lost(follower),
      handshakeTimeoutMs: Math.max(1000, this.options.clusterScrapeTimeoutMs),
    });
    const result = await follower.connect(this.baseline);
    if (this.closed) return void (await follower.close(0));
    if (result.kind === 'following') {
      this.state = 'follower';
      this.follower = follower;
      this.baseline = undefined;
      this.attempts = 0;
      log.info(`metrics at http://${this.where()}${this.options.path} are served by pid ${result.welcome.pid}, which includes this process (slot ${result.welcome.slot})`);
    } else if (result.kind === 'refused' && ++this.attempts < MAX_ATTEMPTS) {
      this.retry(50 * 2 ** this.attempts);
    } else {
      this.state = 'none';
      const reason = result.kind === 'taken' ? result.reason : 'the port stays taken but no leader answers';
      log.error('PPERF_ERR_METRICS_PORT_IN_USE', `metrics endpoint ${this.where()} is in use (${reason}); metrics are not served, the host runs on`);
    }
  }

  private retry(delayMs: number): void {
    this.state = 'starting';
    setTimeout(() => void this.elect().catch(() => {}), delayMs).unref();
  }

  private lost(follower: Follower): void {
    if (this.closed || this.follower !== follower) return;
    this.follower = undefined;
    this.baseline = follower.baseline ?? this.baseline;
    this.options.log.debug(`metrics leader pid ${follower.welcome?.pid} went away; electing again`);
    // The heir goes first; a cluster worker whose leader was its primary is about to exit with it.
    const parentLed = follower.welcome?.pid === process.ppid;
    this.retry(this.baseline ? 5 * Math.random() : parentLed ? 1000 : 50 + 250 * Math.random());
  }

  private hello(): Hello {
    const instance = process.env.NODE_APP_INSTANCE;
    return { service: this.options.serviceName, pid: process.pid, ppid: process.ppid, identity: `${process.pid}:${START_MS}`, role: processRole(), ...(instance === undefined ? {} : { instance }) };
  }

  /** A follower pushes its counts to the leader now (bounded); nothing to do for a leader. */
  async flush(timeoutMs: number): Promise<void> {
    await this.follower?.push(Math.min(timeoutMs, 500));
  }

  /** Bounded: a follower sends its last snapshot (at most `timeoutMs`), a leader hands over to its heir. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    const leader = this.leader;
    this.leader = undefined;
    await Promise.all([this.follower?.close(Math.min(timeoutMs, 500)), leader?.close()]);
    await this.server.close();
  }
}
