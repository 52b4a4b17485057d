import { crypto } from '../lazy-crypto.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { attributesKey, cumulativePart, mergeSnapshots, toSnapshot, type MergeInput, type Snapshot } from './merge.js';
import { clusterMetrics, type ClusterCounts } from './cluster-metrics.js';
import { decodeHello, encodeHeader, HELLO_HEADER, isLocal, PROTOCOL, readLines, send, UPGRADE_PATH, type Hello } from './wire.js';

interface Follower {
  hello: Hello;
  socket: Socket;
  slot: number;
  last: Snapshot | undefined;
  lastId: number;
  pending: Map<number, () => void>;
}

export interface LeaderOptions {
  serviceName: string;
  collectOwn: () => Promise<ResourceMetrics>;
  /** How long a scrape waits for each follower before using its last snapshot. */
  timeoutMs: number;
  maxFollowers: number;
  /** Whether a pid still runs (`process.kill(pid, 0)`); a parameter for the tests. */
  isAlive?: (pid: number) => boolean;
  /**
   * A retired series (of processes gone) that no live process reports for this long is dropped, as each
   * process drops its own quiet series; `0` or unset keeps them. A parameter with `now` for the tests.
   */
  staleAfterMs?: number;
  now?: () => number;
  /** Totals handed over by a previous leader (this process was its heir). */
  inherited?: { term: string; data: Snapshot };
  debug: (message: string) => void;
}

/** Bound on processes that left but still run (reconnect expected); beyond it the oldest is folded for good. */
const MAX_DEPARTED = 64;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The process that holds the metrics port: it accepts followers of the same service, asks them for
 * their metrics on each scrape (in parallel, bounded), and keeps the totals of those that left so that
 * no counter goes backwards. All of its state has one owner: this object.
 */
export class Leader {
  readonly term = crypto().randomUUID();
  private readonly followers = new Set<Follower>();
  /** Left, last snapshot kept in full until the pid is gone (a reconnect then resumes it, not doubles it). */
  private readonly departed = new Map<string, { pid: number; snapshot: Snapshot }>();
  /** Counters and histograms of processes gone for good. */
  private retired: Snapshot = [];
  /** Per retired series: when a live process last reported it (or when it was retired). */
  private readonly retiredSeen = new Map<string, number>();
  private readonly inheritedTerms = new Set<string>();
  private readonly counts: ClusterCounts = { timeouts: 0, departures: 0, inherited: 0 };
  private clustered = false;
  private heir: Follower | undefined;
  private nextId = 1;
  private readonly startMs = Date.now();
  private readonly isAlive: (pid: number) => boolean;

  constructor(private readonly options: LeaderOptions) {
    this.isAlive = options.isAlive ?? alive;
    if (options.inherited) this.inherit(options.inherited.term, options.inherited.data);
  }

  get followerCount(): number {
    return this.followers.size;
  }

