import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/fixtures/seeded-random.js';
import type { LatencyCounts } from '../../router/contract/index.js';
import { CanaryGuard, DEFAULT_LATENCY_BOUNDS_MS, GuardInputError, latencyHistogram, type GuardParams, type GuardSideTick, type GuardTick } from './guard.js';

const rng = seededRandom;

interface Scenario {
  rps: number;
  canaryShare?: number;
  ticks: number;
  stableErrorRate?: number;
  canaryErrorRate?: number;
  /** Canary latency multiplier once bad. */
  canaryLatencyFactor?: number;
  /** The canary turns bad at this tick (1-based); before it, it behaves like stable. */
  badFromTick?: number;
  latency?: boolean;
  /** Seconds of stable-only traffic before the canary, handed to the guard as its latency reference. */
  referenceSeconds?: number;
  params?: Partial<GuardParams>;
}

/**
 * Latencies: log-normal, median 20 ms, σ 0.5 (p99 ≈ 64 ms), `factor` times slower when bad.
 *
 * The guard sees only histograms, so a request's latency is drawn straight as its histogram
 * bucket: one uniform against the exact bucket probabilities P(L ≤ b) = Φ(ln(b / (20·factor)) / 0.5).
 * The guard's input has the same distribution as drawing each latency and bucketing it, at a
 * fraction of the cost (no Box-Muller, no sample arrays).
 */
function latencyBucketCdf(factor: number): Float64Array {
  const bounds = DEFAULT_LATENCY_BOUNDS_MS;
  const cdf = new Float64Array(bounds.length);
  bounds.forEach((b, i) => { cdf[i] = normalCdf(Math.log(b / (20 * factor)) / 0.5); });
  return cdf;
}

/** One shared bounds array for every simulated histogram, as a router hands out. */
const BOUNDS_MS = [...DEFAULT_LATENCY_BOUNDS_MS];

const cdfByFactor = new Map<number, Float64Array>();
function cdfFor(factor: number): Float64Array {
  let cdf = cdfByFactor.get(factor);
  if (!cdf) cdfByFactor.set(factor, (cdf = latencyBucketCdf(factor)));
  return cdf;
}

/** The bucket a uniform `u` falls in: the first bound whose P(L ≤ bound) exceeds u, else overflow. */
function bucketOf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (u < cdf[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Φ, the standard normal CDF, by composite Simpson on the density from 0 to |x| (step ≤ 1/512:
 * error below 1e-13, far below the Monte Carlo noise these tests measure).
 */
function normalCdf(x: number): number {
  const a = Math.min(Math.abs(x), 40);
  const steps = 2 * Math.max(1, Math.ceil(a * 256));
  const h = a / steps;
  let sum = 1 + Math.exp(-a * a / 2);
  for (let i = 1; i < steps; i++) sum += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2) / 2);
  const half = (sum * h) / 3 / Math.sqrt(2 * Math.PI);
  return x >= 0 ? 0.5 + half : 0.5 - half;
}

/**
 * One request's outcome as a single categorical draw: which side, whether it erred, and its
 * latency bucket (a single cell when latency is off). These are independent in the scenario, so
 * the cell probabilities are products, and one uniform per request replaces three. Cells are laid
 * out side-major: [side (canary, stable)][error (no, yes)][bucket].
 */
interface OutcomeTable {
  /** P(cell), for the distribution check. */
  probability: Float64Array;
  /** Walker's alias table over the cells: O(1) per draw, where a search over 180 cells cost most of the simulation. */
  keep: Float64Array;
  alias: Uint16Array;
  buckets: number;
}

function outcomeTable(share: number, canaryErrorRate: number, stableErrorRate: number, canaryCdf: Float64Array | undefined, stableCdf: Float64Array | undefined): OutcomeTable {
  const buckets = canaryCdf ? canaryCdf.length + 1 : 1;
  const probability = new Float64Array(4 * buckets);
  let cell = 0;
  for (const [sideShare, errorRate, cdf] of [[share, canaryErrorRate, canaryCdf], [1 - share, stableErrorRate, stableCdf]] as const) {
    for (const errorShare of [1 - errorRate, errorRate]) {
      for (let b = 0; b < buckets; b++) {
        const bucketShare = cdf ? (b < cdf.length ? cdf[b]! : 1) - (b > 0 ? cdf[b - 1]! : 0) : 1;
        probability[cell++] = sideShare * errorShare * bucketShare;
      }
    }
  }
  return { probability, ...aliasTable(probability), buckets };
}

