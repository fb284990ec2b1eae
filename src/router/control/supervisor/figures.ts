/**
 * The data plane's figures across processes. Each worker reports its cumulative counters; the
 * supervisor sums them (a worker that died keeps its last report in the sum, so a replacement that
 * starts from zero neither loses nor repeats what it counted); the daemon's adapter turns the
 * merged cumulative figures into the sliding windows its synchronous readers answer from.
 * Release traffic is the exception: page loads are not cumulative anywhere, so workers report
 * their last two seconds and the supervisor sums them per second.
 */
import type {
  LatencyCounts, ReleaseStats, ReleaseTraffic, RequestCounts, RevisionStats, RevisionTotals, StatsQuery,
} from '../../contract/index.js';
import type { MetricsInstance } from '../../metrics.js';
import type { SkewCount } from '../../release-counters.js';

/** Page loads and requests per side in one wall-clock second. */
export interface ReleaseSecond {
  /** `floor(ms / 1000)` of the second. */
  second: number;
  pageLoads: { stable: number; canary: number };
  requests: { stable: number; canary: number };
  /** Skew errors caught in that second. */
  skewErrors: number;
}

/** The Prometheus latency histogram of a revision: what `/metrics` needs beyond its totals. */
export interface PromLatency {
  /** Counts per `PROM_BUCKETS_S` bound (not cumulative), plus +Inf last. */
  buckets: number[];
  sumS: number;
}

/** One revision in a report. */
export interface ReportedRevision {
  service: string;
  revision: string;
  totals: RevisionTotals;
  prom: PromLatency;
}

/** One release in a report. */
export interface ReportedRelease {
  release: string;
  stats: ReleaseStats;
  seconds: ReleaseSecond[];
  /** Skew errors per member revision. */
  skew: SkewCount[];
}

/**
 * What one worker reports: its own cumulative figures, its last two seconds of release traffic,
 * and the rest of what `/metrics` shows (refusals, skipped mirrors, its instances' gauges).
 */
export interface WorkerReport {
  revisions: ReportedRevision[];
  releases: ReportedRelease[];
  /** Requests refused before routing, by reason (cumulative). */
  refused: Record<string, number>;
  /** Mirrored copies skipped at the concurrency bound (cumulative). */
  mirrorsSkipped: number;
  /** In-flight requests and ejection per instance, now: gauges, so a dead worker's are dropped. */
  instances: MetricsInstance[];
}

/** The supervisor's sum over its workers, live and dead. */
export interface MergedReport extends WorkerReport {
  /** When the supervisor merged it, ms since the epoch. */
  atMs: number;
  /** The table version in force on every live worker. */
  tableVersion: number;
}

const zeroCounts = (): RequestCounts => ({
  requests: 0, responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
  failed: 0, upstreamErrors: 0, timeouts: 0, rejected: 0, clientErrors: 0, skewErrors: 0, fallbacks: 0, unreadyServed: 0,
});

const COUNT_KEYS = ['requests', 'failed', 'upstreamErrors', 'timeouts', 'rejected', 'clientErrors', 'skewErrors', 'fallbacks', 'unreadyServed'] as const;
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** `into += add × sign`, field by field. */
function addCounts(into: RequestCounts, add: RequestCounts, sign = 1): void {
  for (const k of COUNT_KEYS) into[k] += sign * add[k];
  for (const c of CLASSES) into.responses[c] += sign * add.responses[c];
}

/** Zero totals with the latency bounds of `like`. */
export function zeroTotals(boundsMs: number[]): RevisionTotals {
  return { ...zeroCounts(), mirrored: { requests: 0, failures: 0 }, latency: { boundsMs: [...boundsMs], counts: new Array<number>(boundsMs.length + 1).fill(0) } };
}

function addTotals(into: RevisionTotals, add: RevisionTotals): void {
  addCounts(into, add);
  into.mirrored.requests += add.mirrored.requests;
  into.mirrored.failures += add.mirrored.failures;
  add.latency.counts.forEach((n, i) => (into.latency.counts[i] = (into.latency.counts[i] ?? 0) + n));
}

/** Zero release figures. */
export function zeroReleaseStats(): ReleaseStats {
  return { assigned: { stable: 0, canary: 0 }, pinned: { stable: 0, canary: 0 }, fallbacks: 0, unreadyServed: 0, forgedTokens: 0, skewErrors: 0, lastPinnedMs: {} };
}

