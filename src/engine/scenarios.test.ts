import { describe, expect, it } from 'vitest';
import { Sim, dedupe } from '../../test/fixtures/engine/simulated-world.js';
import type { CanaryStrategy, RolloutSpec } from '../documents/schema.js';

const canarySpec = (canary: CanaryStrategy, replicas = 4, more: Partial<RolloutSpec> = {}): RolloutSpec => ({ replicas, strategy: { canary }, ...more });

/** A world where v1 is deployed, stable and healthy. */
function stableOn(spec: RolloutSpec, options: ConstructorParameters<typeof Sim>[2] = {}): Sim {
  const sim = new Sim(spec, 'v1', options);
  sim.until((s) => s.status?.phase === 'Healthy');
  return sim;
}

describe('first revision', () => {
  it('is deployed at full scale and becomes stable immediately', () => {
    const sim = new Sim(canarySpec({ steps: [{ setWeight: 20 }, { pause: {} }] }, 3), 'v1');
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v1', phase: 'Progressing' });
    expect(sim.replicasOf('v1')).toBe(3);
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.events('InitialDeploy')).toHaveLength(1);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
  });
});

describe('rolling update (canary without steps)', () => {
  it('replaces instances within maxSurge and maxUnavailable and ends with the new revision stable', () => {
    const sim = stableOn(canarySpec({}, 4));
    sim.desiredRevision = 'v2';
    const from = sim.log.length;
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v2');
    const moves = dedupe(sim.log.slice(from - 1).map((l) => [l.replicas.v1, l.replicas.v2 ?? 0]));
    // 4 instances at 25%: surge 1, unavailable 1.
    expect(moves).toEqual([[4, 0], [3, 1], [2, 2], [1, 3], [0, 4]]);
    for (const l of sim.log) expect((l.replicas.v1 ?? 0) + (l.replicas.v2 ?? 0)).toBeLessThanOrEqual(5);
    expect(sim.replicasOf('v1')).toBe(0);
  });
});

describe('canary with traffic routing and every step type', () => {
  const steps: CanaryStrategy['steps'] = [
    { setCanaryScale: { replicas: 1 } },
    { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] } },
    { setMirrorRoute: { name: 'shadow', percentage: 50, match: [{ method: { exact: 'GET' } }] } },
    { setWeight: 20 },
    { pause: { duration: '30s' } },
    { analysis: { templates: [{ templateName: 'errors' }] } },
    { setCanaryScale: { matchTrafficWeight: true } },
    { setWeight: 60 },
    { setHeaderRoute: { name: 'beta' } },
    { setMirrorRoute: { name: 'shadow' } },
    { pause: {} },
  ];

  it('walks the steps: weights, routes, scale, pause timer, analysis, manual gate, promotion', () => {
    const sim = stableOn(canarySpec({ trafficRouting: { builtin: {} }, steps }, 10));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 4 && s.traffic?.canaryWeight === 20);
    // setCanaryScale stays in force over later setWeight steps until matchTrafficWeight (as Argo).
    expect(sim.replicasOf('v2')).toBe(1);
    expect(sim.replicasOf('v1')).toBe(10);
    expect(sim.traffic?.headerRoutes).toEqual([{ name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] }]);
    expect(sim.traffic?.mirrorRoutes).toEqual([{ name: 'shadow', percentage: 50, match: [{ method: { exact: 'GET' } }] }]);
    expect(sim.status?.phase).toBe('Paused');
    expect(sim.lastRequeueMs).toBe(30_000);
    const pausedAt = sim.now;
    sim.until((s) => s.status?.currentStepIndex === 5);
    expect(sim.now - pausedAt).toBeGreaterThanOrEqual(30_000);
    expect(sim.actions.filter((a) => a.type === 'startAnalysis')).toMatchObject([{ kind: 'step', name: 'v2.0.step.5', revision: 'v2' }]);
    sim.until((s) => s.status?.currentStepIndex === 10);
    expect(sim.status?.phase).toBe('Paused');
    expect(sim.traffic).toMatchObject({ canaryWeight: 60, headerRoutes: [], mirrorRoutes: [] });
    expect(sim.replicasOf('v2')).toBe(6);
    sim.run(20);
    expect(sim.status?.currentStepIndex).toBe(10);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.weights()).toEqual([0, 20, 60, 0]);
    expect(sim.trafficStates().slice(-2)).toEqual(['v1:60', 'v2:0']);
    // The old stable stays up for scaleDownDelaySeconds (30s by default with a router).
    expect(sim.status?.phase).toBe('Completed');
    expect(sim.replicasOf('v1')).toBe(10);
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.replicasOf('v1')).toBe(0);
    expect(sim.events('RolloutStepCompleted')).toHaveLength(10);
    expect(sim.events('RolloutPromoted')).toEqual(['RolloutPromoted: Promoted past step 11/11: pause until promoted']);
  });

  it('shifts traffic only once the canary instances are ready', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 50 }, { pause: {} }] }, 4), { readyAfterTicks: 3 });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.traffic?.canaryWeight === 50);
    const shiftedAt = sim.log.findIndex((l) => l.weight === 50);
    expect(sim.log[shiftedAt - 1]?.weight).toBe(0);
    expect(sim.readyOf('v2')).toBe(2);
  });
});

