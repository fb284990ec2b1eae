/**
 * Reports as they travel between a worker, its supervisor and the daemon. A revision's latency
 * histogram is 400 bins over the same fixed bounds in every process of one graylane version, and a
 * second's answers fill a few dozen of them: sent dense with their bounds, a report of 10 revisions
 * was ~80 KB, serialized and parsed five times a second per worker, on the workers' request path
 * too. On the wire the bounds are left out when they are the router's own ({@link FINE_BOUNDS_MS})
 * and the counts go as the non-zero bins only.
 */
import type { RevisionTotals } from '../../contract/index.js';
import { FINE_BOUNDS_MS } from '../../revision-stats.js';
import type { MergedReport, ReportedRevision, WorkerReport } from './figures.js';

/** A latency histogram on the wire: `counts` of length `bins`, given as `[bin, count, bin, count, …]` for the non-zero ones. */
export interface WireLatency {
  /** Number of counts (bounds + 1). */
  bins: number;
  /** Non-zero counts as flat `bin, count` pairs, bins increasing. */
  nonZero: number[];
  /** The bounds, only when they are not the router's own. */
  boundsMs?: number[];
}

/** Cumulative totals of a revision on the wire. */
export type WireTotals = Omit<RevisionTotals, 'latency'> & { latency: WireLatency };

/** A revision of a report on the wire. */
export type WireRevision = Omit<ReportedRevision, 'totals'> & { totals: WireTotals };

/** A worker's report on the wire. */
export type WireWorkerReport = Omit<WorkerReport, 'revisions'> & { revisions: WireRevision[] };

/** The supervisor's merged report on the wire. */
export type WireMergedReport = Omit<MergedReport, 'revisions'> & { revisions: WireRevision[] };

/** The report said it has a latency histogram it does not have. */
export class WireReportError extends Error {
  /** Stable code for callers. */
  readonly code = 'BadReport';
  constructor(message: string) {
    super(message);
    this.name = 'WireReportError';
  }
}

const sameBounds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function packTotals(t: RevisionTotals): WireTotals {
  const nonZero: number[] = [];
  t.latency.counts.forEach((n, i) => {
    if (n !== 0) nonZero.push(i, n);
  });
  const latency: WireLatency = { bins: t.latency.counts.length, nonZero };
  if (!sameBounds(t.latency.boundsMs, FINE_BOUNDS_MS)) latency.boundsMs = t.latency.boundsMs;
  return { ...t, latency };
}

function unpackTotals(t: WireTotals, where: string): RevisionTotals {
  const { bins, nonZero } = t.latency;
  const boundsMs = t.latency.boundsMs ?? [...FINE_BOUNDS_MS];
  if (bins !== boundsMs.length + 1 || nonZero.length % 2 !== 0) throw new WireReportError(`${where}: a latency histogram of ${bins} bins over ${boundsMs.length} bounds with ${nonZero.length} pair values`);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < nonZero.length; i += 2) {
    const bin = nonZero[i]!;
    if (!Number.isInteger(bin) || bin < 0 || bin >= bins) throw new WireReportError(`${where}: latency bin ${bin} is outside 0…${bins - 1}`);
    counts[bin] = nonZero[i + 1]!;
  }
  return { ...t, latency: { boundsMs, counts } };
}

/** A report as it is sent. */
export function packReport<R extends WorkerReport>(report: R): Omit<R, 'revisions'> & { revisions: WireRevision[] } {
  return { ...report, revisions: report.revisions.map((r) => ({ ...r, totals: packTotals(r.totals) })) };
}

/** A report as it was before {@link packReport}; {@link WireReportError} when its histograms do not add up. */
export function unpackReport<R extends WireWorkerReport>(report: R): Omit<R, 'revisions'> & { revisions: ReportedRevision[] } {
  return { ...report, revisions: report.revisions.map((r) => ({ ...r, totals: unpackTotals(r.totals, `${r.service}/${r.revision}`) })) };
}