function addReleaseStats(into: ReleaseStats, add: ReleaseStats): void {
  for (const side of ['stable', 'canary'] as const) {
    into.assigned[side] += add.assigned[side];
    into.pinned[side] += add.pinned[side];
    const last = add.lastPinnedMs[side];
    if (last !== undefined && last > (into.lastPinnedMs[side] ?? -Infinity)) into.lastPinnedMs[side] = last;
  }
  into.fallbacks += add.fallbacks;
  into.unreadyServed += add.unreadyServed;
  into.forgedTokens += add.forgedTokens;
  into.skewErrors += add.skewErrors;
}

/** Seconds of release traffic the supervisor keeps per worker: enough for a late report to land. */
const KEPT_SECONDS = 5;

/** The supervisor's side: latest report per worker, and what dead workers had counted. */
export class FigureMerger {
  private readonly latest = new Map<number, WorkerReport>();
  private retired: WorkerReport = emptyReport();
  /** Release traffic per release, second and worker (a dead worker's seconds stay). */
  private readonly seconds = new Map<string, Map<number, Map<string, ReleaseSecond>>>();

  /** Takes a worker's report (cumulative: it replaces the worker's previous one). */
  report(workerId: number, report: WorkerReport): void {
    this.latest.set(workerId, report);
    for (const r of report.releases) {
      let bySecond = this.seconds.get(r.release);
      if (!bySecond) this.seconds.set(r.release, (bySecond = new Map<number, Map<string, ReleaseSecond>>()));
      for (const s of r.seconds) {
        let byWorker = bySecond.get(s.second);
        if (!byWorker) bySecond.set(s.second, (byWorker = new Map<string, ReleaseSecond>()));
        byWorker.set(String(workerId), s);
      }
      const newest = Math.max(...bySecond.keys());
      for (const second of bySecond.keys()) if (second < newest - KEPT_SECONDS) bySecond.delete(second);
    }
  }

  /** A worker died: what it last reported stays in the sums, once. */
  retire(workerId: number): void {
    const last = this.latest.get(workerId);
    this.latest.delete(workerId);
    if (!last) return;
    const merged = sumReports([this.retired, last]);
    this.retired = { ...merged, releases: merged.releases.map((r) => ({ ...r, seconds: [] })), instances: [] };
  }

  /** Everything counted, summed over live and dead workers. */
  merged(meta: { atMs: number; tableVersion: number }): MergedReport {
    const sum = sumReports([this.retired, ...this.latest.values()]);
    for (const r of sum.releases) {
      const bySecond = this.seconds.get(r.release);
      r.seconds = bySecond
        ? [...bySecond.entries()].sort(([a], [b]) => a - b).slice(-3).map(([second, byWorker]) => {
          const out: ReleaseSecond = { second, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 0, canary: 0 }, skewErrors: 0 };
          for (const s of byWorker.values()) {
            out.skewErrors += s.skewErrors;
            out.pageLoads.stable += s.pageLoads.stable;
            out.pageLoads.canary += s.pageLoads.canary;
            out.requests.stable += s.requests.stable;
            out.requests.canary += s.requests.canary;
          }
          return out;
        })
        : [];
    }
    return { ...meta, ...sum };
  }
}

/** A report of nothing counted. */
export function emptyReport(): WorkerReport {
  return { revisions: [], releases: [], refused: {}, mirrorsSkipped: 0, instances: [] };
}

const addInto = (into: number[], add: readonly number[]) => add.forEach((n, i) => (into[i] = (into[i] ?? 0) + n));

function sumReports(reports: WorkerReport[]): WorkerReport {
  const revisions = new Map<string, ReportedRevision>();
  const releases = new Map<string, ReportedRelease & { skewBy: Map<string, SkewCount> }>();
  const instances = new Map<string, MetricsInstance>();
  const out = emptyReport();
  for (const report of reports) {
    for (const r of report.revisions) {
      const key = `${r.service}\n${r.revision}`;
      let entry = revisions.get(key);
      if (!entry) revisions.set(key, (entry = { service: r.service, revision: r.revision, totals: zeroTotals(r.totals.latency.boundsMs), prom: { buckets: [], sumS: 0 } }));
      addTotals(entry.totals, r.totals);
      addInto(entry.prom.buckets, r.prom.buckets);
      entry.prom.sumS += r.prom.sumS;
    }
    for (const r of report.releases) {
      let entry = releases.get(r.release);
      if (!entry) releases.set(r.release, (entry = { release: r.release, stats: zeroReleaseStats(), seconds: [], skew: [], skewBy: new Map() }));
      addReleaseStats(entry.stats, r.stats);
      for (const s of r.skew) {
        const key = `${s.service}\n${s.revision}`;
        const known = entry.skewBy.get(key);
        if (known) known.count += s.count;
        else entry.skewBy.set(key, { ...s });
      }
    }
    for (const [reason, n] of Object.entries(report.refused)) out.refused[reason] = (out.refused[reason] ?? 0) + n;
    out.mirrorsSkipped += report.mirrorsSkipped;
    // Each worker balances over every instance: an instance's requests in flight are the sum over
    // workers, and it is out of balancing while any worker's outlier detection keeps it out.
    for (const i of report.instances) {
      const key = `${i.service}\n${i.revision}\n${i.id}`;
      const known = instances.get(key);
      if (known) {
        known.inflight += i.inflight;
        known.ejected ||= i.ejected;
      } else instances.set(key, { ...i });
    }
  }
  out.revisions = [...revisions.values()];
  out.releases = [...releases.values()].map(({ skewBy, ...r }) => ({ ...r, skew: [...skewBy.values()] }));
  out.instances = [...instances.values()];
  return out;
}

