/**
 * Per-revision counters: a ring of 1-second buckets (sliding windows for analysis) plus
 * cumulative totals (Prometheus). Recording is a handful of integer increments; percentiles come
 * from a log-scale histogram with 16 bins per octave (bins 4.4% wide, reported at their upper
 * bound, capped by the exact maximum).
 */
import type { RequestCounts, RevisionStats } from './types.js';
import type { RevisionTotals } from './contract/stats.js';

const BINS_PER_OCTAVE = 16;
const MIN_MS = 0.01;
const BIN_COUNT = 400; // 0.01 ms · 2^(400/16) ≈ 335 s
const LOG_SCALE = BINS_PER_OCTAVE / Math.LN2;
// Bins kept beyond a second's first answer on each side (an octave), so that most seconds never widen.
const SPAN_SLACK = BINS_PER_OCTAVE;

/** Histogram bin of a latency in ms. */
export function latencyBin(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const b = Math.ceil(Math.log(ms / MIN_MS) * LOG_SCALE);
  return b >= BIN_COUNT ? BIN_COUNT - 1 : b;
}

/** Upper bound (ms) of a histogram bin. */
export function binUpperMs(bin: number): number {
  return MIN_MS * Math.pow(2, bin / BINS_PER_OCTAVE);
}

/** Prometheus histogram bucket bounds, in seconds. */
export const PROM_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Bucket {
  second = -1;
  requests = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  c4 = 0;
  c5 = 0;
  failed = 0;
  upstreamErrors = 0;
  timeouts = 0;
  rejected = 0;
  clientErrors = 0;
  skewErrors = 0;
  fallbacks = 0;
  unreadyServed = 0;
  maxMs = 0;
  /**
   * Latency counts of bins `latencyFrom` … `latencyFrom + latency.length - 1`: a second's answers
   * span a few octaves of the 400 bins, and five minutes of seconds are kept per revision.
   */
  latency: Uint32Array | undefined;
  latencyFrom = 0;

  /** Counts one answer in `bin`, widening the span of bins kept when it falls outside. */
  countLatency(bin: number, count = 1): void {
    let counts = this.latency;
    const from = this.latencyFrom;
    if (counts === undefined || bin < from || bin >= from + counts.length) {
      const lo = Math.max(0, Math.min(counts ? from : bin, bin - SPAN_SLACK));
      const hi = Math.min(BIN_COUNT, Math.max(counts ? from + counts.length : 0, bin + SPAN_SLACK + 1));
      const wider = new Uint32Array(hi - lo);
      if (counts) wider.set(counts, from - lo);
      this.latency = counts = wider;
      this.latencyFrom = lo;
    }
    counts[bin - this.latencyFrom]! += count;
  }

  reset(second: number): void {
    this.second = second;
    this.requests = this.c1 = this.c2 = this.c3 = this.c4 = this.c5 = 0;
    this.failed = this.upstreamErrors = this.timeouts = this.rejected = this.clientErrors = this.skewErrors = this.fallbacks = this.unreadyServed = 0;
    this.maxMs = 0;
    this.latency?.fill(0);
  }
}

/** Cumulative counters since the router started (for Prometheus counters). */
export interface StatsTotals extends RequestCounts {
  /** Mirrored copies this revision received, kept apart from its own traffic. */
  mirrored: { requests: number; failures: number };
  /** Cumulative counts per {@link PROM_BUCKETS_S} bound, plus +Inf last. */
  latencyBuckets: Float64Array;
  latencySumS: number;
  /** Cumulative counts per log-scale bin ({@link latencyBin}); fine enough for the guard's latency test. */
  latencyBins: Float64Array;
}

/** Upper bounds (ms) of the fine latency bins, the last bin being everything above. */
export const FINE_BOUNDS_MS: readonly number[] = Array.from({ length: BIN_COUNT - 1 }, (_, i) => binUpperMs(i));

/** A copy of a revision's cumulative counters in the port's shape (zeros for one never counted). */
export function totalsOf(t: StatsTotals | undefined): RevisionTotals {
  return {
    requests: t?.requests ?? 0,
    responses: { ...(t?.responses ?? { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }) },
    failed: t?.failed ?? 0,
    upstreamErrors: t?.upstreamErrors ?? 0,
    timeouts: t?.timeouts ?? 0,
    rejected: t?.rejected ?? 0,
    clientErrors: t?.clientErrors ?? 0,
    skewErrors: t?.skewErrors ?? 0,
    fallbacks: t?.fallbacks ?? 0,
    unreadyServed: t?.unreadyServed ?? 0,
    mirrored: { requests: t?.mirrored.requests ?? 0, failures: t?.mirrored.failures ?? 0 },
    latency: { boundsMs: [...FINE_BOUNDS_MS], counts: t ? Array.from(t.latencyBins) : new Array<number>(FINE_BOUNDS_MS.length + 1).fill(0) },
  };
}

