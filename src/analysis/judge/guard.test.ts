import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/fixtures/seeded-random.js';
import { CanaryGuard, DEFAULT_LATENCY_BOUNDS_MS, GuardInputError, latencyHistogram, type GuardParams, type GuardTick } from './guard.js';

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

/** Latencies: log-normal, median 20 ms, σ 0.5 (p99 ≈ 64 ms). */
function latencyMs(random: () => number, factor: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return factor * 20 * Math.exp(0.5 * z);
}

/** Runs one simulated rollout; returns the tick the guard failed at, or undefined. */
function simulate(s: Scenario, seed: number): { failedAt?: number; failedOn?: string; last: ReturnType<CanaryGuard['observe']> } {
  const random = rng(seed);
  const reference = s.referenceSeconds ? latencyHistogram(Array.from({ length: s.referenceSeconds * s.rps }, () => latencyMs(random, 1))) : undefined;
  const guard = new CanaryGuard(s.params, reference ? { latencyReference: reference } : {});
  const share = s.canaryShare ?? 0.1;
  let last!: ReturnType<CanaryGuard['observe']>;
  for (let tick = 1; tick <= s.ticks; tick++) {
    const bad = tick >= (s.badFromTick ?? 1);
    const side = (canary: boolean) => {
      let requests = 0;
      let errors = 0;
      const lat: number[] = [];
      const errRate = canary && bad ? (s.canaryErrorRate ?? s.stableErrorRate ?? 0) : (s.stableErrorRate ?? 0);
      const factor = canary && bad ? (s.canaryLatencyFactor ?? 1) : 1;
      return { add() { requests++; if (random() < errRate) errors++; if (s.latency) lat.push(latencyMs(random, factor)); },
        done: () => ({ requests, errors, ...(s.latency ? { latency: latencyHistogram(lat) } : {}) }) };
    };
    const c = side(true);
    const st = side(false);
    for (let i = 0; i < s.rps; i++) (random() < share ? c : st).add();
    const tickInput: GuardTick = { canary: c.done(), stable: st.done() };
    last = guard.observe(tickInput);
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