/**
 * One second of a revision's traffic, as the difference of two merged reports. Its latency is kept
 * sparse, the bins that counted something and their counts: a second's answers fill a few dozen
 * of the hundreds of bins, and five minutes of seconds per revision are kept.
 */
interface RevisionSecond extends RequestCounts {
  second: number;
  bins: number[];
  counts: number[];
}

/** Adds sparse latency counts into `into` (same shape). */
function addSparse(into: { bins: number[]; counts: number[] }, bins: readonly number[], counts: readonly number[]): void {
  for (let k = 0; k < bins.length; k++) {
    const at = into.bins.indexOf(bins[k]!);
    if (at >= 0) into.counts[at]! += counts[k]!;
    else {
      into.bins.push(bins[k]!);
      into.counts.push(counts[k]!);
    }
  }
}

/** Longest window the adapter answers, as the router's default statistics window. */
export const WINDOW_SECONDS = 300;

/**
 * The daemon's side: the latest merged report, and per-second differences of consecutive ones, so
 * that windowed figures (stats, recent latency, release traffic) answer without a round trip.
 * Latency maxima are not reported by workers: a window's `max` is the upper bound of its slowest
 * histogram bin (4.4 % wide), and so are the percentiles it caps.
 */
export class FigureHistory {
  private latest: MergedReport | undefined;
  private readonly revisions = new Map<string, { totals: RevisionTotals; ring: RevisionSecond[]; sinceMs: number }>();
  private readonly releaseSeconds = new Map<string, Map<number, ReleaseSecond>>();

  constructor(private readonly nowMs: () => number) {}

  /**
   * Takes a merged report. `fresh` says the counters started with this supervisor's history known to
   * us (a supervisor we started): its first report is all recent traffic. For an adopted one, the
   * first report is a baseline only: when it was counted is not known.
   */
  take(report: MergedReport, fresh: boolean): void {
    const first = this.latest === undefined;
    this.latest = report;
    const second = Math.floor(report.atMs / 1000);
    for (const r of report.revisions) {
      const key = `${r.service}\n${r.revision}`;
      let entry = this.revisions.get(key);
      if (!entry) {
        const base = first && !fresh ? r.totals : zeroTotals(r.totals.latency.boundsMs);
        this.revisions.set(key, (entry = { totals: base, ring: [], sinceMs: report.atMs }));
      }
      const delta: RevisionSecond = { ...zeroCounts(), responses: { ...zeroCounts().responses }, second, bins: [], counts: [] };
      const now = r.totals.latency.counts;
      const before = entry.totals.latency.counts;
      let shrank = false;
      for (let i = 0; i < now.length; i++) {
        const n = now[i]! - (before[i] ?? 0);
        if (n === 0) continue;
        if (n < 0) shrank = true;
        delta.bins.push(i);
        delta.counts.push(n);
      }
      addCounts(delta, r.totals);
      addCounts(delta, entry.totals, -1);
      entry.totals = r.totals;
      // A revision that left a worker's counters and came back starts again from zero there.
      if (delta.requests < 0 || shrank) continue;
      let bucket = entry.ring.at(-1);
      if (bucket?.second !== second) {
        entry.ring.push((bucket = { ...zeroCounts(), responses: { ...zeroCounts().responses }, second, bins: [], counts: [] }));
        while (entry.ring.length > 0 && entry.ring[0]!.second <= second - WINDOW_SECONDS) entry.ring.shift();
      }
      addCounts(bucket, delta);
      addSparse(bucket, delta.bins, delta.counts);
    }
    for (const r of report.releases) {
      let bySecond = this.releaseSeconds.get(r.release);
      if (!bySecond) this.releaseSeconds.set(r.release, (bySecond = new Map<number, ReleaseSecond>()));
      for (const s of r.seconds) bySecond.set(s.second, s);
      for (const s of bySecond.keys()) if (s <= second - WINDOW_SECONDS) bySecond.delete(s);
    }
  }

