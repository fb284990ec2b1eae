import { describe, expect, it } from 'vitest';
import type { LatencyCounts, RevisionTotals } from '../../router/contract/index.js';
import { GuardWatch, type GuardTarget } from './guard-watch.js';

const BOUNDS = [1, 2, 5, 10, 20, 50, 100];

/** Cumulative router counters of one revision, fed by hand. */
class FakeRevision {
  totals: RevisionTotals = {
    requests: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    failed: 0,
    upstreamErrors: 0,
    timeouts: 0,
    rejected: 0,
    clientErrors: 0,
    skewErrors: 0,
    fallbacks: 0,
    unreadyServed: 0,
    mirrored: { requests: 0, failures: 0 },
    latency: { boundsMs: BOUNDS, counts: new Array<number>(BOUNDS.length + 1).fill(0) },
  };

  serve(n: number, latencyMs: number, status = 200): void {
    this.totals = structuredClone(this.totals);
    this.totals.requests += n;
    this.totals.responses[status >= 500 ? '5xx' : '2xx'] += n;
    if (status >= 500) this.totals.failed += n;
    const bin = BOUNDS.findIndex((b) => latencyMs <= b);
    this.totals.latency.counts[bin < 0 ? BOUNDS.length : bin]! += n;
  }
}

const target = (attempt = 0): GuardTarget => ({
  service: 'api',
  stableRevision: '1',
  canaryRevision: '2',
  attempt,
  strategy: { steps: [{ setWeight: 10 }, { pause: {} }] },
});

function setup(reference?: LatencyCounts) {
  const revisions = { '1': new FakeRevision(), '2': new FakeRevision() };
  const watch = new GuardWatch({
    totals: (_service, revision) => revisions[revision as '1' | '2'].totals,
    ...(reference ? { recentLatency: () => reference } : {}),
  });
  return { stable: revisions['1'], canary: revisions['2'], watch };
}

describe('GuardWatch', () => {
  it('fails a canary returning 500s and names the service once', () => {
    const { stable, canary, watch } = setup();
    expect(watch.tick([target()])).toEqual([]);
    stable.serve(180, 4);
    canary.serve(20, 4, 500);
    const failed = watch.tick([target()]);
    expect(failed.map((f) => [f.service, f.result.failedOn])).toEqual([['api', 'errors']]);
    expect(watch.tick([target()])).toEqual([]);
    expect(watch.verdict('api')?.verdict).toBe('Failed');
  });

  it('judges latency from the first tick when stable\'s recent latencies are known', () => {
    const counts = new Array<number>(BOUNDS.length + 1).fill(0);
    counts[BOUNDS.indexOf(5)] = 1_000;
    const { stable, canary, watch } = setup({ boundsMs: BOUNDS, counts });
    watch.tick([target()]);
    stable.serve(180, 4);
    canary.serve(20, 40);
    expect(watch.tick([target()]).map((f) => f.result.failedOn)).toEqual(['latency']);
  });

  it('waits for enough stable traffic to fix the latency threshold without them', () => {
    const { stable, canary, watch } = setup();
    watch.tick([target()]);
    stable.serve(180, 4);
    canary.serve(60, 40);
    expect(watch.tick([target()])).toEqual([]);
    expect(watch.verdict('api')?.reason).toMatch(/latency not judged: fixing the threshold from stable \(180\/200/);
  });

  it('judges a retried canary afresh and forgets services no longer under way', () => {
    const { stable, canary, watch } = setup();
    watch.tick([target()]);
    stable.serve(180, 4);
    canary.serve(20, 4, 500);
    expect(watch.tick([target()])).toHaveLength(1);
    watch.tick([target(1)]);
    stable.serve(180, 4);
    canary.serve(20, 4);
    expect(watch.tick([target(1)])).toEqual([]);
    expect(watch.verdict('api')?.verdict).not.toBe('Failed');
    watch.tick([]);
    expect(watch.verdict('api')).toBeUndefined();
  });

  it('leaves a canary alone when its guard is turned off', () => {
    const { stable, canary, watch } = setup();
    const off: GuardTarget = { ...target(), strategy: { ...target().strategy, guard: { enabled: false } } };
    watch.tick([off]);
    stable.serve(180, 4);
    canary.serve(20, 4, 500);
    expect(watch.tick([off])).toEqual([]);
    expect(watch.verdict('api')).toBeUndefined();
  });

  it('keeps the last verdict as an analysis entry after the canary stops being judged (aborted)', () => {
    const { stable, canary, watch } = setup();
    watch.tick([target()]);
    stable.serve(180, 4);
    canary.serve(20, 4, 500);
    watch.tick([target()]);
    watch.tick([]);
    expect(watch.verdict('api')).toBeUndefined();
    const entry = watch.entry('api');
    expect(entry).toMatchObject({
      id: '2.0.guard', kind: 'guard', phase: 'Failed', metrics: [],
      guard: { canaryRevision: '2', canary: { requests: 20, errors: 20, errorRate: 1 }, stable: { requests: 180, errors: 0, errorRate: 0 }, failedOn: 'errors' },
    });
    expect(entry?.message).toMatch(/^canary error rate 100\.0% vs stable 0\.00%/);
    expect(watch.entry('web')).toBeUndefined();
  });
});