describe('basic canary (no traffic routing): instances are the split', () => {
  it('sizes canary and stable from setWeight within surge and unavailability', () => {
    const sim = stableOn(canarySpec({ maxSurge: 1, maxUnavailable: 0, steps: [{ setWeight: 50 }, { pause: {} }] }, 4));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    expect([sim.replicasOf('v1'), sim.replicasOf('v2')]).toEqual([2, 2]);
    expect(sim.traffic?.canaryWeight).toBe(50);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.phase === 'Healthy');
    expect([sim.replicasOf('v1'), sim.replicasOf('v2')]).toEqual([0, 4]);
    for (const l of sim.log) expect((l.replicas.v1 ?? 0) + (l.replicas.v2 ?? 0)).toBeLessThanOrEqual(5);
  });
});

describe('blue-green', () => {
  const bgSpec = (blueGreen: NonNullable<RolloutSpec['strategy']['blueGreen']>, replicas = 3): RolloutSpec => ({ replicas, strategy: { blueGreen } });

  it('auto-promotes: preview at previewReplicaCount, analyses, timed gate, switch, old scaled down after the delay', () => {
    const sim = stableOn(bgSpec({
      previewReplicaCount: 1, autoPromotionSeconds: 20, scaleDownDelaySeconds: 10,
      prePromotionAnalysis: { templates: [{ templateName: 'smoke' }] }, postPromotionAnalysis: { templates: [{ templateName: 'errors' }] },
    }));
    sim.analysis = ({ age }) => (age >= 3000 ? 'Successful' : 'Running');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    expect(sim.replicasOf('v2')).toBe(1);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', previewRevision: 'v2' });
    expect(sim.actions.filter((a) => a.type === 'startAnalysis').map((a) => a.type === 'startAnalysis' && a.kind)).toEqual(['prePromotion']);
    const gateAt = sim.now;
    sim.until((s) => s.traffic?.stableRevision === 'v2');
    expect(sim.now - gateAt).toBeGreaterThanOrEqual(20_000);
    expect(sim.replicasOf('v2')).toBe(3);
    expect(sim.status?.stableRevision).toBe('v1');
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.actions.filter((a) => a.type === 'startAnalysis').map((a) => a.type === 'startAnalysis' && a.kind)).toEqual(['prePromotion', 'postPromotion']);
    expect(sim.replicasOf('v1')).toBe(3);
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.replicasOf('v1')).toBe(0);
    expect(dedupe(sim.log.map((l) => l.trafficStable))).toEqual(['v1', 'v2']);
  });

  it('waits for a person with autoPromotionEnabled: false', () => {
    const sim = stableOn(bgSpec({ autoPromotionEnabled: false }));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.run(100);
    expect(sim.traffic?.stableRevision).toBe('v1');
    expect(sim.lastRequeueMs).toBeUndefined();
    sim.operate({ type: 'promote' });
    sim.tick();
    expect(sim.traffic?.stableRevision).toBe('v2');
    expect(sim.status?.stableRevision).toBe('v2');
  });

  it('switches straight away by default, and a failed post-promotion analysis switches back', () => {
    const sim = stableOn(bgSpec({ postPromotionAnalysis: { templates: [{ templateName: 'errors' }] }, abortScaleDownDelaySeconds: 5 }));
    sim.analysis = () => 'Failed';
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(dedupe(sim.log.map((l) => l.trafficStable))).toEqual(['v1', 'v2', 'v1']);
    expect(sim.status).toMatchObject({ abort: true, reason: 'AnalysisFailed', stableRevision: 'v1' });
    expect(sim.replicasOf('v2')).toBe(3);
    sim.run(6);
    expect(sim.replicasOf('v2')).toBe(0);
    expect(sim.replicasOf('v1')).toBe(3);
  });
});

