/**
 * `/metrics` of a supervised router: the metrics source over the figures its supervisor merged
 * from every worker (a dead worker's counts included once), so that the exposition is the one an
 * in-process router gives, series for series. Counters are cumulative in the supervisor, which
 * outlives the daemon: a daemon that adopts it goes on from the same figures.
 */
import type { MetricsSource } from '../../metrics.js';
import { PROM_BUCKETS_S } from '../../revision-stats.js';
import type { MergedReport } from './figures.js';

/** A metrics source over the latest merged report `latest()` returns (nothing before the first). */
export function mergedMetricsSource(latest: () => MergedReport | undefined): MetricsSource {
  return {
    revisions: () => (latest()?.revisions ?? []).map((r) => ({
      service: r.service,
      revision: r.revision,
      totals: {
        ...r.totals,
        latencyBuckets: Array.from({ length: PROM_BUCKETS_S.length + 1 }, (_, i) => r.prom.buckets[i] ?? 0),
        latencySumS: r.prom.sumS,
      },
    })),
    instances: () => latest()?.instances ?? [],
    mirrorsSkipped: () => latest()?.mirrorsSkipped ?? 0,
    releases: () => (latest()?.releases ?? []).map((r) => ({
      release: r.release,
      assigned: r.stats.assigned,
      pinned: r.stats.pinned,
      fallbacks: r.stats.fallbacks,
      unreadyServed: r.stats.unreadyServed,
      forgedTokens: r.stats.forgedTokens,
      skewByRevision: r.skew,
    })),
    refused: () => new Map(Object.entries(latest()?.refused ?? {})),
  };
}
