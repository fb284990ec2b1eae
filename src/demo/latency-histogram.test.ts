import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';

/** Exact percentile by the same rank rule (nearest rank). */
const exact = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;

describe('LatencyHistogram', () => {
  it.each([
    // name,                    samples generator,                                   q
    ['uniform 1..1000 ms p50', () => Array.from({ length: 1000 }, (_, i) => i + 1), 0.5],
    ['uniform 1..1000 ms p99', () => Array.from({ length: 1000 }, (_, i) => i + 1), 0.99],
    ['sub-ms p50', () => Array.from({ length: 500 }, (_, i) => 0.01 + i * 0.002), 0.5],
    ['long tail p99', () => Array.from({ length: 10_000 }, (_, i) => (i % 100 === 0 ? 2500 : 1 + (i % 7))), 0.99],
    ['long tail p90', () => Array.from({ length: 10_000 }, (_, i) => (i % 100 === 0 ? 2500 : 1 + (i % 7))), 0.9],
    ['exponential p50', () => Array.from({ length: 5000 }, (_, i) => -Math.log(1 - (i + 0.5) / 5000) * 20), 0.5],
    ['exponential p99', () => Array.from({ length: 5000 }, (_, i) => -Math.log(1 - (i + 0.5) / 5000) * 20), 0.99],
  ] as const)('%s is within one percent of the exact value', (_name, samples, q) => {
    const values = samples();
    const h = new LatencyHistogram();
    for (const v of values) h.record(v);
    const want = exact([...values].sort((a, b) => a - b), q);
    expect(Math.abs(h.percentile(q) - want) / want).toBeLessThanOrEqual(0.01);
  });

  it('is exact at the extremes and for count, max and mean', () => {
    const h = new LatencyHistogram();
    for (const v of [3, 1, 7.5, 2]) h.record(v);
    expect(h.percentile(0)).toBe(1);
    expect(h.percentile(1)).toBe(7.5);
    expect(h.summary()).toMatchObject({ count: 4, max: 7.5, mean: 3.375 });
  });

  it('reports zeros when empty', () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
  });

  it('merges into the same distribution as one histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 1; i <= 200; i += 1) {
      (i % 2 ? a : b).record(i);
      all.record(i);
    }
    a.merge(b);
    expect(a.summary()).toEqual(all.summary());
  });

  it.each([[-1], [Number.NaN], [Infinity]])('refuses the latency %s', (v) => {
    expect(() => new LatencyHistogram().record(v)).toThrow(/latency must be a finite number >= 0/);
  });

  it.each([[-0.1], [1.5], [Number.NaN]])('refuses the percentile %s', (q) => {
    expect(() => new LatencyHistogram().percentile(q)).toThrow(/percentile must be between 0 and 1/);
  });
});
