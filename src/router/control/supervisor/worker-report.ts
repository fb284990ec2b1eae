/**
 * What a worker tells its supervisor every report interval: its cumulative counters and what
 * `/metrics` shows beyond them, read from the router it runs, in the shape the supervisor merges.
 */
import type { Router } from '../../router.js';
import type { ReleaseSecond, WorkerReport } from './figures.js';

const minus = (a: { stable: number; canary: number }, b: { stable: number; canary: number }) => ({ stable: a.stable - b.stable, canary: a.canary - b.canary });

/** The report of `router` now; `nowMs` is the wall clock (ms since the epoch) its seconds are cut by. */
export function workerReport(router: Router, nowMs: number): WorkerReport {
  const { revisions, releases } = router.counted();
  const source = router.metricsSource();
  const prom = new Map<string, { buckets: number[]; sumS: number }>();
  for (const r of source.revisions()) prom.set(`${r.service}\n${r.revision}`, { buckets: Array.from(r.totals.latencyBuckets), sumS: r.totals.latencySumS });
  const skew = new Map<string, ReturnType<typeof skewOf>>();
  for (const r of source.releases()) skew.set(r.release, skewOf(r.skewByRevision.values()));
  const nowSecond = Math.floor(nowMs / 1000);
  return {
    revisions: revisions.map((r) => ({ ...r, totals: router.totals(r), prom: prom.get(`${r.service}\n${r.revision}`) ?? { buckets: [], sumS: 0 } })),
    releases: releases.map((release) => {
      const current = router.releaseTraffic({ release, windowMs: 1000 });
      const two = router.releaseTraffic({ release, windowMs: 2000 });
      const seconds: ReleaseSecond[] = [
        { second: nowSecond - 1, pageLoads: minus(two.pageLoads, current.pageLoads), requests: minus(two.requests, current.requests), skewErrors: two.skewErrors - current.skewErrors },
        { second: nowSecond, pageLoads: current.pageLoads, requests: current.requests, skewErrors: current.skewErrors },
      ];
      return { release, stats: router.releaseStats(release), seconds, skew: skew.get(release) ?? [] };
    }),
    refused: Object.fromEntries(source.refused()),
    mirrorsSkipped: source.mirrorsSkipped(),
    instances: [...source.instances()].map((i) => ({ id: i.id, service: i.service, revision: i.revision, inflight: i.inflight, ejected: i.ejected })),
  };
}

function skewOf(counts: Iterable<{ service: string; revision: string; count: number }>): { service: string; revision: string; count: number }[] {
  return [...counts].map((s) => ({ service: s.service, revision: s.revision, count: s.count }));
}
