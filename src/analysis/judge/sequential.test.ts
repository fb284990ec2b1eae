import { describe, expect, it } from 'vitest';
import { logGamma, lowerConfidenceBound, rulesOut, upperConfidenceBound } from './sequential.js';

describe('logGamma', () => {
  it.each([[1, 0], [2, 0], [5, Math.log(24)], [0.5, Math.log(Math.sqrt(Math.PI))], [101, 363.73937555556347]] as const)(
    'logGamma(%d) ≈ %d', (x, y) => expect(logGamma(x)).toBeCloseTo(y, 9));
});

describe('beta-binomial confidence sequence', () => {
  it.each([
    // n, k, level: bounds bracket the observed rate
    [20, 20, 1e-4], [180, 0, 1e-4], [1000, 50, 1e-3], [10, 3, 0.05],
  ] as const)('n=%d k=%d level=%d brackets k/n', (n, k, level) => {
    const lo = lowerConfidenceBound(n, k, level);
    const hi = upperConfidenceBound(n, k, level);
    expect(lo).toBeLessThanOrEqual(k / n);
    expect(hi).toBeGreaterThanOrEqual(k / n);
  });

  it('matches the closed form when every trial succeeds: (n+1)·p^n = level', () => {
    const n = 20;
    const level = 1e-4;
    expect(lowerConfidenceBound(n, n, level)).toBeCloseTo(Math.pow(level / (n + 1), 1 / n), 6);
    expect(upperConfidenceBound(n, 0, level)).toBeCloseTo(1 - Math.pow(level / (n + 1), 1 / n), 6);
  });

  it('narrows as data accumulates and says nothing without data', () => {
    expect(lowerConfidenceBound(0, 0, 0.01)).toBe(0);
    expect(upperConfidenceBound(0, 0, 0.01)).toBe(1);
    const widths = [100, 1000, 10_000].map((n) => upperConfidenceBound(n, n / 10, 0.01) - lowerConfidenceBound(n, n / 10, 0.01));
    expect(widths[0]).toBeGreaterThan(widths[1]!);
    expect(widths[1]).toBeGreaterThan(widths[2]!);
  });

  it('finds a small bound to full precision: one success in three, (1/12)/p = 1/level', () => {
    // Bisection over [0, 1/3] stopped 0.3% short of this root.
    expect(lowerConfidenceBound(3, 1, 1e-9) / (1e-9 / 12)).toBeCloseTo(1, 9);
  });

  it.each([[600, 3, 2.5e-4], [5400, 27, 2.5e-4], [60, 59, 1e-3], [1_000_000, 10_000, 1e-6]] as const)(
    'n=%d k=%d level=%d: rulesOut holds just outside the bounds and not just inside', (n, k, level) => {
      const lo = lowerConfidenceBound(n, k, level);
      const hi = upperConfidenceBound(n, k, level);
      expect(rulesOut(n, k, lo * (1 - 1e-6), level)).toBe(true);
      expect(rulesOut(n, k, lo * (1 + 1e-6), level)).toBe(false);
      expect(rulesOut(n, k, hi - (1 - hi) * 1e-6, level)).toBe(false);
      expect(rulesOut(n, k, hi + (1 - hi) * 1e-6, level)).toBe(true);
    });
});
