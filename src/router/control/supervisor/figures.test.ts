import { describe, expect, it } from 'vitest';
import { FINE_BOUNDS_MS } from '../../revision-stats.js';
import { FigureHistory, zeroTotals, type MergedReport } from './figures.js';

const BOUNDS = [...FINE_BOUNDS_MS];

/** A merged report of one revision whose cumulative latency counts are `bins` (bin → count). */
function report(atMs: number, bins: Record<number, number>, extra: { fallbacks?: number; unreadyServed?: number } = {}): MergedReport {
  const totals = { ...zeroTotals(BOUNDS), ...extra };
  for (const [bin, n] of Object.entries(bins)) totals.latency.counts[Number(bin)] = n;
  const requests = Object.values(bins).reduce((a, b) => a + b, 0);
  totals.requests = requests;
  totals.responses['2xx'] = requests;
  return { atMs, tableVersion: 1, revisions: [{ service: 'web', revision: 'v1', totals, prom: { buckets: [], sumS: 0 } }], releases: [], refused: {}, mirrorsSkipped: 0, instances: [] };
}

describe('the daemon’s per-second history of merged reports', () => {
  it('keeps each second’s latency as the difference of reports, merging reports of the same second', () => {
    let now = 100_000;
    const history = new FigureHistory(() => now);
    history.take(report(100_000, { 100: 10 }), true);
    history.take(report(100_400, { 100: 15, 120: 5 }), true); // same second: +5 in bin 100, +5 in bin 120
    history.take(report(101_000, { 100: 15, 120: 5, 300: 1 }), true);
    now = 101_500;
    const counts = history.recentLatency({ service: 'web', revision: 'v1', windowMs: 10_000 }, BOUNDS).counts;
    expect(counts.length).toBe(BOUNDS.length + 1);
    expect([counts[100], counts[120], counts[300], counts.reduce((a, b) => a + b, 0)]).toEqual([15, 5, 1, 21]);
    const stats = history.stats({ service: 'web', revision: 'v1', windowMs: 10_000 }, BOUNDS);
    expect(stats.requests).toBe(21);
    expect(stats.latencyMs.p50).toBe(BOUNDS[100]);
    expect(stats.latencyMs.p90).toBe(BOUNDS[120]);
    expect(stats.latencyMs.max).toBe(BOUNDS[300]);
    // Only the last second: the one answer in bin 300.
    now = 101_999;
    expect(history.stats({ service: 'web', revision: 'v1', windowMs: 1000 }, BOUNDS).latencyMs.p50).toBe(BOUNDS[300]);
  });

  it('windows the fallbacks and the requests unready instances served, as differences of cumulative reports', () => {
    let now = 300_000;
    const history = new FigureHistory(() => now);
    history.take(report(300_000, { 50: 1 }, { fallbacks: 2, unreadyServed: 7 }), true);
    history.take(report(301_000, { 50: 2 }, { fallbacks: 2, unreadyServed: 10 }), true);
    history.take(report(302_000, { 50: 3 }, { fallbacks: 3, unreadyServed: 10 }), true);
    now = 302_500;
    expect(history.stats({ service: 'web', revision: 'v1', windowMs: 10_000 }, BOUNDS)).toMatchObject({ fallbacks: 3, unreadyServed: 10 });
    expect(history.stats({ service: 'web', revision: 'v1', windowMs: 2000 }, BOUNDS)).toMatchObject({ fallbacks: 1, unreadyServed: 3 });
  });

  it('skips a second whose counts went down (a revision that left a worker and came back)', () => {
    let now = 200_000;
    const history = new FigureHistory(() => now);
    history.take(report(200_000, { 50: 8, 60: 2 }), true);
    history.take(report(201_000, { 50: 3 }), true);
    history.take(report(202_000, { 50: 4 }), true);
    now = 202_500;
    const counts = history.recentLatency({ service: 'web', revision: 'v1', windowMs: 10_000 }, BOUNDS).counts;
    expect([counts[50], counts[60]]).toEqual([9, 2]);
  });
});