/** Vose's construction of Walker's alias table: cell i is kept with chance keep[i], else alias[i] is drawn. */
function aliasTable(probability: Float64Array): { keep: Float64Array; alias: Uint16Array } {
  const n = probability.length;
  const keep = new Float64Array(n);
  const alias = new Uint16Array(n);
  const scaled = probability.map((p) => p * n);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large.pop()!;
    keep[s] = scaled[s]!;
    alias[s] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  // What is left is 1 up to rounding.
  for (const i of [...small, ...large]) { keep[i] = 1; alias[i] = i; }
  return { keep, alias };
}

/** One cell drawn from the alias table with one uniform: its integer part picks a column, its fraction keeps or aliases. */
function drawCell(table: OutcomeTable, u: number): number {
  const x = u * table.keep.length;
  const column = Math.floor(x);
  return x - column < table.keep[column]! ? column : table.alias[column]!;
}

/** One tick of `rps` requests drawn from `table`, as the guard's input. */
function drawTick(table: OutcomeTable, rps: number, random: () => number, latency: boolean): GuardTick {
  const { buckets } = table;
  const cells = new Array<number>(4 * buckets).fill(0);
  for (let i = 0; i < rps; i++) cells[drawCell(table, random())]!++;
  const side = (offset: number): GuardSideTick => {
    const counts = new Array<number>(buckets);
    let requests = 0;
    let errors = 0;
    for (let b = 0; b < buckets; b++) {
      const ok = cells[offset + b]!;
      const failed = cells[offset + buckets + b]!;
      counts[b] = ok + failed;
      requests += ok + failed;
      errors += failed;
    }
    return { requests, errors, ...(latency ? { latency: { boundsMs: BOUNDS_MS, counts } } : {}) };
  };
  return { canary: side(0), stable: side(2 * buckets) };
}

