/**
 * The counters of an nginx data plane, fed by its access log: the same {@link RevisionCounters}
 * the built-in router keeps, so the guard, the builtin metric provider and `status` read nginx's
 * traffic exactly as they read the router's.
 */
import type { LatencyCounts, RevisionStats, RevisionTotals, StatsQuery } from '../../contract/index.js';
import { FINE_BOUNDS_MS, RevisionCounters, totalsOf } from '../../revision-stats.js';
import type { AccessLine } from './access-log-reader.js';

/** Per-revision counters of everything nginx logged. */
export class AccessCounters {
  private readonly counters = new Map<string, RevisionCounters>();
  /** The last revision counted: consecutive lines are mostly the same one, so no key is built for them. */
  private last: RevisionCounters | undefined;

  constructor(
    private readonly windowSeconds: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Counts a logged request (or mirrored copy), `count` times: the same line repeated in a read. */
  record(line: AccessLine, count = 1): void {
    if (line.service === '' || line.revision === '') return;
    const last = this.last;
    const c = last !== undefined && last.revision === line.revision && last.service === line.service ? last : (this.last = this.get(line.service, line.revision));
    if (line.kind === 'mirror') {
      c.mirrorRequest(count);
      if (line.status >= 500) c.mirrorFailure(count);
      return;
    }
    c.request(count);
    if (line.pick !== '' && line.pick !== line.revision) this.get(line.service, line.pick).fallback(count);
    if (line.status === 499) {
      // The client went away: its fault, never the revision's.
      c.clientError(count);
      return;
    }
    c.response(line.status, line.requestMs, count);
    if (line.status === 502) c.upstreamError(count);
    else if (line.status === 504) c.timeout(count);
    else if (line.status === 503) c.rejection(count);
  }

  /** The revisions counted so far. */
  counted(): { service: string; revision: string }[] {
    return [...this.counters.values()].map((c) => ({ service: c.service, revision: c.revision }));
  }

  /** Cumulative counters of one revision (zeros for one never logged). */
  totals(query: { service: string; revision: string }): RevisionTotals {
    const t = this.counters.get(key(query.service, query.revision))?.totals;
    return totalsOf(t);
  }

  /** One revision's figures over a recent window. */
  stats(query: StatsQuery): RevisionStats {
    return this.get(query.service, query.revision, false).read(query.windowMs ?? 60_000);
  }

  /** A revision's latency histogram over a recent window. */
  recentLatency(query: StatsQuery): LatencyCounts {
    const c = this.counters.get(key(query.service, query.revision));
    const counts = c ? c.recentLatency(query.windowMs ?? 60_000) : new Array<number>(FINE_BOUNDS_MS.length + 1).fill(0);
    return { boundsMs: [...FINE_BOUNDS_MS], counts };
  }

  private get(service: string, revision: string, keep = true): RevisionCounters {
    const k = key(service, revision);
    let c = this.counters.get(k);
    if (!c) {
      c = new RevisionCounters(service, revision, this.windowSeconds, this.nowMs);
      // A read of a revision never logged must not make it one the snapshot walks.
      if (keep) this.counters.set(k, c);
    }
    return c;
  }
}

function key(service: string, revision: string): string {
  return `${service}\n${revision}`;
}