  /** The metrics server's `upgrade` listener. Loopback only, same `service.name` only. */
  handleUpgrade(request: IncomingMessage, raw: Duplex, head: Buffer): void {
    const socket = raw as Socket;
    const refuse = (status: number, reason: string): void => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    const pathname = (request.url ?? '').split('?', 1)[0];
    if (pathname !== UPGRADE_PATH || request.headers.upgrade !== PROTOCOL) return refuse(404, 'Not Found');
    if (!isLocal(socket.remoteAddress, socket.localAddress)) return refuse(403, 'Forbidden');
    const hello = decodeHello(request.headers[HELLO_HEADER]);
    if (!hello) return refuse(400, 'Bad Request');
    if (hello.service !== this.options.serviceName) return refuse(409, `Conflict: service ${encodeURIComponent(this.options.serviceName)}`);
    if (this.followers.size >= this.options.maxFollowers) return refuse(503, 'Service Unavailable');

    const used = new Set([...this.followers].map((f) => f.slot));
    let slot = 1;
    while (used.has(slot)) slot++;
    const back = this.departed.get(hello.identity);
    this.departed.delete(hello.identity);
    // A process that reconnects keeps its last snapshot until it answers again: the sum does not dip.
    const follower: Follower = { hello, socket, slot, last: back?.snapshot, lastId: 0, pending: new Map() };
    socket.setNoDelay(true);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${PROTOCOL}\r\n${HELLO_HEADER}: ${encodeHeader({ pid: process.pid, term: this.term, slot })}\r\n\r\n`,
    );
    this.followers.add(follower);
    this.clustered = true;
    this.options.debug(`cluster: follower pid ${hello.pid} (${hello.role}) joined as slot ${slot}`);
    // The newcomer may be the heir now: give it the totals at once, not at the next scrape. A rolling
    // restart (pm2 reload) replaces the leader before anyone scrapes, and without a signal listener a
    // replaced process leaves no last word.
    this.refreshHeir();
    readLines(socket, head, (message) => this.onMessage(follower, message));
    socket.on('error', () => {});
    // The metrics server allows half-open sockets; a follower that ends is gone (its 'bye' was read first).
    socket.once('end', () => socket.destroy());
    socket.once('close', () => this.onClose(follower));
  }

  private onMessage(follower: Follower, message: Record<string, unknown>): void {
    const data = message.data as Snapshot | undefined;
    if (!Array.isArray(data)) return;
    if (message.t === 'metrics' && typeof message.id === 'number') {
      if (message.id >= follower.lastId) {
        follower.last = data;
        follower.lastId = message.id;
      }
      follower.pending.get(message.id)?.();
    } else if (message.t === 'push') {
      follower.last = data;
    } else if (message.t === 'bye') {
      follower.last = data;
      follower.lastId = Number.MAX_SAFE_INTEGER;
    } else if (message.t === 'inherit' && typeof message.term === 'string') {
      this.inherit(message.term, data);
    }
  }

  private inherit(term: string, data: Snapshot): void {
    if (term === this.term || this.inheritedTerms.has(term)) return;
    if (this.inheritedTerms.size >= 16) this.inheritedTerms.clear();
    this.inheritedTerms.add(term);
    this.retired = mergeSnapshots([{ snapshot: this.retired }, { snapshot: cumulativePart(data) }]);
    this.counts.inherited++;
    this.clustered = true;
  }

  private onClose(follower: Follower): void {
    if (!this.followers.delete(follower)) return;
    this.counts.departures++;
    for (const resolve of follower.pending.values()) resolve();
    if (follower.last) this.departed.set(follower.hello.identity, { pid: follower.hello.pid, snapshot: follower.last });
    if (this.departed.size > MAX_DEPARTED) {
      const [oldest] = this.departed.keys();
      this.retire(oldest!);
    }
    this.options.debug(`cluster: follower pid ${follower.hello.pid} left (slot ${follower.slot} free)`);
    if (follower === this.heir) this.refreshHeir();
  }

  private retire(identity: string): void {
    const entry = this.departed.get(identity);
    if (!entry) return;
    this.departed.delete(identity);
    this.retired = mergeSnapshots([{ snapshot: this.retired }, { snapshot: cumulativePart(entry.snapshot) }]);
  }

  /** Asks one follower; resolves true if it answered in time. */
  private ask(follower: Follower): Promise<boolean> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        follower.pending.delete(id);
        resolve(false);
      }, this.options.timeoutMs);
      timer.unref();
      follower.pending.set(id, () => {
        clearTimeout(timer);
        follower.pending.delete(id);
        resolve(true);
      });
      if (!send(follower.socket, { t: 'collect', id })) follower.pending.get(id)?.();
    });
  }

  /** One scrape: this process, every follower (bounded wait), and the totals of those gone. */
  async collect(): Promise<ResourceMetrics> {
    if (!this.clustered) return this.options.collectOwn();
    const asked = [...this.followers];
    const [own, answers] = await Promise.all([this.options.collectOwn(), Promise.all(asked.map((f) => this.ask(f)))]);
    let answered = 1;
    let late = 0;
    asked.forEach((follower, i) => {
      if (!this.followers.has(follower)) return;
      if (answers[i]) answered++;
      else late++;
    });
    this.counts.timeouts += late;
    for (const [identity, { pid }] of this.departed) if (!this.isAlive(pid)) this.retire(identity);

    const ownSnapshot = toSnapshot(own.scopeMetrics);
    const gone: MergeInput[] = [{ snapshot: this.retired }, ...[...this.departed.values()].map((d) => ({ snapshot: cumulativePart(d.snapshot) }))];
    const live: MergeInput[] = [...this.followers].filter((f) => f.last).map((f) => ({ snapshot: f.last!, slot: f.slot }));
    this.pruneRetired([ownSnapshot, ...live.map((l) => l.snapshot)]);
    gone[0] = { snapshot: this.retired };
    const merged = mergeSnapshots([{ snapshot: ownSnapshot, slot: 0 }, ...live, ...gone]);
    this.handOver(gone, ownSnapshot);
    const extra = clusterMetrics({ ...this.counts, answered, late, startMs: this.startMs, nowMs: Date.now() });
    return { resource: own.resource, scopeMetrics: [...merged, extra] };
  }

  /**
   * Without this the retired totals would keep every route a departed worker ever served, for the life
   * of the leader. A retired series still reported by a live process is kept (dropping it would make the
   * sum go backwards); one that no live process has reported for `staleAfterMs` goes, and if it comes
   * back it is a new series, a counter reset to Prometheus — the same rule as in each process.
   */
  private pruneRetired(live: Snapshot[]): void {
    const staleAfterMs = this.options.staleAfterMs ?? 0;
    if (staleAfterMs <= 0 || this.retired.length === 0) return;
    const now = (this.options.now ?? Date.now)();
    const key = (scope: string, metric: string, attributes: Record<string, unknown>) => `${scope}\u0000${metric}\u0000${attributesKey(attributes as never)}`;
    const reported = new Set<string>();
    for (const snapshot of live) for (const { scope, metrics } of snapshot) for (const m of metrics) for (const p of m.dataPoints) reported.add(key(scope.name, m.descriptor.name, p.attributes));
    const kept = new Set<string>();
    let dropped = false;
    this.retired = this.retired
      .map(({ scope, metrics }) => ({
        scope,
        metrics: metrics
          .map((metric) => {
            const dataPoints = (metric.dataPoints as { attributes: Record<string, unknown> }[]).filter((p) => {
              const k = key(scope.name, metric.descriptor.name, p.attributes);
              const seen = this.retiredSeen.get(k);
              if (seen === undefined || reported.has(k)) this.retiredSeen.set(k, now);
              else if (now - seen >= staleAfterMs) return !(dropped = true);
              kept.add(k);
              return true;
            });
            return { ...metric, dataPoints } as typeof metric;
          })
          .filter((metric) => metric.dataPoints.length > 0),
      }))
      .filter((s) => s.metrics.length > 0);
    for (const k of this.retiredSeen.keys()) if (!kept.has(k)) this.retiredSeen.delete(k);
    if (dropped) this.options.debug('metrics: dropped retired series no live process reports any more');
  }

  /**
   * Keeps the heir (the lowest slot) up to date with everything but the live followers' own counts, so
   * that if this process dies, even by SIGKILL, the next leader starts from the totals last scraped.
   */
  private handOver(gone: MergeInput[], own: Snapshot): void {
    let heir: Follower | undefined;
    for (const f of this.followers) if (!heir || f.slot < heir.slot) heir = f;
    // A former heir must not later hand over totals that are stale (the first hand-over of a term wins).
    if (this.heir && this.heir !== heir && this.followers.has(this.heir)) send(this.heir.socket, { t: 'drop' });
    this.heir = heir;
    if (!heir) return;
    send(heir.socket, { t: 'baseline', term: this.term, data: cumulativePart(mergeSnapshots([{ snapshot: own }, ...gone])) });
  }

  /** Hands the heir the current totals (own + departed), off the scrape path; a failure keeps the last ones. */
  private refreshHeir(): void {
    this.options
      .collectOwn()
      .then((own) => {
        for (const [identity, { pid }] of this.departed) if (!this.isAlive(pid)) this.retire(identity);
        this.handOver([{ snapshot: this.retired }, ...[...this.departed.values()].map((d) => ({ snapshot: cumulativePart(d.snapshot) }))], toSnapshot(own.scopeMetrics));
      })
      .catch(() => {});
  }

  /** Graceful end of the term: hands the final totals to the heir, then lets every follower go. */
  async close(): Promise<void> {
    if (this.clustered && this.followers.size > 0) {
      try {
        const own = await Promise.race([
          this.options.collectOwn(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), this.options.timeoutMs).unref()),
        ]);
        for (const [identity, { pid }] of this.departed) if (!this.isAlive(pid)) this.retire(identity);
        this.handOver([{ snapshot: this.retired }, ...[...this.departed.values()].map((d) => ({ snapshot: cumulativePart(d.snapshot) }))], toSnapshot(own.scopeMetrics));
      } catch {
        // The heir keeps the baseline of the last scrape.
      }
    }
    for (const follower of this.followers) follower.socket.end();
    this.followers.clear();
  }
}