/** Runs one simulated rollout; returns the tick the guard failed at, or undefined. */
function simulate(s: Scenario, seed: number): { failedAt?: number; failedOn?: string; last: ReturnType<CanaryGuard['observe']> } {
  const random = rng(seed);
  const goodCdf = cdfFor(1);
  let reference: LatencyCounts | undefined;
  if (s.referenceSeconds) {
    const counts = new Array<number>(DEFAULT_LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (let i = 0; i < s.referenceSeconds * s.rps; i++) counts[bucketOf(goodCdf, random())]!++;
    reference = { boundsMs: BOUNDS_MS, counts };
  }
  const guard = new CanaryGuard(s.params, reference ? { latencyReference: reference } : {});
  const share = s.canaryShare ?? 0.1;
  const latency = s.latency ?? false;
  const stableErrorRate = s.stableErrorRate ?? 0;
  const goodCanary = outcomeTable(share, stableErrorRate, stableErrorRate, latency ? goodCdf : undefined, latency ? goodCdf : undefined);
  const badCanary = outcomeTable(share, s.canaryErrorRate ?? stableErrorRate, stableErrorRate, latency ? cdfFor(s.canaryLatencyFactor ?? 1) : undefined, latency ? goodCdf : undefined);
  let last!: ReturnType<CanaryGuard['observe']>;
  for (let tick = 1; tick <= s.ticks; tick++) {
    const bad = tick >= (s.badFromTick ?? 1);
    last = guard.observe(drawTick(bad ? badCanary : goodCanary, s.rps, random, latency));
    if (last.verdict === 'Failed') return { failedAt: tick - (s.badFromTick ?? 1) + 1, failedOn: last.failedOn!, last };
  }
  return { last };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function detection(s: Scenario, runs: number, seed0: number): { median: number; max: number; missed: number } {
  const ticks: number[] = [];
  let missed = 0;
  for (let r = 0; r < runs; r++) {
    const { failedAt } = simulate(s, seed0 + r);
    if (failedAt === undefined) missed++;
    else ticks.push(failedAt);
  }
  return { median: ticks.length ? median(ticks) : Infinity, max: ticks.length ? Math.max(...ticks) : Infinity, missed };
}

describe('the simulated traffic', () => {
  it('has log-normal latencies with median 20 ms and p99 ≈ 64 ms, bucketed like latencyHistogram', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 13);
    const cdf = cdfFor(1);
    expect(cdf[DEFAULT_LATENCY_BOUNDS_MS.indexOf(20)]).toBeCloseTo(0.5, 12);
    // p99 = 20·e^(0.5·2.326) ≈ 64 ms: P(L ≤ 60) < 0.99 < P(L ≤ 80).
    expect(cdf[DEFAULT_LATENCY_BOUNDS_MS.indexOf(60)]).toBeLessThan(0.99);
    expect(cdf[DEFAULT_LATENCY_BOUNDS_MS.indexOf(80)]).toBeGreaterThan(0.99);
    // A factor of 3 moves the median to 60 ms.
    expect(cdfFor(3)[DEFAULT_LATENCY_BOUNDS_MS.indexOf(60)]).toBeCloseTo(0.5, 12);
    // Drawn bucket by bucket, the counts match drawing each latency and bucketing it (Box-Muller).
    const random = rng(7);
    const n = 200_000;
    const direct = new Array<number>(DEFAULT_LATENCY_BOUNDS_MS.length + 1).fill(0);
    for (let i = 0; i < n; i++) direct[bucketOf(cdf, random())]!++;
    const sampled = latencyHistogram(Array.from({ length: n }, () => 20 * Math.exp(0.5 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))));
    direct.forEach((count, i) => expect(Math.abs(count - sampled.counts[i]!)).toBeLessThanOrEqual(6 * Math.sqrt(2 * n * Math.max(cdf[i] ?? 1, 1e-6)) + 1));
  });

  it("draws side, error and latency bucket with the scenario's probabilities", () => {
    const table = outcomeTable(0.1, 0.05, 0.01, cdfFor(3), cdfFor(1));
    const total = table.probability.reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 12);
    const random = rng(11);
    const canary = { requests: 0, errors: 0, counts: new Array<number>(DEFAULT_LATENCY_BOUNDS_MS.length + 1).fill(0) };
    const stable = { requests: 0, errors: 0 };
    const ticks = 2000;
    for (let t = 0; t < ticks; t++) {
      const tick = drawTick(table, 200, random, true);
      canary.requests += tick.canary.requests; canary.errors += tick.canary.errors;
      stable.requests += tick.stable.requests; stable.errors += tick.stable.errors;
      tick.canary.latency!.counts.forEach((n, i) => { canary.counts[i]! += n; });
    }
    const within = (observed: number, n: number, p: number) => expect(Math.abs(observed - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)) + 1);
    within(canary.requests, 200 * ticks, 0.1);
    within(canary.errors, canary.requests, 0.05);
    within(stable.errors, stable.requests, 0.01);
    // The canary's median is 60 ms at 3× latency.
    const upTo60 = canary.counts.slice(0, DEFAULT_LATENCY_BOUNDS_MS.indexOf(60) + 1).reduce((a, b) => a + b, 0);
    within(upTo60, canary.requests, 0.5);
  });
});

describe('CanaryGuard on healthy canaries (false alarms)', () => {
  // 500 rollouts of 300 one-second ticks each, per row; alpha bounds P(any false abort in a rollout).
  it.each([
    // rps, stable & canary error rate, latency, alpha
    [20, 0.005, true, 0.001],
    [200, 0.01, true, 0.001],
    [200, 0.002, false, 0.05],
    [5, 0.02, false, 0.05],
    [20, 0.005, 'with stable\'s last minute as reference', 0.01],
    [200, 0.01, 'with stable\'s last minute as reference', 0.01],
  ] as const)('%i rps, %d errors, latency %s, alpha %d: false aborts within the bound', (rps, errorRate, latency, alpha) => {
    const runs = 500;
    let falseAlarms = 0;
    const referenceSeconds = typeof latency === 'string' ? 60 : 0;
    for (let r = 0; r < runs; r++) {
      if (simulate({ rps, ticks: 300, stableErrorRate: errorRate, latency: latency !== false, referenceSeconds, params: { alpha } }, 10_000 + r).failedAt !== undefined) falseAlarms++;
    }
    console.info(`guard false aborts: ${falseAlarms}/${runs} healthy rollouts of 300 s at ${rps} rps, ${errorRate * 100}% errors, latency ${String(latency)}, alpha ${alpha}`);
    expect(falseAlarms).toBeLessThanOrEqual(Math.ceil(alpha * runs));
  }, 180_000);

  it('does not fire on a canary slightly worse than stable but within the margin (noise)', () => {
    let alarms = 0;
    for (let r = 0; r < 100; r++) {
      const res = simulate({ rps: 1000, ticks: 300, stableErrorRate: 0.002, canaryErrorRate: 0.007, latency: false }, 20_000 + r);
      if (res.failedAt !== undefined) alarms++;
    }
    expect(alarms).toBe(0);
  });

  it('says Inconclusive at low traffic rather than Healthy, then Healthy', () => {
    const guard = new CanaryGuard({ minRequests: 50 });
    const tick = (n: number): GuardTick => ({ canary: { requests: n, errors: 0 }, stable: { requests: 9 * n, errors: 0 } });
    expect(guard.observe(tick(1)).verdict).toBe('Inconclusive');
    expect(guard.observe(tick(1)).reason).toMatch(/too little traffic.*2 canary and 18 stable/);
    expect(guard.observe(tick(100)).verdict).toBe('Healthy');
  });
});

