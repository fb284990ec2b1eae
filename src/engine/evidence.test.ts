/**
 * Steps that judge the canary (pause, analysis) against the evidence it produced: the requests it
 * served during the step, an observation the controller reports. A step that ends with none says
 * so; `guard.minCanaryRequests` makes a timed pause wait for them, up to the progress deadline.
 */
import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { CanaryStrategy, RolloutSpec } from '../documents/schema.js';

const spec = (canary: Partial<CanaryStrategy>, more: Partial<RolloutSpec> = {}): RolloutSpec => ({
  replicas: 2,
  strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 50 }, { pause: { duration: '20s' } }, { setWeight: 100 }], ...canary } },
  ...more,
});

/** v1 stable, then v2 rolled out with the canary serving `perTick` requests a second while it has a weight. */
function rollout(s: RolloutSpec, perTick: number | undefined): Sim {
  const sim = new Sim(s, 'v1');
  sim.until((x) => x.status?.phase === 'Healthy');
  if (perTick !== undefined) {
    sim.canaryRequests = 1_000; // the counter carries whatever it counted before: only the step's share counts
    sim.canaryRequestsPerTick = perTick;
  }
  sim.desiredRevision = 'v2';
  return sim;
}

describe('a step that ends without evidence', () => {
  it('says "promoted without evidence: the canary served 0 requests" in an event and in status', () => {
    const sim = rollout(spec({}), 0);
    sim.until((x) => x.status?.stableRevision === 'v2');
    expect(sim.events('PromotedWithoutEvidence')).toEqual(['PromotedWithoutEvidence: Step 2/3 (pause 20s) ended: promoted without evidence: the canary served 0 requests during it']);
    sim.until((x) => x.status?.phase === 'Healthy');
    expect(sim.status?.message).toMatch(/; promoted without evidence: the canary served 0 requests at step 2\/3$/);
  });

  it('is silent when the canary served requests, and when nothing counts them', () => {
    for (const perTick of [3, undefined]) {
      const sim = rollout(spec({}), perTick);
      sim.until((x) => x.status?.phase === 'Healthy' && x.status.stableRevision === 'v2');
      expect(sim.events('PromotedWithoutEvidence')).toEqual([]);
      expect(sim.status?.message).not.toMatch(/evidence/);
    }
  });

  it('an analysis step that passes over no traffic says so too', () => {
    const sim = rollout(spec({ steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 't' }] } }] }), 0);
    sim.until((x) => x.status?.stableRevision === 'v2');
    expect(sim.events('PromotedWithoutEvidence')[0]).toMatch(/Step 2\/2 \(analysis t\) ended: promoted without evidence: the canary served 0 requests/);
  });
});

describe('guard.minCanaryRequests', () => {
  it.each([
    // requests a second, min, seconds the pause step lasts (20 s of time, then the wait)
    [10, 100, 20],
    [2, 100, 50],
    [1, 30, 30],
    [5, 0, 20],
  ] as const)('at %d requests/s and minCanaryRequests %d the 20s pause ends after %ds', (perTick, min, seconds) => {
    const sim = rollout(spec({ guard: { minCanaryRequests: min } }), perTick);
    sim.until((x) => x.status?.currentStepIndex === 1 && x.status.phase === 'Paused');
    const start = sim.now;
    sim.until((x) => (x.status?.currentStepIndex ?? 0) >= 2);
    // One tick of slack: the pass that sees the step done is one tick after the count arrived.
    expect(Math.round((sim.now - start) / 1000)).toBeGreaterThanOrEqual(seconds);
    expect(Math.round((sim.now - start) / 1000)).toBeLessThanOrEqual(seconds + 2);
    expect(sim.events('PromotedWithoutEvidence')).toEqual([]);
  });

  it('while it waits, the rollout is Progressing and status says how many requests it has', () => {
    const sim = rollout(spec({ guard: { minCanaryRequests: 100 } }), 2);
    sim.until((x) => x.status?.currentStepIndex === 1 && x.status.phase === 'Paused');
    sim.run(25);
    expect(sim.status).toMatchObject({ phase: 'Progressing', currentStepIndex: 1, pauseConditions: [] });
    expect(sim.status?.message).toMatch(/waiting for evidence: the canary served [0-9]+ of 100 requests \(guard\.minCanaryRequests\)/);
    expect(sim.traffic?.canaryWeight).toBe(50);
    expect(sim.events('WaitingForEvidence')).toHaveLength(1);
  });

  it('waits no longer than the progress deadline: then the rollout is Degraded, still on the step, saying why', () => {
    const sim = rollout(spec({ guard: { minCanaryRequests: 100 } }, { progressDeadlineSeconds: 60 }), 0);
    sim.until((x) => x.status?.currentStepIndex === 1 && x.status.phase === 'Paused');
    const start = sim.now;
    sim.until((x) => x.status?.phase === 'Degraded', 200);
    expect((sim.now - start) / 1000).toBeGreaterThanOrEqual(20 + 60);
    expect((sim.now - start) / 1000).toBeLessThanOrEqual(20 + 60 + 3);
    expect(sim.status).toMatchObject({ currentStepIndex: 1, reason: 'ProgressDeadlineExceeded' });
    expect(sim.status?.message).toMatch(/no progress for 60s \(progressDeadlineSeconds\) waiting for evidence: the canary served 0 of 100 requests/);
    expect(sim.status?.stableRevision).toBe('v1');
  });

  it('with progressDeadlineAbort the canary is aborted at the deadline', () => {
    const sim = rollout(spec({ guard: { minCanaryRequests: 100 } }, { progressDeadlineSeconds: 30, progressDeadlineAbort: true }), 0);
    sim.until((x) => x.status?.abort === true, 200);
    expect(sim.status?.stableRevision).toBe('v1');
    expect(sim.events('RolloutAborted')[0]).toMatch(/waiting for evidence: the canary served 0 of 100 requests/);
  });

  it('a person promoting while it waits moves on', () => {
    const sim = rollout(spec({ guard: { minCanaryRequests: 100 } }), 0);
    sim.until((x) => x.status?.phase === 'Progressing' && x.status.currentStepIndex === 1 && (x.status.message ?? '').includes('waiting for evidence'));
    sim.operate({ type: 'promote' });
    sim.until((x) => x.status?.stableRevision === 'v2');
  });
});