describe('abort and retry', () => {
  const spec = canarySpec({ trafficRouting: {}, steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 70 }, { pause: {} }] }, 10);

  it('abort puts all traffic on stable at once and scales the canary down after abortScaleDownDelaySeconds', () => {
    const sim = stableOn(spec);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    const actions = sim.operate({ type: 'abort' });
    expect(actions.find((a) => a.type === 'setTraffic')).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    sim.tick();
    expect(sim.status).toMatchObject({ phase: 'Degraded', abort: true, currentStepIndex: 0 });
    expect(sim.replicasOf('v2')).toBe(3);
    expect(sim.lastRequeueMs).toBe(30_000);
    sim.run(31);
    expect(sim.replicasOf('v2')).toBe(0);
    expect(sim.replicasOf('v1')).toBe(10);
    expect(sim.traffic?.canaryWeight).toBe(0);
  });

  it('retry restarts at step 0 with fresh analysis runs', () => {
    const withAnalysis = canarySpec({ trafficRouting: {}, steps: [{ setWeight: 30 }, { analysis: { templates: [{ templateName: 'errors' }] } }, { setWeight: 70 }] }, 10);
    const sim = stableOn(withAnalysis);
    sim.analysis = () => 'Failed';
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status?.message).toMatch(/step analysis v2\.0\.step\.1 failed/);
    expect(sim.traffic?.canaryWeight).toBe(0);
    sim.analysis = () => 'Successful';
    sim.operate({ type: 'retry' });
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.actions.filter((a) => a.type === 'startAnalysis').map((a) => a.type === 'startAnalysis' && a.name)).toEqual(['v2.0.step.1', 'v2.1.step.1']);
    expect(sim.weights()).toEqual([0, 30, 0, 30, 70, 0]);
  });

  it('abortScaleDownDelaySeconds: 0 leaves the aborted canary up', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, abortScaleDownDelaySeconds: 0, steps: [{ setWeight: 30 }, { pause: {} }] }, 10));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'abort' });
    sim.run(100);
    expect(sim.replicasOf('v2')).toBe(3);
    expect(sim.traffic?.canaryWeight).toBe(0);
  });
});

describe('new revisions during a rollout', () => {
  const spec = canarySpec({ trafficRouting: {}, steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }] }, 4);

  it('a newer revision supersedes the canary: restart at step 0, stable untouched, old canary scaled down', () => {
    const sim = stableOn(spec);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.currentStepIndex === 3);
    expect(sim.replicasOf('v2')).toBe(2);
    sim.desiredRevision = 'v3';
    sim.tick();
    expect(sim.status).toMatchObject({ canaryRevision: 'v3', stableRevision: 'v1', currentStepIndex: 0 });
    expect(sim.replicasOf('v2')).toBe(0);
    expect(sim.replicasOf('v1')).toBe(4);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v3', canaryWeight: 0 });
    expect(sim.events('RolloutSuperseded')).toHaveLength(1);
    sim.until((s) => s.status?.currentStepIndex === 1);
    expect(sim.traffic?.canaryWeight).toBe(25);
  });

  it('going back to the stable revision is an immediate rollback with no steps', () => {
    const sim = stableOn(spec);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.currentStepIndex === 3);
    sim.desiredRevision = 'v1';
    sim.tick();
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(sim.replicasOf('v2')).toBe(0);
    expect(sim.status).toMatchObject({ canaryRevision: 'v1', stableRevision: 'v1', currentStepIndex: 4 });
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.events('RollbackToStable')).toHaveLength(1);
    expect(sim.events('RolloutStepCompleted')).toHaveLength(2);
  });

  it('undo to an older revision is a new rollout through the steps', () => {
    const sim = stableOn(spec);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'promoteFull' });
    sim.until((s) => s.status?.phase === 'Healthy');
    sim.desiredRevision = 'v1';
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v2', canaryRevision: 'v1', currentStepIndex: 0 });
    sim.until((s) => s.status?.currentStepIndex === 1);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v2', canaryRevision: 'v1', canaryWeight: 25 });
  });
});