describe('CanaryGuard on broken canaries (detection)', () => {
  const report: string[] = [];
  it.each([
    // what, scenario, max median ticks to detection
    ['100% errors', { rps: 50, canaryErrorRate: 1 }, 3],
    ['100% errors', { rps: 200, canaryErrorRate: 1 }, 1],
    ['100% errors', { rps: 1000, canaryErrorRate: 1 }, 1],
    ['5% errors', { rps: 50, canaryErrorRate: 0.05 }, 120],
    ['5% errors', { rps: 200, canaryErrorRate: 0.05 }, 30],
    ['5% errors', { rps: 1000, canaryErrorRate: 0.05 }, 8],
    ['3x latency', { rps: 50, canaryLatencyFactor: 3, latency: true }, 30],
    ['3x latency', { rps: 200, canaryLatencyFactor: 3, latency: true }, 8],
    ['3x latency', { rps: 1000, canaryLatencyFactor: 3, latency: true }, 4],
    // Stable's last minute fixes the threshold before the first tick: judged from the start.
    ['3x latency, reference given', { rps: 50, canaryLatencyFactor: 3, latency: true, referenceSeconds: 60 }, 8],
    ['3x latency, reference given', { rps: 200, canaryLatencyFactor: 3, latency: true, referenceSeconds: 60 }, 2],
    ['100% errors after 200 healthy s', { rps: 200, canaryErrorRate: 1, badFromTick: 201 }, 2],
    ['5% errors after 200 healthy s', { rps: 1000, canaryErrorRate: 0.05, badFromTick: 201 }, 20],
  ] as const)('%s at %j is detected within %i ticks (median of 20)', (what, s, maxMedian) => {
    const scenario: Scenario = { ticks: (s as Scenario).badFromTick ? 600 : 400, stableErrorRate: 0.001, ...s };
    const d = detection(scenario, 20, 30_000);
    report.push(`${what} at ${s.rps} rps (10% canary): median ${d.median} ticks, max ${d.max}, missed ${d.missed}/20`);
    expect(d.missed).toBe(0);
    expect(d.median).toBeLessThanOrEqual(maxMedian);
  });

  it('names the failing test and its statistics', () => {
    const { last } = simulate({ rps: 200, ticks: 10, canaryErrorRate: 1 }, 1);
    expect(last).toMatchObject({ verdict: 'Failed', failedOn: 'errors' });
    expect(last.reason).toMatch(/canary error rate 100\.0% vs stable/);
    expect(last.errors.canaryLower).toBeGreaterThan(0.5);
    const lat = simulate({ rps: 1000, ticks: 60, canaryLatencyFactor: 3, latency: true }, 1).last;
    expect(lat).toMatchObject({ verdict: 'Failed', failedOn: 'latency' });
    expect(lat.latency!.thresholdMs).toBeGreaterThanOrEqual(50);
    expect(lat.reason).toMatch(/slower than \d+ ms/);
    console.info(`guard detection (ticks of 1 s from the first bad second):\n  ${report.join('\n  ')}`);
  });

  it('stays Failed once failed', () => {
    const guard = new CanaryGuard();
    guard.observe({ canary: { requests: 50, errors: 50 }, stable: { requests: 450, errors: 0 } });
    expect(guard.observe({ canary: { requests: 50, errors: 0 }, stable: { requests: 450, errors: 0 } }).verdict).toBe('Failed');
  });
});

