import { describe, expect, it } from 'vitest';
import type { AnalysisTemplate, CanaryStep, Metric, RolloutSpec } from '../documents/schema.js';
import { describeStep } from './describe.js';
import { planRollout } from './plan.js';

const template = (name: string, metric: Partial<Metric>): AnalysisTemplate => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'AnalysisTemplate', metadata: { name },
  spec: { metrics: [{ name: 'm', provider: { builtin: { metric: 'errorRate' } }, successCondition: 'result < 0.01', ...metric }] },
});
const templates = [
  template('errors', { interval: '30s', count: 5, failureLimit: 2, initialDelay: '10s' }),
  template('bg', { interval: '1m', failureLimit: 0 }),
  template('both', { interval: '10s', count: 3, failureCondition: 'result > 0.05' }),
];

describe('planRollout: canary', () => {
  const spec: RolloutSpec = {
    replicas: 10,
    strategy: { canary: { trafficRouting: {}, analysis: { templates: [{ templateName: 'bg' }], startingStep: 2 }, steps: [
      { setWeight: 20 }, { pause: { duration: '5m' } }, { analysis: { templates: [{ templateName: 'errors' }] } }, { setWeight: 50 }, { pause: {} },
    ] } },
  };
  const plan = planRollout({ spec, templates });

  it('gives per step the weights, the instances and the cumulative finish', () => {
    // step | weight | stable canary | earliest latest
    expect(plan.rows.map((r) => [r.description, r.canaryWeight, r.replicas.stable, r.replicas.canary, r.earliestFinishMs, r.latestFinishMs])).toEqual([
      ['set weight 20%', 20, 10, 2, 0, 0],
      ['pause 5m', 20, 10, 2, 300_000, 300_000],
      ['analysis errors', 20, 10, 2, 430_000, 430_000],
      ['set weight 50%', 50, 10, 5, 430_000, 430_000],
      ['pause until promoted', 50, 10, 5, 430_000, Infinity],
      ['promote: new revision becomes stable', 100, 10, 10, 430_000, Infinity],
    ]);
    expect(plan.strategy).toBe('canary');
    expect(plan.latestFinishMs).toBe(Infinity);
  });

  it('gives the worst-case time from a failure to rollback per step and overall', () => {
    expect(plan.rows.map((r) => r.worstCaseRollbackMs)).toEqual([Infinity, Infinity, 60_000, 60_000, 60_000, Infinity]);
    // errors: 10s + 30s × (2 + 1) = 100s; bg: 0 + 60s × 1 = 60s; the fastest one aborts.
    expect(plan.rows[0]?.rollbackNote).toBe('no analysis covers this step: unbounded, needs a person to abort');
    expect(plan.worstCaseRollbackMs).toBe(Infinity);
    expect(plan.rows[2]?.analyses.map((a) => [a.kind, a.durationMs])).toEqual([['step', 130_000], ['background', Infinity]]);
  });

  it('counts an analysis that can be inconclusive as waiting for a person', () => {
    const p = planRollout({ spec: { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'both' }] } }] } } }, templates });
    expect(p.rows[1]).toMatchObject({ earliestFinishMs: 20_000, latestFinishMs: Infinity, worstCaseRollbackMs: 10_000 });
    expect(p.rows[1]?.rollbackNote).toBe('analysis aborts within 10s; an inconclusive result waits for a person');
  });

  it('notes templates it was not given', () => {
    const p = planRollout({ spec });
    expect(p.notes).toContain('analysis template "errors" not given: its timing is unknown');
    expect(p.rows[2]?.latestFinishMs).toBe(Infinity);
  });

  it('sizes a basic canary by instances within surge', () => {
    const p = planRollout({ spec: { replicas: 4, strategy: { canary: { maxSurge: 1, maxUnavailable: 0, steps: [{ setWeight: 25 }, { setWeight: 50 }] } } } });
    expect(p.rows.map((r) => [r.canaryWeight, r.replicas.stable, r.replicas.canary])).toEqual([[25, 3, 1], [50, 2, 2], [100, 0, 4]]);
  });
});

describe('planRollout: blue-green and rolling', () => {
  it('blue-green with a manual gate never finishes on its own', () => {
    const p = planRollout({ spec: { replicas: 3, strategy: { blueGreen: { autoPromotionEnabled: false, previewReplicaCount: 1 } } } });
    expect(p.rows.map((r) => [r.description, r.canaryWeight, r.replicas.stable, r.replicas.canary, r.latestFinishMs])).toEqual([
      ['preview up: 1 instance, no user traffic', 0, 3, 1, 0],
      ['wait for promote', 0, 3, 1, Infinity],
      ['switch all traffic to the new revision', 100, 3, 3, Infinity],
      ['old revision scaled down after 30s', 100, 0, 3, Infinity],
    ]);
  });

  it('blue-green with auto-promotion and post-promotion analysis', () => {
    const p = planRollout({ spec: { replicas: 3, strategy: { blueGreen: { autoPromotionSeconds: 60, scaleDownDelaySeconds: 10, postPromotionAnalysis: { templates: [{ templateName: 'errors' }] } } } }, templates });
    expect(p.rows.map((r) => [r.earliestFinishMs, r.latestFinishMs])).toEqual([[0, 0], [0, 60_000], [130_000, 190_000], [140_000, 200_000]]);
    // Once the old revision is scaled down the switch is done: that is undo's, not a rollback's.
    expect(p.worstCaseRollbackMs).toBe(100_000);
    expect(p.rows[2]?.worstCaseRollbackMs).toBe(100_000);
  });

  it('a rolling update is one row ending on the new revision', () => {
    const p = planRollout({ spec: { replicas: 4, strategy: { canary: {} } } });
    expect(p).toMatchObject({ strategy: 'rolling', rows: [{ canaryWeight: 100, replicas: { stable: 0, canary: 4 } }] });
  });
});

