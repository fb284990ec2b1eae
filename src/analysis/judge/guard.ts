/**
 * The guard: a continuous canary-versus-stable judgement, fed once a second, that aborts a bad
 * canary within a second or two and bounds the probability of ever aborting a good one.
 *
 * ## The test
 *
 * Two questions, each a comparison of two rates:
 * - errors: is P(canary request errors) > P(stable request errors) + `errorRateMargin`?
 * - latency: with L = a latency threshold fixed from stable's own traffic (the histogram bucket
 *   bound at or above `latencyFactor` × stable's `latencyQuantile`, p90 by default), is
 *   P(canary request slower than L) > P(stable request slower than L) + `latencyMargin`? Stable
 *   passes L for a percent or two of requests; a canary `latencyFactor` times slower passes it as
 *   often as stable passes its own p90, about 10%. (A threshold on p99 was tried first: with a few
 *   hundred reference requests the p99 estimate is too noisy and detection became erratic.)
 *
 * Each rate gets an always-valid confidence sequence (see sequential.ts): canary's lower bound,
 * stable's upper bound. The guard fails the canary when canary-lower − stable-upper > margin.
 * If both sequences cover their true rates — which, by Ville's inequality, happens for the whole
 * rollout with probability ≥ 1 − (level_canary + level_stable) — this cannot happen for a canary
 * within the margin, whatever the traffic split, however long the rollout, and however often the
 * guard looks. No minimum sample size is needed for validity: with few requests the bounds are
 * wide and nothing fires; the `minRequests` setting only decides when silence means Healthy
 * rather than Inconclusive.
 *
 * A test that started with the rollout reacts slowly to a canary that turns bad late (hours of
 * good traffic dilute the new errors), so the guard also restarts fresh tests every
 * `restartEverySeconds` and keeps the most recent few. The false-alarm budget is split so the
 * total stays ≤ alpha: half to errors and half to latency; within each, half to the test from
 * the start and α/4 · 1/(j(j+1)) to the j-th restarted one (these sum to α/4); within a test,
 * half to each side. Discarding old restarted tests only lowers the false-alarm rate.
 *
 * Assumptions, stated because they are what the bound rests on: requests of one revision within
 * the window are exchangeable (a request's error chance does not depend on which earlier ones
 * erred); correlated bursts (one upstream hiccup failing many requests at once) are what the
 * margins absorb. Pure: no clock, no I/O; time is the tick count.
 */
import { lowerConfidenceBound, rulesOut, upperConfidenceBound } from './sequential.js';
import type { LatencyCounts } from '../../router/contract/index.js';

/** The guard's settings; every field has a default (see {@link DEFAULT_GUARD_PARAMS}). */
export interface GuardParams {
  /** Probability of ever failing a canary that is no worse than the margins, over the whole rollout. */
  alpha: number;
  /** Canary and stable requests seen before the guard calls the canary Healthy (below: Inconclusive). */
  minRequests: number;
  /** Canary error rate above stable's by more than this (a fraction, 0.01 = 1 point) fails it. */
  errorRateMargin: number;
  /** The stable latency quantile the threshold is built on (0.9 = p90). */
  latencyQuantile: number;
  /** The latency threshold is this multiple of stable's `latencyQuantile`. */
  latencyFactor: number;
  /** Canary requests past the threshold exceeding stable's share by more than this fraction fail it. */
  latencyMargin: number;
  /** Stable requests used to fix the latency threshold before the latency test starts. */
  latencyReferenceRequests: number;
  /** Seconds between fresh tests, so a canary that turns bad late is caught as fast as an early one. */
  restartEverySeconds: number;
}

/** Defaults: 1 false abort in 1,000 healthy rollouts at most; +1 point of errors; 1.5× p90 latency. */
export const DEFAULT_GUARD_PARAMS: Readonly<GuardParams> = Object.freeze({
  alpha: 0.001,
  minRequests: 50,
  errorRateMargin: 0.01,
  latencyQuantile: 0.9,
  latencyFactor: 1.5,
  latencyMargin: 0.02,
  latencyReferenceRequests: 200,
  restartEverySeconds: 10,
});

