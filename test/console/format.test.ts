import { describe, expect, it } from 'vitest';
import { formatAgo, formatClock, formatDuration, formatEta, formatLatency, formatPercent, formatRate, formatRps, formatWeights } from '../../src/console/format.js';

describe('console number formats', () => {
  it('writes durations the way graylane plan does', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(1_200)).toBe('1.2s');
    expect(formatDuration(12_000)).toBe('12s');
    expect(formatDuration(60_000)).toBe('1m');
    expect(formatDuration(90_000)).toBe('1m 30s');
    expect(formatDuration(7_500_000)).toBe('2h 5m');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(-1)).toBe('–');
  });

  it('writes percents with at most one decimal and error rates with the precision small ones need', () => {
    expect(formatPercent(20)).toBe('20%');
    expect(formatPercent(12.5)).toBe('12.5%');
    expect(formatPercent(33.333)).toBe('33.3%');
    expect(formatRate(0)).toBe('0%');
    expect(formatRate(0.0042)).toBe('0.42%');
    expect(formatRate(0.031)).toBe('3.1%');
    expect(formatRate(1)).toBe('100%');
  });

  it('writes rates and latencies, a dash for a latency without traffic', () => {
    expect(formatRps(0)).toBe('0');
    expect(formatRps(3.44)).toBe('3.4');
    expect(formatRps(212.4)).toBe('212');
    expect(formatRps(1_250)).toBe('1.3k');
    expect(formatLatency(null)).toBe('–');
    expect(formatLatency(4.25)).toBe('4.3 ms');
    expect(formatLatency(120.4)).toBe('120 ms');
    expect(formatLatency(1_300)).toBe('1.3 s');
  });

  it('says how long is left, or that a person decides', () => {
    expect(formatEta(90_000, 120_000)).toBe('done in 1m 30s – 2m');
    expect(formatEta(45_000, 45_000)).toBe('done in 45s');
    expect(formatEta(30_000, null)).toBe('waits for a person');
    expect(formatEta(null, null)).toBe('waits for a person');
  });

  it('writes times of day, ages and the weights of revisions', () => {
    expect(formatClock(Date.UTC(2026, 0, 2, 14, 3, 27), 'UTC')).toBe('14:03:27');
    expect(formatAgo(10_000, 12_000)).toBe('just now');
    expect(formatAgo(0, 42_000)).toBe('42s ago');
    expect(formatAgo(0, 3 * 60_000)).toBe('3m ago');
    expect(formatAgo(0, 2 * 3_600_000)).toBe('2h ago');
    expect(formatAgo(0, 4 * 86_400_000)).toBe('4d ago');
    expect(formatWeights([{ role: 'stable', weight: 80 }, { role: 'canary', weight: 20 }])).toBe('stable 80% · canary 20%');
    expect(formatWeights([])).toBe('no revisions');
  });
});