describe('describeStep', () => {
  it.each([
    [{ setWeight: 20 }, 'set weight 20%'],
    [{ pause: {} }, 'pause until promoted'],
    [{ pause: { duration: '90s' } }, 'pause 1m30s'],
    [{ pause: { duration: 30 } }, 'pause 30s'],
    [{ analysis: { templates: [{ templateName: 'a' }, { templateName: 'b' }] } }, 'analysis a, b'],
    [{ setCanaryScale: { replicas: 1 } }, 'canary scale 1 instance'],
    [{ setCanaryScale: { weight: 30 } }, 'canary scale 30% of replicas'],
    [{ setCanaryScale: { matchTrafficWeight: true } }, 'canary scale matches traffic weight'],
    [{ setHeaderRoute: { name: 'h', match: [{ headerName: 'x-v', headerValue: { exact: '2' } }] } }, 'header route h: header x-v=2 → canary'],
    [{ setHeaderRoute: { name: 'c', match: [{ cookieName: 'beta', cookieValue: { prefix: 'y' } }] } }, 'header route c: cookie beta^=y → canary'],
    [{ setHeaderRoute: { name: 'h' } }, 'remove header route h'],
    [{ setMirrorRoute: { name: 'm', percentage: 10, match: [{ path: { prefix: '/api' } }] } }, 'mirror route m: 10% of matching requests copied to canary'],
    [{ setMirrorRoute: { name: 'm' } }, 'remove mirror route m'],
  ] as [CanaryStep, string][])('%j → %s', (step, text) => expect(describeStep(step)).toBe(text));
});

describe('planRollout: the guard', () => {
  const spec: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: {} }, { analysis: { templates: [{ templateName: 'both' }] } }] } } };

  it('counts the guard in the worst case instead of calling an unguarded step unbounded', () => {
    const p = planRollout({ spec, guard: { restartEverySeconds: 10 } });
    expect(p.rows[0]?.worstCaseRollbackMs).toBe(12_000);
    expect(p.rows[0]?.rollbackNote).toMatch(/^the guard aborts by itself within 12s/);
    expect(p.rows.slice(0, 3).map((r) => r.worstCaseRollbackMs)).toEqual([12_000, 12_000, 12_000]);
    expect(p.rows.map((r) => r.rollbackNote).join('\n')).not.toMatch(/needs a person to abort/);
    expect(p.worstCaseRollbackMs).toBe(12_000);
    expect(p.rollbackNote).toMatch(/the guard aborts by itself/);
  });

  it('keeps an analysis that aborts sooner than the guard', () => {
    const p = planRollout({ spec, templates, guard: { restartEverySeconds: 30 } });
    expect(p.rows[2]).toMatchObject({ worstCaseRollbackMs: 10_000 });
    expect(p.rows[2]?.rollbackNote).toMatch(/^analysis aborts within 10s/);
  });

  it('leaves a step with no canary traffic to analysis alone', () => {
    const p = planRollout({ spec: { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 0 }, { setWeight: 50 }] } } }, guard: { restartEverySeconds: 10 } });
    expect(p.rows.map((r) => r.worstCaseRollbackMs)).toEqual([Infinity, 12_000, Infinity]);
  });
});

describe('plan: route advice', () => {
  it('warns of a header route while the canary has no instance, and notes a mirror route without match removes it', () => {
    const plan = planRollout({ spec: { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [
      { setHeaderRoute: { name: 'testers', match: [{ headerName: 'x-tester', headerValue: { exact: '1' } }] } },
      { pause: {} },
      { setMirrorRoute: { name: 'shadow' } },
      { setWeight: 50 },
    ] } } } });
    expect(plan.rows[0]!.replicas.canary).toBe(0);
    expect(plan.notes).toContain('warning: step 1 (header route testers: header x-tester=1 → canary): route "testers" is still in force at steps[1] (pause) while the canary has no instance (weight 0, no setCanaryScale): requests matching it are served by stable, so testers do not reach the new revision; add a step {setCanaryScale: {replicas: 1}} before it');
    expect(plan.notes).toContain('step 3 (remove mirror route shadow): setMirrorRoute without match removes mirror route "shadow", which no earlier step sets: nothing is mirrored; to mirror every request, give a match such as [{path: {prefix: /}}]');
  });
});