/** Sliding-window and cumulative statistics of one service revision. */
export class RevisionCounters {
  private readonly ring: Bucket[];
  private readonly createdSecond: number;
  readonly totals: StatsTotals = {
    requests: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    failed: 0,
    upstreamErrors: 0,
    timeouts: 0,
    rejected: 0,
    clientErrors: 0,
    skewErrors: 0,
    fallbacks: 0,
    unreadyServed: 0,
    mirrored: { requests: 0, failures: 0 },
    latencyBuckets: new Float64Array(PROM_BUCKETS_S.length + 1),
    latencySumS: 0,
    latencyBins: new Float64Array(BIN_COUNT),
  };

  /** With no ring (a window of 0 s): where the per-second counts go, never read. */
  private readonly discard = new Bucket();

  /** `windowSeconds` 0 keeps cumulative totals only: {@link read} then throws. */
  constructor(
    readonly service: string,
    readonly revision: string,
    private readonly windowSeconds: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.ring = Array.from({ length: windowSeconds }, () => new Bucket());
    this.createdSecond = Math.floor(nowMs() / 1000);
  }

  private bucket(): Bucket {
    // Without a ring, no clock read per counted event; what is counted there is never read.
    if (this.windowSeconds === 0) return this.discard;
    const second = Math.floor(this.nowMs() / 1000);
    const b = this.ring[second % this.windowSeconds]!;
    if (b.second !== second) b.reset(second);
    return b;
  }

  /** Counts a request routed to this revision (`count` alike: an access log's repeated lines). */
  request(count = 1): void {
    this.bucket().requests += count;
    this.totals.requests += count;
  }

  /** Counts a response sent to the client and its latency (`count` alike). */
  response(status: number, latencyMs: number, count = 1): void {
    const b = this.bucket();
    const t = this.totals;
    if (status < 200) { b.c1 += count; t.responses['1xx'] += count; }
    else if (status < 300) { b.c2 += count; t.responses['2xx'] += count; }
    else if (status < 400) { b.c3 += count; t.responses['3xx'] += count; }
    else if (status < 500) { b.c4 += count; t.responses['4xx'] += count; }
    else { b.c5 += count; t.responses['5xx'] += count; b.failed += count; t.failed += count; }
    const bin = latencyBin(latencyMs);
    b.countLatency(bin, count);
    t.latencyBins[bin]! += count;
    if (latencyMs > b.maxMs) b.maxMs = latencyMs;
    const s = latencyMs / 1000;
    t.latencySumS += s * count;
    const lb = t.latencyBuckets;
    let i = 0;
    while (i < PROM_BUCKETS_S.length && s > PROM_BUCKETS_S[i]!) i++;
    lb[i]! += count;
  }

  /**
   * Counts a response the upstream cut off after its (non-5xx) status went out: a failure of the
   * revision that {@link response} cannot see.
   */
  cutOff(): void {
    this.bucket().failed++;
    this.totals.failed++;
  }

  /** Counts a request refused or cut for the client's fault (never a failure of the revision). */
  clientError(count = 1): void {
    this.bucket().clientErrors += count;
    this.totals.clientErrors += count;
  }

  /** Counts an upstream connection failure or reset. */
  upstreamError(count = 1): void {
    this.bucket().upstreamErrors += count;
    this.totals.upstreamErrors += count;
  }

  /** Counts a timeout. */
  timeout(count = 1): void {
    this.bucket().timeouts += count;
    this.totals.timeouts += count;
  }

  /** Counts a request rejected by circuit breaking or for want of a ready instance. */
  rejection(count = 1): void {
    this.bucket().rejected += count;
    this.totals.rejected += count;
  }

  /** Counts a 404 to a GET of a hashed asset path (a release member's version skew). */
  skewError(): void {
    this.bucket().skewErrors++;
    this.totals.skewErrors++;
  }

  /** Counts a request meant for this revision that went to the other side for want of a ready instance. */
  fallback(count = 1): void {
    this.bucket().fallbacks += count;
    this.totals.fallbacks += count;
  }