/** What the guard may know before its first tick. */
export interface GuardStartOptions {
  /**
   * Stable's latencies just before the canary started (e.g. the router's last minute). With at
   * least `latencyReferenceRequests` in it, the latency threshold is fixed from it and the latency
   * test runs from the first tick, instead of waiting for that much stable traffic first.
   */
  latencyReference?: LatencyCounts;
}

/** Restarted tests kept alive besides the one from the start. */
const RECENT_TESTS = 6;

/** One revision's traffic during one tick (about a second). */
export interface GuardSideTick {
  /** Requests that completed. */
  requests: number;
  /** Of those, 5xx responses plus upstream errors and timeouts. */
  errors: number;
  /** Their latencies in this tick (the same bounds every tick and on both sides); without it the latency test does not run. */
  latency?: LatencyCounts;
}

/** What the guard is fed every second. */
export interface GuardTick {
  /** The canary's traffic in this tick. */
  canary: GuardSideTick;
  /** The stable revision's traffic in this tick. */
  stable: GuardSideTick;
}

/** The guard's opinion. */
export type GuardVerdict = 'Healthy' | 'Inconclusive' | 'Failed';

/** Rates and bounds behind a verdict, for events and the console. */
export interface GuardComparison {
  /** Canary's observed rate since the deciding test started. */
  canaryRate: number;
  /** Stable's observed rate since the deciding test started. */
  stableRate: number;
  /** Canary's always-valid lower bound. */
  canaryLower: number;
  /** Stable's always-valid upper bound. */
  stableUpper: number;
  /** Canary requests in the deciding test. */
  canaryRequests: number;
  /** Stable requests in the deciding test. */
  stableRequests: number;
  /** The tick the deciding test started at. */
  sinceTick: number;
}

/** The outcome of one tick. */
export interface GuardResult {
  /** Failed is final: once failed, every later tick says Failed. */
  verdict: GuardVerdict;
  /** Why, in a sentence. */
  reason: string;
  /** Ticks observed so far (1 after the first). */
  tick: number;
  /** Canary totals since the guard started. */
  canary: { requests: number; errors: number };
  /** Stable totals since the guard started. */
  stable: { requests: number; errors: number };
  /** The error comparison of the test from the start (or the one that failed). */
  errors: GuardComparison;
  /** The latency threshold in ms once fixed, and the latency comparison. */
  latency?: GuardComparison & { thresholdMs: number };
  /** Which test failed the canary. */
  failedOn?: 'errors' | 'latency';
}

