import { describe, expect, it } from 'vitest';
import { ReleaseCounters, RELEASE_TRAFFIC_SECONDS } from './release-counters.js';

const T0 = 1_800_000_000_000;

describe('release traffic window', () => {
  it('counts page loads and requests per side over the last window only, on a fake clock', () => {
    const c = new ReleaseCounters('shop');
    c.served('canary', true, T0);
    c.served('canary', false, T0 + 400);
    c.served('stable', true, T0 + 10_000);
    c.served('stable', false, T0 + 29_999);
    expect(c.recent(30_000, T0 + 29_999)).toEqual({ windowMs: 30_000, pageLoads: { stable: 1, canary: 1 }, requests: { stable: 2, canary: 2 }, skewErrors: 0 });
    // 30 s on, the first second has left the window; a minute on, everything has.
    expect(c.recent(30_000, T0 + 30_000)).toEqual({ windowMs: 30_000, pageLoads: { stable: 1, canary: 0 }, requests: { stable: 2, canary: 0 }, skewErrors: 0 });
    expect(c.recent(30_000, T0 + 60_000).requests).toEqual({ stable: 0, canary: 0 });
  });

  it('forgets a second when its slot comes round again, and caps the window at what it keeps', () => {
    const c = new ReleaseCounters('shop');
    c.served('canary', true, T0);
    c.served('stable', true, T0 + RELEASE_TRAFFIC_SECONDS * 1000);
    const r = c.recent(3_600_000, T0 + RELEASE_TRAFFIC_SECONDS * 1000);
    expect(r.windowMs).toBe(RELEASE_TRAFFIC_SECONDS * 1000);
    expect(r.pageLoads).toEqual({ stable: 1, canary: 0 });
    expect(c.recent(0, T0).windowMs).toBe(1000);
  });

  it('counts skew errors in the window beside the cumulative count and the count per revision', () => {
    const c = new ReleaseCounters('shop');
    c.served('stable', false, T0);
    c.skew('web', 'v1', T0);
    c.skew('web', 'v1', T0 + 5_000);
    c.skew('api', 'v1', T0 + 12_000);
    expect(c.recent(30_000, T0 + 12_000).skewErrors).toBe(3);
    // The traffic of the second a skew error shares is kept too.
    expect(c.recent(30_000, T0 + 12_000).requests.stable).toBe(1);
    // Ten seconds on, only the later two are within a 10 s window; the cumulative count keeps all.
    expect(c.recent(10_000, T0 + 14_000).skewErrors).toBe(2);
    expect(c.recent(30_000, T0 + 60_000).skewErrors).toBe(0);
    expect(c.snapshot().skewErrors).toBe(3);
    expect([...c.skewByRevision.values()]).toEqual([{ service: 'web', revision: 'v1', count: 2 }, { service: 'api', revision: 'v1', count: 1 }]);
  });
});
