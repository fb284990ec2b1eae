import { describe, expect, it } from 'vitest';
import { initialStatus } from '../../engine/index.js';
import type { RolloutStatus } from '../../engine/index.js';
import type { RevisionTotals } from '../../router/contract/index.js';
import type { CanaryStrategy } from '../../documents/schema.js';
import { GuardLoop, guardTargets, type GuardCandidate } from './guard-loop.js';

const BOUNDS = [1, 2, 5, 10, 20, 50, 100];

const zero = (): RevisionTotals => ({
  requests: 0, responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, failed: 0, upstreamErrors: 0, timeouts: 0, rejected: 0,
  clientErrors: 0, skewErrors: 0, fallbacks: 0, unreadyServed: 0, mirrored: { requests: 0, failures: 0 },
  latency: { boundsMs: BOUNDS, counts: new Array<number>(BOUNDS.length + 1).fill(0) },
});

/** Cumulative counters per revision, as RouterControl.totals reports them, fed by hand. */
class FakeCounters {
  private readonly byRevision = new Map<string, RevisionTotals>();
  serve(revision: string, n: number, status = 200): void {
    const t = structuredClone(this.byRevision.get(revision) ?? zero());
    t.requests += n;
    t.responses[status >= 500 ? '5xx' : '2xx'] += n;
    if (status >= 500) t.failed += n;
    t.latency.counts[2]! += n;
    this.byRevision.set(revision, t);
  }
  totals = (q: { service: string; revision: string }): RevisionTotals => this.byRevision.get(q.revision) ?? zero();
  recentLatency = () => ({ boundsMs: BOUNDS, counts: new Array<number>(BOUNDS.length + 1).fill(0) });
}

const routed: CanaryStrategy = { trafficRouting: {}, steps: [{ setWeight: 10 }, { pause: {} }] };
const canaryStatus = (more: Partial<RolloutStatus> = {}): RolloutStatus => ({ ...initialStatus(0), phase: 'Paused', stableRevision: 'v1', canaryRevision: 'v2', ...more });

function setup(candidates: GuardCandidate[]) {
  let nowMs = 1_000;
  const counters = new FakeCounters();
  const aborts: { service: string; reason: string }[] = [];
  const world = { candidates };
  const loop = new GuardLoop({ counters, candidates: () => world.candidates, abort: (service, reason) => aborts.push({ service, reason }), tickMs: 1000, nowMs: () => nowMs });
  const second = (canary: number, stable: number, canaryStatusCode = 200) => {
    nowMs += 1000;
    counters.serve('v1', stable);
    counters.serve('v2', canary, canaryStatusCode);
    loop.tick();
  };
  return { loop, aborts, world, second };
}

describe('guardTargets', () => {
  it.each([
    ['a routed canary under way is judged', routed, canaryStatus(), 1],
    ['a canary without traffic routing is not', { steps: [{ setWeight: 10 }] }, canaryStatus(), 0],
    ['a static service (no canary strategy) is not', undefined, canaryStatus(), 0],
    ['an aborted canary is not', routed, canaryStatus({ abort: true }), 0],
    ['a degraded rollout is not', routed, canaryStatus({ phase: 'Degraded' }), 0],
    ['no rollout under way is not', routed, canaryStatus({ canaryRevision: 'v1' }), 0],
    ['no status yet is not', routed, undefined, 0],
  ] as [string, CanaryStrategy | undefined, RolloutStatus | undefined, number][])('%s', (_name, strategy, status, n) => {
    expect(guardTargets([{ service: 'api', strategy, status }])).toHaveLength(n);
  });
});

describe('GuardLoop', () => {
  it('leaves a healthy canary alone', () => {
    const { loop, aborts, second } = setup([{ service: 'api', strategy: routed, status: canaryStatus() }]);
    loop.tick();
    for (let i = 0; i < 5; i++) second(20, 180);
    expect(aborts).toEqual([]);
    expect(loop.verdict('api')?.verdict).not.toBe('Failed');
  });

  it('aborts a failing canary once, with the guard\'s reason', () => {
    const { loop, aborts, second } = setup([{ service: 'api', strategy: routed, status: canaryStatus() }]);
    loop.tick();
    second(20, 180, 500);
    second(20, 180, 500);
    expect(aborts).toEqual([{ service: 'api', reason: expect.stringMatching(/^canary error rate 100\.0% vs stable 0\.00%/) as string }]);
    expect(loop.entry('api')).toMatchObject({ id: 'v2.0.guard', kind: 'guard', phase: 'Failed', guard: { canaryRevision: 'v2', failedOn: 'errors' } });
  });

  it('judges a retried canary afresh', () => {
    const { loop, aborts, world, second } = setup([{ service: 'api', strategy: routed, status: canaryStatus() }]);
    loop.tick();
    second(20, 180, 500);
    expect(aborts).toHaveLength(1);
    world.candidates = [{ service: 'api', strategy: routed, status: canaryStatus({ attempt: 1 }) }];
    loop.tick();
    for (let i = 0; i < 3; i++) second(20, 180);
    expect(aborts).toHaveLength(1);
    expect(loop.verdict('api')?.verdict).not.toBe('Failed');
    expect(loop.entry('api')?.id).toBe('v2.1.guard');
  });

  it('holds an abort that could not be committed: the canary is forced to stable and the abort retried until released', () => {
    const { loop, aborts } = setup([]);
    expect(loop.forcesStable('api')).toBe(false);
    expect(loop.holdAbort('api', 'errors')).toBe(true);
    expect(loop.holdAbort('api', 'errors')).toBe(false);
    expect(loop.forcesStable('api')).toBe(true);
    expect(loop.heldAborts()).toEqual(['api']);
    loop.retryHeld();
    expect(aborts).toEqual([{ service: 'api', reason: 'errors' }]);
    expect(loop.releaseAbort('api')).toBe(true);
    expect(loop.releaseAbort('api')).toBe(false);
    expect(loop.forcesStable('api')).toBe(false);
    loop.retryHeld();
    expect(aborts).toHaveLength(1);
  });
});