/** Bad guard input or parameters: a wiring bug, named precisely. */
export class GuardInputError extends Error {
  override readonly name = 'GuardInputError';
  constructor(
    /** `invalid-params` or `invalid-tick`. */
    readonly code: 'invalid-params' | 'invalid-tick',
    /** What was wrong. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

interface Counts { n: number; k: number }
interface TwoSample { startTick: number; level: number; canary: Counts; stable: Counts }

/** One two-sample sequential comparison family: a test from the start plus recent restarts. */
class RateComparison {
  private readonly fromStart: TwoSample;
  private recent: TwoSample[] = [];
  private restarts = 0;

  constructor(private readonly budget: number, private readonly startTick: number, private readonly margin: number, private readonly everyTicks: number) {
    this.fromStart = { startTick, level: budget / 2, canary: { n: 0, k: 0 }, stable: { n: 0, k: 0 } };
  }

  /** Adds one tick; returns the failing test's comparison, if any. */
  add(tick: number, canary: Counts, stable: Counts): GuardComparison | undefined {
    if (tick > this.startTick && (tick - this.startTick) % this.everyTicks === 0) {
      this.restarts++;
      const j = this.restarts;
      this.recent.push({ startTick: tick, level: (this.budget / 2) / (j * (j + 1)), canary: { n: 0, k: 0 }, stable: { n: 0, k: 0 } });
      if (this.recent.length > RECENT_TESTS) this.recent.shift();
    }
    let failed: GuardComparison | undefined;
    for (const t of [this.fromStart, ...this.recent]) {
      t.canary.n += canary.n; t.canary.k += canary.k;
      t.stable.n += stable.n; t.stable.k += stable.k;
      if (!failed) {
        const c = this.compareIfPlausible(t);
        if (c && c.canaryLower - c.stableUpper > this.margin) failed = c;
      }
    }
    return failed;
  }

  /** The test from the start, for display. */
  summary(): GuardComparison {
    return this.compare(this.fromStart);
  }

  // Skips computing the bounds when they cannot fire, which keeps a healthy guard cheap. The
  // bounds bracket the observed rates, so a test can fire only if the observed gap exceeds the
  // margin. Then, with p0 = stable's observed rate + margin: canary-lower − stable-upper > margin
  // needs canary-lower > p0, i.e. p0 ruled out for the canary; if it is not, nothing can fire.
  // One evaluation of M settles that, where the bound itself takes a root search. Young
  // restarted tests with a handful of requests pass the first check often; they fail this one.
  private compareIfPlausible(t: TwoSample): GuardComparison | undefined {
    if (t.canary.n === 0 || t.stable.n === 0) return undefined;
    const p0 = t.stable.k / t.stable.n + this.margin;
    if (t.canary.k / t.canary.n <= p0) return undefined;
    if (!rulesOut(t.canary.n, t.canary.k, p0, t.level / 2)) return undefined;
    return this.compare(t);
  }

  private compare(t: TwoSample): GuardComparison {
    return {
      canaryRate: t.canary.n ? t.canary.k / t.canary.n : 0,
      stableRate: t.stable.n ? t.stable.k / t.stable.n : 0,
      canaryLower: lowerConfidenceBound(t.canary.n, t.canary.k, t.level / 2),
      stableUpper: upperConfidenceBound(t.stable.n, t.stable.k, t.level / 2),
      canaryRequests: t.canary.n,
      stableRequests: t.stable.n,
      sinceTick: t.startTick,
    };
  }
}

/**
 * A canary guard. Feed {@link observe} one {@link GuardTick} per second; it answers Healthy,
 * Inconclusive (too little traffic yet) or Failed (final). Deterministic: the same ticks give the
 * same answers.
 */
export class CanaryGuard {
  /** The settings in force, defaults filled in. */
  readonly params: Readonly<GuardParams>;
  private tick = 0;
  private readonly totals = { canary: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0 } };
  private readonly errors: RateComparison;
  private latency: { thresholdMs: number; thresholdIndex: number; test: RateComparison } | undefined;
  private reference: { boundsMs: readonly number[]; counts: number[]; requests: number } | undefined;
  private latencyUnavailable: string | undefined;
  private failure: GuardResult | undefined;

  constructor(params: Partial<GuardParams> = {}, options: GuardStartOptions = {}) {
    this.params = validateParams({ ...DEFAULT_GUARD_PARAMS, ...stripUndefined(params) });
    this.errors = new RateComparison(this.params.alpha / 2, 0, this.params.errorRateMargin, this.params.restartEverySeconds);
    const ref = options.latencyReference;
    if (ref) {
      validateHistogram('latencyReference', ref);
      // Data from before the first tick: the test may use every tick from the first on.
      this.addReference(ref);
    }
  }

  /** Takes one second of traffic and returns the verdict so far. */
  observe(input: GuardTick): GuardResult {
    validateTick(input);
    if (this.failure) return this.failure;
    this.tick++;
    const { canary, stable } = input;
    this.totals.canary.requests += canary.requests;
    this.totals.canary.errors += canary.errors;
    this.totals.stable.requests += stable.requests;
    this.totals.stable.errors += stable.errors;

    const errorFail = this.errors.add(this.tick, { n: canary.requests, k: canary.errors }, { n: stable.requests, k: stable.errors });
    const latencyFail = this.observeLatency(input);
    const base = {
      tick: this.tick,
      canary: { ...this.totals.canary },
      stable: { ...this.totals.stable },
    };
    const latencySummary = this.latency ? { ...this.latency.test.summary(), thresholdMs: this.latency.thresholdMs } : undefined;
    if (errorFail) {
      const reason = `canary error rate ${pct(errorFail.canaryRate)} vs stable ${pct(errorFail.stableRate)}: at least ${pct(errorFail.canaryLower)} vs at most ${pct(errorFail.stableUpper)} (margin ${pct(this.params.errorRateMargin)}, ${errorFail.canaryRequests} canary requests)`;
      this.failure = { ...base, verdict: 'Failed', reason, errors: errorFail, failedOn: 'errors', ...(latencySummary ? { latency: latencySummary } : {}) };
      return this.failure;
    }
    if (latencyFail && this.latency) {
      const t = this.latency.thresholdMs;
      const reason = `canary requests slower than ${t} ms: ${pct(latencyFail.canaryRate)} vs stable ${pct(latencyFail.stableRate)}: at least ${pct(latencyFail.canaryLower)} vs at most ${pct(latencyFail.stableUpper)} (margin ${pct(this.params.latencyMargin)})`;
      this.failure = { ...base, verdict: 'Failed', reason, errors: this.errors.summary(), latency: { ...latencyFail, thresholdMs: t }, failedOn: 'latency' };
      return this.failure;
    }
    const enough = this.totals.canary.requests >= this.params.minRequests && this.totals.stable.requests >= this.params.minRequests;
    const reason = enough
      ? `no significant difference after ${this.totals.canary.requests} canary requests${this.latencyUnavailable ? ` (latency not judged: ${this.latencyUnavailable})` : ''}`
      : `too little traffic to judge: ${this.totals.canary.requests} canary and ${this.totals.stable.requests} stable requests (need ${this.params.minRequests} each)`;
    return { ...base, verdict: enough ? 'Healthy' : 'Inconclusive', reason, errors: this.errors.summary(), ...(latencySummary ? { latency: latencySummary } : {}) };
  }

  private observeLatency(input: GuardTick): GuardComparison | undefined {
    const c = input.canary.latency;
    const s = input.stable.latency;
    if (this.latency) {
      if (!c || !s) return undefined;
      if (!sameBounds(this.reference!.boundsMs, s.boundsMs)) throw new GuardInputError('invalid-tick', 'the latency histogram bounds changed between ticks');
      const i = this.latency.thresholdIndex;
      return this.latency.test.add(this.tick, { n: total(c.counts), k: above(c.counts, i) }, { n: total(s.counts), k: above(s.counts, i) });
    }
    if (!s) return undefined;
    this.addReference(s);
    return undefined;
  }

  /** Adds stable latencies to the reference; fixes the threshold once there are enough. */
  private addReference(s: LatencyCounts): void {
    if (!this.reference) this.reference = { boundsMs: s.boundsMs, counts: s.counts.map(() => 0), requests: 0 };
    if (!sameBounds(this.reference.boundsMs, s.boundsMs)) throw new GuardInputError('invalid-tick', 'the latency histogram bounds changed between ticks');
    s.counts.forEach((n, i) => { this.reference!.counts[i]! += n; });
    this.reference.requests += total(s.counts);
    if (this.reference.requests < this.params.latencyReferenceRequests) {
      this.latencyUnavailable = `fixing the threshold from stable (${this.reference.requests}/${this.params.latencyReferenceRequests} requests)`;
      return;
    }
    const qIndex = quantileBucket(this.reference.counts, this.params.latencyQuantile);
    const bounds = this.reference.boundsMs;
    if (qIndex >= bounds.length) {
      this.latencyUnavailable = `stable's latency quantile ${this.params.latencyQuantile} is above the largest histogram bound (${bounds[bounds.length - 1]} ms)`;
      return;
    }
    const target = bounds[qIndex]! * this.params.latencyFactor;
    const thresholdIndex = bounds.findIndex((b) => b >= target);
    if (thresholdIndex < 0) {
      this.latencyUnavailable = `${this.params.latencyFactor}× stable's latency quantile is above the largest histogram bound`;
      return;
    }
    this.latencyUnavailable = undefined;
    this.latency = {
      thresholdMs: bounds[thresholdIndex]!,
      thresholdIndex,
      // The threshold came from data up to this tick; the test uses only later ticks.
      test: new RateComparison(this.params.alpha / 2, this.tick, this.params.latencyMargin, this.params.restartEverySeconds),
    };
  }
}

/** Builds a histogram from raw latencies (tests, and routers that keep samples). */
export function latencyHistogram(samplesMs: Iterable<number>, boundsMs: readonly number[] = DEFAULT_LATENCY_BOUNDS_MS): LatencyCounts {
  const counts = new Array<number>(boundsMs.length + 1).fill(0);
  for (const ms of samplesMs) {
    let lo = 0;
    let hi = boundsMs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ms <= boundsMs[mid]!) hi = mid;
      else lo = mid + 1;
    }
    counts[lo]!++;
  }
  return { boundsMs: [...boundsMs], counts };
}