describe('CanaryGuard input checks', () => {
  const ok = { requests: 10, errors: 0 };
  it.each([
    ['negative requests', { canary: { requests: -1, errors: 0 }, stable: ok }, /canary.requests/],
    ['errors above requests', { canary: ok, stable: { requests: 1, errors: 2 } }, /stable.errors/],
    ['a short histogram', { canary: { ...ok, latency: { boundsMs: [1, 2], counts: [1, 2] } }, stable: ok }, /needs 3 counts/],
    ['a fractional count', { canary: { ...ok, latency: { boundsMs: [1], counts: [0.5, 0] } }, stable: ok }, /canary.latency counts must be integers/],
    ['a negative count', { canary: ok, stable: { ...ok, latency: { boundsMs: [1], counts: [0, -1] } } }, /stable.latency counts must be integers/],
    ['unsorted bounds', { canary: { ...ok, latency: { boundsMs: [2, 1], counts: [1, 2, 0] } }, stable: ok }, /bounds must increase/],
    ['different bounds', { canary: { ...ok, latency: { boundsMs: [1], counts: [1, 0] } }, stable: { ...ok, latency: { boundsMs: [2], counts: [1, 0] } } }, /share bounds/],
  ] as const)('rejects %s', (_what, tick, message) => {
    expect(() => new CanaryGuard().observe(tick as unknown as GuardTick)).toThrow(message);
  });
  it.each([
    [{ alpha: 0 }, /alpha/], [{ alpha: 0.7 }, /alpha/], [{ minRequests: 1.5 }, /minRequests/], [{ errorRateMargin: 1 }, /errorRateMargin/],
    [{ latencyFactor: 0.5 }, /latencyFactor/], [{ latencyQuantile: 1 }, /latencyQuantile/], [{ latencyMargin: -1 }, /latencyMargin/], [{ latencyReferenceRequests: 0 }, /latencyReferenceRequests/], [{ restartEverySeconds: 0 }, /restartEverySeconds/],
  ] as const)('rejects params %j', (params, message) => {
    const err = (() => { try { new CanaryGuard(params); } catch (e) { return e; } return undefined; })();
    expect(err).toBeInstanceOf(GuardInputError);
    expect((err as GuardInputError).code).toBe('invalid-params');
    expect((err as Error).message).toMatch(message);
  });
  it('takes a latency reference too thin to fix the threshold as the start of one', () => {
    const thin = latencyHistogram(Array.from({ length: 50 }, () => 10));
    const guard = new CanaryGuard({ latencyReferenceRequests: 200 }, { latencyReference: thin });
    const tick = (n: number, ms: number): GuardTick => ({
      canary: { requests: n, errors: 0, latency: latencyHistogram(Array.from({ length: n }, () => ms)) },
      stable: { requests: n, errors: 0, latency: latencyHistogram(Array.from({ length: n }, () => 10)) },
    });
    expect(guard.observe(tick(100, 100)).latency).toBeUndefined();
    expect(guard.observe(tick(100, 100)).latency?.thresholdMs).toBe(15);
  });

  it('rejects a malformed latency reference', () => {
    expect(() => new CanaryGuard({}, { latencyReference: { boundsMs: [1, 2], counts: [1, 2] } })).toThrow(
      new GuardInputError('invalid-tick', 'latencyReference needs 3 counts (one per bound plus overflow), got 2'),
    );
    expect(() => new CanaryGuard({}, { latencyReference: { boundsMs: [2, 1], counts: [1, 2, 3] } })).toThrow(/latencyReference bounds must increase/);
  });

  it('rejects histogram bounds that change mid-rollout', () => {
    const guard = new CanaryGuard();
    guard.observe({ canary: ok, stable: { ...ok, latency: latencyHistogram([5]) } });
    expect(() => guard.observe({ canary: ok, stable: { ...ok, latency: latencyHistogram([5], [1, 10]) } })).toThrow(/bounds changed/);
  });
  it('builds histograms with inclusive upper bounds and an overflow bucket', () => {
    const h = latencyHistogram([0.5, 1, 1.2, 70_000]);
    expect(h.counts[0]).toBe(2);
    expect(h.counts[1]).toBe(1);
    expect(h.counts[DEFAULT_LATENCY_BOUNDS_MS.length]).toBe(1);
  });
});
