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
});

describe('staticServiceStatus', () => {
  it('is Healthy on its one revision with all traffic on it', () => {
    const { status, traffic } = staticServiceStatus({ revision: 'r1', now: 7 });
    expect(status).toEqual({ ...initialStatus(7), phase: 'Healthy', stableRevision: 'r1', canaryRevision: 'r1' });
    expect(traffic).toEqual({ stableRevision: 'r1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
  });
});
