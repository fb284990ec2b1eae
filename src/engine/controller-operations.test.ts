/**
 * The operations the controller decides itself (the guard's abort, the end of a scale-down delay)
 * and a static service's status: engine functions, not status edits in the controller.
 */
import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { RolloutSpec } from '../documents/schema.js';
import { initialStatus } from './context.js';
import { applyOperation, staticServiceStatus } from './operations.js';
import { OperationError } from './types.js';

const spec: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 25 }, { pause: {} }] } } };

function atGate(): Sim {
  const sim = new Sim(spec, 'v1');
  sim.until((s) => s.status?.phase === 'Healthy');
  sim.desiredRevision = 'v2';
  return sim.until((s) => s.status?.currentStepIndex === 1 && s.status.phase === 'Paused');
}

describe('guardAbort', () => {
  it('aborts with the guard as the reason, says so first, and puts all traffic on stable at once', () => {
    const sim = atGate();
    const { status, actions } = applyOperation({ spec, status: sim.status!, operation: { type: 'guardAbort', reason: 'errors 20% vs 0%' }, now: sim.now });
    expect({ abort: status.abort, phase: status.phase, reason: status.reason, message: status.message, weights: status.weights }).toEqual({
      abort: true, phase: 'Degraded', reason: 'GuardFailed', message: 'aborted by the guard: errors 20% vs 0%', weights: { canary: 0, stable: 100 },
    });
    expect(actions.filter((a) => a.type === 'event')).toEqual([
      { type: 'event', level: 'warning', reason: 'GuardFailed', message: 'canary v2 aborted by the guard: errors 20% vs 0%' },
      { type: 'event', level: 'warning', reason: 'RolloutAborted', message: 'Rollout aborted: aborted by the guard: errors 20% vs 0%' },
    ]);
    expect(actions.filter((a) => a.type === 'setTraffic')).toEqual([
      { type: 'setTraffic', stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] },
    ]);
  });

  it.each([
    ['an aborted rollout', 'AlreadyAborted', (sim: Sim) => sim.operate({ type: 'abort' })],
    ['a rollout that is done', 'NotInProgress', (sim: Sim) => sim.operate({ type: 'promoteFull' }) && sim.until((s) => s.status?.stableRevision === 'v2')],
  ])('on %s → %s', (_name, code, prepare) => {
    const sim = atGate();
    prepare(sim);
    let caught: unknown;
    try { applyOperation({ spec, status: sim.status!, operation: { type: 'guardAbort', reason: 'x' }, now: sim.now }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(OperationError);
    expect((caught as OperationError).code).toBe(code);
  });
});

describe('endScaleDownDelay', () => {
  it.each([
    ['a later deadline of that revision comes forward to now', [{ revision: 'v1', atMs: 9_000 }, { revision: 'v0', atMs: 9_000 }], [{ revision: 'v1', atMs: 5_000 }, { revision: 'v0', atMs: 9_000 }]],
    ['an earlier deadline stays', [{ revision: 'v1', atMs: 1_000 }], [{ revision: 'v1', atMs: 1_000 }]],
    ['no deadline of that revision: nothing changes', [{ revision: 'v0', atMs: 9_000 }], [{ revision: 'v0', atMs: 9_000 }]],
  ])('%s', (_name, before, after) => {
    const status = { ...initialStatus(0), stableRevision: 'v2', canaryRevision: 'v2', phase: 'Healthy' as const, scaleDownDeadlines: before };
    const result = applyOperation({ spec, status, operation: { type: 'endScaleDownDelay', revision: 'v1' }, now: 5_000 });
    expect(result).toEqual({ status: { ...status, scaleDownDeadlines: after }, actions: [] });
  });

  it.each([
    ['a later deadline comes forward to atMs', 9_000, 7_000],
    ['an earlier deadline stays', 6_000, 6_000],
  ])('with atMs (the data plane given time to let go): %s', (_name, deadline, after) => {
    const status = { ...initialStatus(0), stableRevision: 'v2', canaryRevision: 'v2', phase: 'Healthy' as const, scaleDownDeadlines: [{ revision: 'v1', atMs: deadline }] };
    const result = applyOperation({ spec, status, operation: { type: 'endScaleDownDelay', revision: 'v1', atMs: 7_000 }, now: 5_000 });
    expect(result.status.scaleDownDeadlines).toEqual([{ revision: 'v1', atMs: after }]);
  });
});

describe('staticServiceStatus', () => {
  it('is Healthy on its one revision with all traffic on it', () => {
    const { status, traffic } = staticServiceStatus({ revision: 'r1', now: 7 });
    expect(status).toEqual({ ...initialStatus(7), phase: 'Healthy', stableRevision: 'r1', canaryRevision: 'r1' });
    expect(traffic).toEqual({ stableRevision: 'r1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
  });
});

describe('revertPromoted (a release aborted after this member finished)', () => {
  // A release member's spec: the old revision is kept 60 s after promotion, an aborted canary 30 s.
  const member: RolloutSpec = { replicas: 2, strategy: { canary: { trafficRouting: {}, scaleDownDelaySeconds: 60, abortScaleDownDelaySeconds: 30, steps: [{ setWeight: 25 }, { pause: {} }] } } };
  const finished = (): Sim => {
    const sim = new Sim(member, 'v1');
    sim.until((s) => s.status?.phase === 'Healthy');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.operate({ type: 'promote' });
    return sim.until((s) => s.status?.stableRevision === 'v2');
  };
  const revert = { type: 'revertPromoted', promoted: 'v2', previous: 'v1', reason: 'release shop aborted: api failed' } as const;

  it('puts all traffic back on the old revision at once and stands aborted on the new one, as the other members do', () => {
    const sim = finished();
    expect(sim.replicasOf('v1')).toBe(2);
    const actions = sim.operate(revert);
    expect({ stable: sim.status!.stableRevision, canary: sim.status!.canaryRevision, abort: sim.status!.abort, phase: sim.status!.phase, reason: sim.status!.reason, message: sim.status!.message, weights: sim.status!.weights, deadlines: sim.status!.scaleDownDeadlines }).toEqual({
      stable: 'v1', canary: 'v2', abort: true, phase: 'Degraded', reason: 'ReleaseAborted', message: 'release shop aborted: api failed', weights: { canary: 0, stable: 100 }, deadlines: [],
    });
    expect(actions.filter((a) => a.type === 'setTraffic')).toEqual([{ type: 'setTraffic', stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] }]);
    expect(sim.events('RevertedToPrevious')).toEqual(['RevertedToPrevious: Switched all traffic back to v1 at once (its instances were still up); v2 stays as an aborted canary']);
    // Later passes keep it so: v1 at full size, v2 kept through the abort delay, then gone.
    sim.run(10);
    expect({ stable: sim.traffic?.stableRevision, weight: sim.traffic?.canaryWeight, v1: sim.replicasOf('v1'), v2: sim.replicasOf('v2'), abort: sim.status!.abort }).toEqual({ stable: 'v1', weight: 0, v1: 2, v2: 2, abort: true });
    sim.run(25);
    expect({ v1: sim.replicasOf('v1'), v2: sim.replicasOf('v2'), stable: sim.status!.stableRevision }).toEqual({ v1: 2, v2: 0, stable: 'v1' });
  });

  it('a retry afterwards rolls the new revision out again from step 1', () => {
    const sim = finished();
    sim.operate(revert);
    sim.operate({ type: 'retry' });
    sim.until((s) => s.status?.phase === 'Paused');
    expect({ step: sim.status!.currentStepIndex, stable: sim.status!.stableRevision, canary: sim.status!.canaryRevision, weight: sim.traffic?.canaryWeight }).toEqual({ step: 1, stable: 'v1', canary: 'v2', weight: 25 });
  });

  it.each([
    ['still rolling out', () => { const sim = new Sim(member, 'v1'); sim.until((s) => s.status?.phase === 'Healthy'); sim.desiredRevision = 'v2'; return sim.until((s) => s.status?.phase === 'Paused'); }, 'NotPromoted', 'revision v2 is not the finished rollout (stable v1, canary v2)'],
    ['the old revision\'s scale-down delay is over', () => finished().run(61), 'NotWarm', 'revision v1 is no longer kept up (its scale-down delay is over): undo rolls back to it with new instances'],
  ])('refused when %s', (_name, prepare, code, message) => {
    const sim = prepare();
    expect(() => sim.operate(revert)).toThrow(expect.objectContaining({ code, message }));
  });

  it('refused without a router: instances are the split, so going back takes a rollout', () => {
    const status = { ...initialStatus(0), stableRevision: 'v2', canaryRevision: 'v2', phase: 'Healthy' as const, scaleDownDeadlines: [{ revision: 'v1', atMs: 9_000 }] };
    expect(() => applyOperation({ spec: { replicas: 2, strategy: { canary: {} } }, status, operation: revert, now: 5_000 })).toThrow(expect.objectContaining({ code: 'NeedsTrafficRouting' }));
  });
});