/** Roughly 25% apart from 1 ms to 60 s, so the threshold lands close to the target. */
export const DEFAULT_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300,
  400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000,
]);

function total(counts: readonly number[]): number {
  let s = 0;
  for (const n of counts) s += n;
  return s;
}

/** Requests in buckets strictly above bound `index`, i.e. slower than `boundsMs[index]`. */
function above(counts: readonly number[], index: number): number {
  let s = 0;
  for (let i = index + 1; i < counts.length; i++) s += counts[i]!;
  return s;
}

function quantileBucket(counts: readonly number[], q: number): number {
  const need = q * total(counts);
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    acc += counts[i]!;
    if (acc >= need) return i;
  }
  return counts.length - 1;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateParams(p: GuardParams): GuardParams {
  const bad = (field: keyof GuardParams, want: string) => new GuardInputError('invalid-params', `guard ${field} must be ${want}, got ${p[field]}`);
  if (!(p.alpha > 0 && p.alpha < 0.5)) throw bad('alpha', 'between 0 and 0.5 (exclusive)');
  if (!(Number.isInteger(p.minRequests) && p.minRequests >= 0)) throw bad('minRequests', 'an integer ≥ 0');
  if (!(p.errorRateMargin >= 0 && p.errorRateMargin < 1)) throw bad('errorRateMargin', 'in [0, 1)');
  if (!(p.latencyQuantile >= 0.5 && p.latencyQuantile < 1)) throw bad('latencyQuantile', 'in [0.5, 1)');
  if (!(p.latencyFactor >= 1)) throw bad('latencyFactor', '≥ 1');
  if (!(p.latencyMargin >= 0 && p.latencyMargin < 1)) throw bad('latencyMargin', 'in [0, 1)');
  if (!(Number.isInteger(p.latencyReferenceRequests) && p.latencyReferenceRequests >= 1)) throw bad('latencyReferenceRequests', 'an integer ≥ 1');
  if (!(Number.isInteger(p.restartEverySeconds) && p.restartEverySeconds >= 1)) throw bad('restartEverySeconds', 'an integer ≥ 1');
  return p;
}