  /** Counts a pinned within-page request this revision's unready instances served for want of a ready one. */
  unreadyServe(): void {
    this.bucket().unreadyServed++;
    this.totals.unreadyServed++;
  }

  /**
   * Counts a mirrored copy sent to this revision. Copies are not the revision's own traffic: a
   * canary's error rate, latency and request counts (status, the guard, analysis) leave them out.
   */
  mirrorRequest(count = 1): void {
    this.totals.mirrored.requests += count;
  }

  /** Counts a mirrored copy that failed (5xx, connection error or timeout). */
  mirrorFailure(count = 1): void {
    this.totals.mirrored.failures += count;
  }

  /**
   * Fine latency counts ({@link latencyBin}) over the last `windowMs` (clamped like
   * {@link read}): what a revision's latency looked like just before now, e.g. stable's before a
   * canary started.
   */
  recentLatency(windowMs: number): number[] {
    if (this.windowSeconds === 0) throw new Error(`${this.service}/${this.revision} keeps no per-second figures`);
    const { first, nowSecond } = this.span(this.nowMs(), windowMs);
    const counts = new Array<number>(BIN_COUNT).fill(0);
    for (const b of this.ring) {
      const lat = b.latency;
      if (b.second < first || b.second > nowSecond || !lat) continue;
      for (let i = 0; i < lat.length; i++) counts[b.latencyFrom + i]! += lat[i]!;
    }
    return counts;
  }

  /** The seconds a window of `windowMs` ending now covers (clamped to 1 s … the configured window). */
  private span(now: number, windowMs: number): { first: number; nowSecond: number; seconds: number } {
    const nowSecond = Math.floor(now / 1000);
    const seconds = Math.max(1, Math.min(this.windowSeconds, Math.ceil(windowMs / 1000)));
    return { first: nowSecond - seconds + 1, nowSecond, seconds };
  }

  /** Figures over the last `windowMs` (clamped to 1 s … the configured window). */
  read(windowMs: number): RevisionStats {
    if (this.windowSeconds === 0) throw new Error(`${this.service}/${this.revision} keeps no per-second figures`);
    const now = this.nowMs();
    const { first, nowSecond, seconds } = this.span(now, windowMs);
    const out: RevisionStats = {
      requests: 0,
      responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
      failed: 0,
      upstreamErrors: 0,
      timeouts: 0,
      rejected: 0,
      clientErrors: 0,
      skewErrors: 0,
      fallbacks: 0,
      unreadyServed: 0,
      latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 },
      requestsPerSecond: 0,
      windowMs: seconds * 1000,
    };
    const hist = new Float64Array(BIN_COUNT);
    let max = 0;
    for (const b of this.ring) {
      if (b.second < first || b.second > nowSecond) continue;
      out.requests += b.requests;
      out.responses['1xx'] += b.c1;
      out.responses['2xx'] += b.c2;
      out.responses['3xx'] += b.c3;
      out.responses['4xx'] += b.c4;
      out.responses['5xx'] += b.c5;
      out.failed += b.failed;
      out.upstreamErrors += b.upstreamErrors;
      out.clientErrors += b.clientErrors;
      out.timeouts += b.timeouts;
      out.rejected += b.rejected;
      out.skewErrors += b.skewErrors;
      out.fallbacks += b.fallbacks;
      out.unreadyServed += b.unreadyServed;
      if (b.maxMs > max) max = b.maxMs;
      const lat = b.latency;
      if (lat) for (let i = 0; i < lat.length; i++) hist[b.latencyFrom + i]! += lat[i]!;
    }
    let total = 0;
    for (let i = 0; i < BIN_COUNT; i++) total += hist[i]!;
    if (total > 0) {
      const pick = (q: number) => {
        const rank = Math.ceil(q * total);
        let seen = 0;
        for (let i = 0; i < BIN_COUNT; i++) {
          seen += hist[i]!;
          if (seen >= rank) return Math.min(binUpperMs(i), max);
        }
        return max;
      };
      out.latencyMs = { p50: pick(0.5), p90: pick(0.9), p99: pick(0.99), max };
    }
    // Measured over the part of the window the counters existed, the current second partly.
    const elapsedS = Math.min(seconds, (now - Math.max(first, this.createdSecond) * 1000) / 1000);
    out.requestsPerSecond = out.requests / Math.max(elapsedS, 1);
    return out;
  }
}
