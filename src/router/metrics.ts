/**
 * Prometheus exposition (prom-client). Nothing is recorded through prom-client on the request
 * path: the router keeps its own cumulative counters and these metrics read them at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, type MetricType } from 'prom-client';
import type { SkewCount } from './release-counters.js';
import { PROM_BUCKETS_S, type StatsTotals } from './revision-stats.js';

/** A revision's cumulative figures, as `/metrics` reads them (the router's own counters fit). */
export interface MetricsRevision {
  service: string;
  revision: string;
  totals: Omit<StatsTotals, 'latencyBins' | 'latencyBuckets'> & {
    /** Counts per {@link PROM_BUCKETS_S} bound (not cumulative), plus +Inf last. */
    latencyBuckets: ArrayLike<number>;
  };
}

/** An instance's live figures (gauges). */
export interface MetricsInstance {
  id: string;
  service: string;
  revision: string;
  inflight: number;
  ejected: boolean;
}

/** A release's cumulative figures. */
export interface MetricsRelease {
  release: string;
  assigned: { stable: number; canary: number };
  pinned: { stable: number; canary: number };
  fallbacks: number;
  unreadyServed: number;
  forgedTokens: number;
  /** Skew errors per member revision. */
  skewByRevision: { values(): Iterable<SkewCount> };
}

/**
 * Where the metrics read from: one router's counters, or the figures its supervisor merged from
 * several workers; either way the exposition is the same.
 */
export interface MetricsSource {
  revisions(): Iterable<MetricsRevision>;
  instances(): Iterable<MetricsInstance>;
  mirrorsSkipped(): number;
  releases(): Iterable<MetricsRelease>;
  /** Requests refused before routing for the client's fault, by reason (e.g. `duplicate-host`). */
  refused(): ReadonlyMap<string, number>;
}

const HISTOGRAM_HELP = 'Time from request arrival to the end of the response, per service and revision.';

type RevisionLabels = 'service' | 'revision';

/** A histogram whose buckets are read from the router's own cumulative counts at scrape time. */
class SnapshotHistogram extends Histogram<RevisionLabels> {
  constructor(
    private readonly source: MetricsSource,
    registry: Registry,
  ) {
    super({
      name: 'graylane_router_request_duration_seconds',
      help: HISTOGRAM_HELP,
      labelNames: ['service', 'revision'],
      buckets: PROM_BUCKETS_S,
      registers: [registry],
    });
  }

  // The registry formats from getForPromString() when a metric has one; both read the snapshot.
  getForPromString(): ReturnType<Histogram<RevisionLabels>['get']> {
    return this.get();
  }

  override get(): ReturnType<Histogram<RevisionLabels>['get']> {
    const values: { value: number; labels: Partial<Record<RevisionLabels | 'le', string | number>>; metricName: string }[] = [];
    const name = 'graylane_router_request_duration_seconds';
    for (const c of this.source.revisions()) {
      const labels = { service: c.service, revision: c.revision };
      let cumulative = 0;
      const lb = c.totals.latencyBuckets;
      PROM_BUCKETS_S.forEach((le, i) => {
        cumulative += lb[i]!;
        values.push({ value: cumulative, labels: { ...labels, le }, metricName: `${name}_bucket` });
      });
      cumulative += lb[PROM_BUCKETS_S.length]!;
      values.push({ value: cumulative, labels: { ...labels, le: '+Inf' }, metricName: `${name}_bucket` });
      values.push({ value: c.totals.latencySumS, labels, metricName: `${name}_sum` });
      values.push({ value: cumulative, labels, metricName: `${name}_count` });
    }
    // prom-client's typings declare `type` as a numeric enum; at run time it is the string.
    return Promise.resolve({ name, help: HISTOGRAM_HELP, type: 'histogram' as unknown as MetricType, aggregator: 'sum' as const, collect: () => undefined, values });
  }
}

