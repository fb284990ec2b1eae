/**
 * A bounded-memory latency histogram: log-spaced buckets 1% apart, from 1 µs to over an hour,
 * so percentiles are within 1% of the exact value whatever the run length. Load runs record
 * hundreds of thousands of samples; keeping them all would make memory grow with the run.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds everything under 1 µs; bucket i ≥ 1 holds [GROWTH^(i-1), GROWTH^i) µs. */
const BUCKETS = 2300;

/** Percentiles of a latency distribution, in milliseconds (0 when nothing was recorded). */
export interface LatencySummary {
  /** Number of samples. */
  count: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest sample, exact. */
  max: number;
  /** Arithmetic mean, exact. */
  mean: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = 0;

  /** Number of samples recorded. */
  get count(): number {
    return this.total;
  }

  /** Records one latency in milliseconds; negative or non-finite values are a caller bug. */
  record(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new RangeError(`latency must be a finite number >= 0, got ${latencyMs}`);
    const us = latencyMs * 1000;
    const index = us < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_GROWTH) + 1);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.total += 1;
    this.sumMs += latencyMs;
    if (latencyMs < this.minMs) this.minMs = latencyMs;
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
  }

  /** Adds every sample of `other` to this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i += 1) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.total += other.total;
    this.sumMs += other.sumMs;
    this.minMs = Math.min(this.minMs, other.minMs);
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  /**
   * The value below which a fraction `q` (0..1) of the samples fall, in ms, within 1%.
   * 0 when empty. The extremes are exact: q=0 is the minimum, q=1 the maximum.
   */
  percentile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile must be between 0 and 1, got ${q}`);
    if (this.total === 0) return 0;
    if (q === 0) return this.minMs;
    if (q === 1) return this.maxMs;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        // The bucket's geometric middle, clamped to what was actually seen.
        const mid = i === 0 ? 0 : Math.pow(GROWTH, i - 0.5) / 1000;
        return Math.min(this.maxMs, Math.max(this.minMs, mid));
      }
    }
    return this.maxMs;
  }

  /** The usual figures at once. */
  summary(): LatencySummary {
    return {
      count: this.total,
      p50: round3(this.percentile(0.5)),
      p90: round3(this.percentile(0.9)),
      p99: round3(this.percentile(0.99)),
      max: round3(this.maxMs),
      mean: this.total === 0 ? 0 : round3(this.sumMs / this.total),
    };
  }
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