describe('progress deadline', () => {
  it('no progress for progressDeadlineSeconds: Degraded, traffic on stable; progress later resumes the rollout', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 50 }, { pause: {} }] }, 4, { progressDeadlineSeconds: 60 }), { tickMs: 5000 });
    sim.broken.add('v2');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({ reason: 'ProgressDeadlineExceeded', abort: false });
    expect(sim.traffic?.canaryWeight).toBe(0);
    expect(sim.replicasOf('v1')).toBe(4);
    sim.broken.delete('v2');
    sim.until((s) => s.status?.currentStepIndex === 1);
    expect(sim.traffic?.canaryWeight).toBe(50);
    expect(sim.status?.phase).toBe('Paused');
  });

  it('progressDeadlineAbort aborts the rollout', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 50 }] }, 4, { progressDeadlineSeconds: 60, progressDeadlineAbort: true }), { tickMs: 5000 });
    sim.broken.add('v2');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({ abort: true, reason: 'ProgressDeadlineExceeded' });
  });

  it('a pause does not count against the deadline', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 50 }, { pause: {} }] }, 4, { progressDeadlineSeconds: 60 }), { tickMs: 5000 });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.run(50);
    expect(sim.status?.phase).toBe('Paused');
  });
});

describe('manual weight', () => {
  it('holds a hand-set split until the next promote, then the steps take over', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 80 }, { pause: {} }] }, 10));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'setWeight', weight: 40 });
    sim.until((s) => s.traffic?.canaryWeight === 40);
    expect(sim.readyOf('v2')).toBeGreaterThanOrEqual(4);
    sim.run(5);
    expect(sim.traffic?.canaryWeight).toBe(40);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.currentStepIndex === 3);
    expect(sim.weights()).toEqual([0, 10, 40, 80]);
  });
});

describe('analysis outcomes', () => {
  it('an inconclusive step analysis pauses until promoted', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'e' }] } }, { setWeight: 60 }] }, 10));
    sim.analysis = () => 'Inconclusive';
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    expect(sim.status?.reason).toBe('InconclusiveAnalysis');
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.stableRevision === 'v2');
  });

  it('background analysis starts at startingStep and its failure aborts', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, analysis: { templates: [{ templateName: 'bg' }], startingStep: 2 }, steps: [{ setWeight: 20 }, { pause: { duration: 10 } }, { setWeight: 40 }, { pause: {} }] }, 10));
    sim.analysis = ({ age }) => (age > 5000 ? 'Failed' : 'Running');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.actions.some((a) => a.type === 'startAnalysis'));
    expect(sim.status?.currentStepIndex).toBeGreaterThanOrEqual(2);
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status?.message).toMatch(/background analysis v2\.0\.background failed/);
    expect(sim.traffic?.canaryWeight).toBe(0);
  });

  it('background analysis is stopped when the rollout completes', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, analysis: { templates: [{ templateName: 'bg' }] }, steps: [{ setWeight: 50 }] }, 2));
    sim.analysis = () => 'Running';
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.actions.filter((a) => a.type === 'stopAnalysis')).toEqual([{ type: 'stopAnalysis', name: 'v2.0.background' }]);
  });

  it('a reference to a missing template aborts with its name', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'nope' }] } }] }, 2), { templates: [] });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({ reason: 'AnalysisTemplateNotFound', message: 'analysis template "nope" not found (step analysis)' });
  });
});