/** Builds the registry served at `/metrics`. */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: (c: MetricsRevision) => number) =>
    new Counter<RevisionLabels>({
      name,
      help,
      labelNames: ['service', 'revision'],
      registers: [registry],
      collect() {
        this.reset();
        for (const c of source.revisions()) this.inc({ service: c.service, revision: c.revision }, read(c));
      },
    });
  counter('graylane_router_requests_total', 'Requests routed to a revision (mirrored copies are counted apart).', (c) => c.totals.requests);
  counter('graylane_router_fallbacks_total', 'Requests meant for a revision sent to the other side because it had no ready instance.', (c) => c.totals.fallbacks);
  counter('graylane_router_unready_served_total', 'Within-page requests of a release pinned to a revision with no ready instance, served by its running but unready instances.', (c) => c.totals.unreadyServed);
  counter('graylane_router_mirror_requests_total', 'Mirrored copies sent to a revision.', (c) => c.totals.mirrored.requests);
  counter('graylane_router_mirror_failures_total', 'Mirrored copies that failed (5xx, connection error or timeout).', (c) => c.totals.mirrored.failures);
  counter('graylane_router_upstream_errors_total', 'Connection failures and resets talking to instances.', (c) => c.totals.upstreamErrors);
  counter('graylane_router_timeouts_total', 'Connect, response-header and idle timeouts.', (c) => c.totals.timeouts);
  counter('graylane_router_rejected_total', '503s from circuit breaking or no ready instance.', (c) => c.totals.rejected);
  counter('graylane_router_failed_total', 'Requests that failed for the revision (5xx or a response cut off by the upstream), each once.', (c) => c.totals.failed);
  counter('graylane_router_client_errors_total', 'Routed requests refused or cut for the client\'s fault (400, 408, 413, stopped reading); never the revision\'s errors.', (c) => c.totals.clientErrors);
  new Counter<'reason'>({
    name: 'graylane_router_refused_total',
    help: 'Requests refused before routing for the client\'s fault (duplicate Host, bad path, body too large, header timeout, unsupported transfer coding), by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of source.refused()) this.inc({ reason }, n);
    },
  });
  new Counter<RevisionLabels | 'class'>({
    name: 'graylane_router_responses_total',
    help: 'Responses by status class (1xx..5xx), the router\'s own 502/503/504 included.',
    labelNames: ['service', 'revision', 'class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of source.revisions()) {
        for (const [cls, n] of Object.entries(c.totals.responses) as [string, number][]) this.inc({ service: c.service, revision: c.revision, class: cls }, n);
      }
    },
  });
  new SnapshotHistogram(source, registry);
  new Gauge<RevisionLabels | 'instance'>({
    name: 'graylane_router_instance_inflight_requests',
    help: 'Requests in flight per instance.',
    labelNames: ['service', 'revision', 'instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of source.instances()) this.set({ service: i.service, revision: i.revision, instance: i.id }, i.inflight);
    },
  });
  new Gauge<RevisionLabels | 'instance'>({
    name: 'graylane_router_instance_ejected',
    help: '1 while outlier detection keeps an instance out of balancing.',
    labelNames: ['service', 'revision', 'instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of source.instances()) this.set({ service: i.service, revision: i.revision, instance: i.id }, i.ejected ? 1 : 0);
    },
  });
  new Counter({
    name: 'graylane_router_mirror_skipped_total',
    help: 'Mirrored copies skipped because the concurrency bound was reached.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.mirrorsSkipped());
    },
  });
  createReleaseMetrics(source, registry);
  return registry;
}

function createReleaseMetrics(source: MetricsSource, registry: Registry): void {
  new Counter<'release' | 'side' | 'how'>({
    name: 'graylane_router_release_requests_total',
    help: 'Requests to release members by side: assigned (new client, by weight) or pinned (valid token or force header).',
    labelNames: ['release', 'side', 'how'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of source.releases()) {
        for (const side of ['stable', 'canary'] as const) {
          this.inc({ release: r.release, side, how: 'assigned' }, r.assigned[side]);
          this.inc({ release: r.release, side, how: 'pinned' }, r.pinned[side]);
        }
      }
    },
  });
  new Counter<'release' | 'service' | 'revision'>({
    name: 'graylane_router_skew_errors_total',
    help: 'Version skew: 404s from a release member to a GET of a hashed asset path.',
    labelNames: ['release', 'service', 'revision'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of source.releases()) {
        for (const s of r.skewByRevision.values()) this.inc({ release: r.release, service: s.service, revision: s.revision }, s.count);
      }
    },
  });
  const perRelease = (name: string, help: string, read: (r: MetricsRelease) => number) =>
    new Counter<'release'>({
      name,
      help,
      labelNames: ['release'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of source.releases()) this.inc({ release: r.release }, read(r));
      },
    });
  perRelease('graylane_router_release_unready_served_total', 'Within-page requests pinned to a side with no ready instance, served by its running but unready instances rather than the other version.', (r) => r.unreadyServed);
  perRelease('graylane_router_release_forged_tokens_total', 'Version tokens ignored: bad signature, another release or generation.', (r) => r.forgedTokens);
  perRelease('graylane_router_release_fallbacks_total', 'Requests sent to the other side because the chosen one had no ready instance.', (r) => r.fallbacks);
}
