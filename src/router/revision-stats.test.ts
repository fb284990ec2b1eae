import { describe, expect, it } from 'vitest';
import { binUpperMs, latencyBin, RevisionCounters } from './revision-stats.js';

describe('latency bins', () => {
  it.each([
    // ms, bin upper bound is ≥ the value and within 4.4 % of it
    [0.05], [0.3], [1], [1.5], [7.3], [42], [250], [999], [12_345], [100_000],
  ])('%f ms lands in a bin whose upper bound is within 4.4%%', (ms) => {
    const upper = binUpperMs(latencyBin(ms));
    expect(upper).toBeGreaterThanOrEqual(ms * 0.9999);
    expect(upper / ms).toBeLessThan(1.044);
  });

  it('clamps zero, negative and huge values', () => {
    expect(latencyBin(0)).toBe(0);
    expect(latencyBin(-1)).toBe(0);
    expect(latencyBin(Number.NaN)).toBe(0);
    expect(latencyBin(1e12)).toBe(399);
  });
});

describe('RevisionCounters', () => {
  it('reads percentiles, classes and rates over a sliding window of 1-second buckets', () => {
    let now = 1_000_000_000;
    const c = new RevisionCounters('web', 'v1', 60, () => now);
    for (let i = 1; i <= 100; i++) {
      c.request();
      c.response(i <= 95 ? 200 : 503, i); // latencies 1..100 ms
    }
    c.upstreamError();
    c.timeout();
    c.rejection();
    now += 10_000;
    const s = c.read(60_000);
    expect(s.requests).toBe(100);
    expect(s.responses).toEqual({ '1xx': 0, '2xx': 95, '3xx': 0, '4xx': 0, '5xx': 5 });
    expect([s.upstreamErrors, s.timeouts, s.rejected]).toEqual([1, 1, 1]);
    expect(s.latencyMs.p50).toBeGreaterThanOrEqual(50);
    expect(s.latencyMs.p50).toBeLessThan(50 * 1.044);
    expect(s.latencyMs.p90).toBeGreaterThanOrEqual(90);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(99);
    expect(s.latencyMs.max).toBe(100);
    expect(s.requestsPerSecond).toBeCloseTo(100 / 10, 5);
    expect(s.windowMs).toBe(60_000);
    // A 5-second window no longer sees them; after the whole window they are gone too.
    expect(c.read(5_000).requests).toBe(0);
    now += 60_000;
    expect(c.read(60_000).requests).toBe(0);
    // Totals (Prometheus) keep counting.
    expect(c.totals.requests).toBe(100);
    expect(c.totals.responses['5xx']).toBe(5);
  });

  it('without a ring (a window of 0 s) keeps the cumulative totals, reads no clock, and refuses windowed reads', () => {
    let clockReads = 0;
    const c = new RevisionCounters('web', 'v1', 0, () => {
      clockReads++;
      return 1_000_000_000;
    });
    const readsAtCreation = clockReads;
    for (let i = 1; i <= 100; i++) {
      c.request();
      c.response(i <= 95 ? 200 : 503, i);
    }
    c.fallback();
    expect(clockReads).toBe(readsAtCreation);
    expect(c.totals.requests).toBe(100);
    expect(c.totals.responses).toEqual({ '1xx': 0, '2xx': 95, '3xx': 0, '4xx': 0, '5xx': 5 });
    expect(c.totals.fallbacks).toBe(1);
    expect(c.totals.latencyBins.reduce((a, b) => a + b, 0)).toBe(100);
    expect(() => c.read(60_000)).toThrow('web/v1 keeps no per-second figures');
    expect(() => c.recentLatency(60_000)).toThrow('web/v1 keeps no per-second figures');
  });

  it('gives the fine latency counts of the recent window only', () => {
    let now = 1_000;
    const c = new RevisionCounters('web', 'v1', 60, () => now);
    c.response(200, 5);
    now += 30_000;
    c.response(200, 50);
    c.response(500, 50);
    const recent = c.recentLatency(10_000);
    expect(recent.reduce((a, b) => a + b, 0)).toBe(2);
    expect(recent[latencyBin(50)]).toBe(2);
    expect(c.recentLatency(60_000).reduce((a, b) => a + b, 0)).toBe(3);
    now += 61_000;
    expect(c.recentLatency(60_000).every((n) => n === 0)).toBe(true);
  });

  it('reuses a bucket once the ring wraps around', () => {
    let now = 0;
    const c = new RevisionCounters('web', 'v1', 60, () => now);
    c.request();
    now = 60_000; // same ring slot, next lap
    c.request();
    c.request();
    expect(c.read(60_000).requests).toBe(2);
  });

  it('reports zeros without traffic and clamps the window', () => {
    const c = new RevisionCounters('web', 'v1', 60, () => 5_000);
    const s = c.read(10 * 60_000);
    expect(s).toMatchObject({ requests: 0, requestsPerSecond: 0, windowMs: 60_000, latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 } });
    expect(c.read(1).windowMs).toBe(1000);
  });
});

describe('RevisionCounters keep each second’s bins sparse', () => {
  it('counts every answer exactly, however far apart and in whatever order its latencies come, across the ring’s wrap', () => {
    let now = 2_000_000_000;
    const c = new RevisionCounters('web', 'v1', 60, () => now);
    const expected = new Array<number>(400).fill(0);
    // A deterministic spread: sub-millisecond, typical, and multi-second answers, interleaved.
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let second = 0; second < 90; second++) {
      now = 2_000_000_000 + second * 1000;
      for (let i = 0; i < 40; i++) {
        const ms = [0.02, 0.4, 3, 25, 800, 60_000][Math.floor(next() * 6)]! * (0.5 + next());
        c.request();
        c.response(200, ms);
        // Seconds 31–90 stay in the 60 s window; earlier buckets are reused for them.
        if (second >= 30) expected[latencyBin(ms)]!++;
      }
    }
    expect(c.recentLatency(60_000)).toEqual(expected);
    const total = expected.reduce((a, b) => a + b, 0);
    const rankBin = (q: number) => {
      let seen = 0;
      return expected.findIndex((n) => (seen += n) >= Math.ceil(q * total));
    };
    const s = c.read(60_000);
    expect(s.requests).toBe(total);
    expect(s.latencyMs.p50).toBe(Math.min(binUpperMs(rankBin(0.5)), s.latencyMs.max));
    expect(s.latencyMs.p99).toBe(Math.min(binUpperMs(rankBin(0.99)), s.latencyMs.max));
  });
});