  /** The latest merged report, if any. */
  report(): MergedReport | undefined {
    return this.latest;
  }

  /** Cumulative totals of one revision (zeros for one never counted). */
  totals(query: { service: string; revision: string }, boundsMs: number[]): RevisionTotals {
    const found = this.latest?.revisions.find((r) => r.service === query.service && r.revision === query.revision);
    return found ? structuredClone(found.totals) : zeroTotals(boundsMs);
  }

  /** A release's cumulative figures (zeros for an unknown release). */
  releaseStats(release: string): ReleaseStats {
    const found = this.latest?.releases.find((r) => r.release === release);
    return found ? structuredClone(found.stats) : zeroReleaseStats();
  }

  /** Figures of one revision over the window, from the per-second differences. */
  stats(query: StatsQuery, boundsMs: number[]): RevisionStats {
    const now = this.nowMs();
    const { first, nowSecond, seconds } = span(now, query.windowMs ?? 60_000);
    const out: RevisionStats = { ...zeroCounts(), latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 }, requestsPerSecond: 0, windowMs: seconds * 1000 };
    const entry = this.revisions.get(`${query.service}\n${query.revision}`);
    if (!entry) return out;
    const hist = new Array<number>(boundsMs.length + 1).fill(0);
    for (const b of entry.ring) {
      if (b.second < first || b.second > nowSecond) continue;
      addCounts(out, b);
      for (let k = 0; k < b.bins.length; k++) hist[b.bins[k]!] = (hist[b.bins[k]!] ?? 0) + b.counts[k]!;
    }
    const total = hist.reduce((a, b) => a + b, 0);
    if (total > 0) {
      const upper = (i: number) => boundsMs[i] ?? boundsMs.at(-1) ?? 0;
      const maxBin = hist.findLastIndex((n) => n > 0);
      const pick = (q: number) => {
        const rank = Math.ceil(q * total);
        let seen = 0;
        for (let i = 0; i < hist.length; i++) {
          seen += hist[i]!;
          if (seen >= rank) return upper(i);
        }
        return upper(maxBin);
      };
      out.latencyMs = { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max: upper(maxBin) };
    }
    const elapsedS = Math.min(seconds, (now - Math.max(first * 1000, Math.floor(entry.sinceMs / 1000) * 1000)) / 1000);
    out.requestsPerSecond = out.requests / Math.max(elapsedS, 1);
    return out;
  }

  /** A revision's latency histogram over the window. */
  recentLatency(query: StatsQuery, boundsMs: number[]): LatencyCounts {
    const { first, nowSecond } = span(this.nowMs(), query.windowMs ?? 60_000);
    const counts = new Array<number>(boundsMs.length + 1).fill(0);
    for (const b of this.revisions.get(`${query.service}\n${query.revision}`)?.ring ?? []) {
      if (b.second < first || b.second > nowSecond) continue;
      for (let k = 0; k < b.bins.length; k++) counts[b.bins[k]!] = (counts[b.bins[k]!] ?? 0) + b.counts[k]!;
    }
    return { boundsMs: [...boundsMs], counts };
  }

  /** A release's page loads and requests per side over the window (default 30 s). */
  releaseTraffic(query: { release: string; windowMs?: number }): ReleaseTraffic {
    const { first, nowSecond, seconds } = span(this.nowMs(), query.windowMs ?? 30_000);
    const out: ReleaseTraffic = { windowMs: seconds * 1000, pageLoads: { stable: 0, canary: 0 }, requests: { stable: 0, canary: 0 }, skewErrors: 0 };
    for (const [second, s] of this.releaseSeconds.get(query.release) ?? []) {
      if (second < first || second > nowSecond) continue;
      out.pageLoads.stable += s.pageLoads.stable;
      out.pageLoads.canary += s.pageLoads.canary;
      out.requests.stable += s.requests.stable;
      out.requests.canary += s.requests.canary;
      out.skewErrors += s.skewErrors;
    }
    return out;
  }
}

/** The whole seconds a window of `windowMs` ending now covers (1 s … {@link WINDOW_SECONDS}). */
function span(nowMs: number, windowMs: number): { first: number; nowSecond: number; seconds: number } {
  const nowSecond = Math.floor(nowMs / 1000);
  const seconds = Math.max(1, Math.min(WINDOW_SECONDS, Math.ceil(windowMs / 1000)));
  return { first: nowSecond - seconds + 1, nowSecond, seconds };
}