// Plain loops: this runs on every histogram of every tick, and the closures of `every` were a
// tenth of the guard's time in its Monte Carlo suite.
function validateHistogram(name: string, { boundsMs, counts }: LatencyCounts): void {
  if (counts.length !== boundsMs.length + 1) throw new GuardInputError('invalid-tick', `${name} needs ${boundsMs.length + 1} counts (one per bound plus overflow), got ${counts.length}`);
  for (const n of counts) {
    if (!(Number.isInteger(n) && n >= 0)) throw new GuardInputError('invalid-tick', `${name} counts must be integers ≥ 0`);
  }
  for (let i = 1; i < boundsMs.length; i++) {
    if (!(boundsMs[i]! > boundsMs[i - 1]!)) throw new GuardInputError('invalid-tick', `${name} bounds must increase`);
  }
}

function validateTick(t: GuardTick): void {
  for (const side of ['canary', 'stable'] as const) {
    const s = t[side];
    if (!s || !(Number.isInteger(s.requests) && s.requests >= 0)) throw new GuardInputError('invalid-tick', `${side}.requests must be an integer ≥ 0`);
    if (!(Number.isInteger(s.errors) && s.errors >= 0 && s.errors <= s.requests)) {
      throw new GuardInputError('invalid-tick', `${side}.errors must be an integer between 0 and ${side}.requests (${s.requests}), got ${s.errors}`);
    }
    if (s.latency) validateHistogram(`${side}.latency`, s.latency);
  }
  if (t.canary.latency && t.stable.latency && !sameBounds(t.canary.latency.boundsMs, t.stable.latency.boundsMs)) {
    throw new GuardInputError('invalid-tick', 'canary and stable latency histograms must share bounds');
  }
}
