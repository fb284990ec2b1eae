import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { RolloutSpec } from '../documents/schema.js';
import { applyOperation } from './operations.js';
import { reconcile } from './reconcile.js';
import { EngineInputError, OperationError, type Operation, type RolloutStatus } from './types.js';

const spec: RolloutSpec = { replicas: 4, strategy: { canary: { trafficRouting: {}, analysis: { templates: [{ templateName: 'bg' }] }, steps: [{ setWeight: 25 }, { pause: { duration: '1m' } }, { analysis: { templates: [{ templateName: 'a' }] } }, { pause: {} }] } } };

/** Drives a rollout of v2 over stable v1 until `done`, then returns the simulation. */
function midRollout(done: (s: Sim) => boolean, rolloutSpec: RolloutSpec = spec): Sim {
  const sim = new Sim(rolloutSpec, 'v1');
  sim.analysis = ({ kind }) => (kind === 'background' ? 'Running' : 'Successful');
  sim.until((s) => s.status?.phase === 'Healthy');
  sim.desiredRevision = 'v2';
  return sim.until(done);
}

describe('reconcile is idempotent', () => {
  it.each([
    ['waiting for canary instances', (s: Sim) => s.status?.canaryRevision === 'v2'],
    ['in a timed pause', (s: Sim) => s.status?.currentStepIndex === 1],
    ['in the analysis step', (s: Sim) => s.status?.currentStepIndex === 2],
    ['at the manual gate', (s: Sim) => s.status?.currentStepIndex === 3],
    ['completed, old stable waiting for its scale-down', (s: Sim) => s.status?.currentStepIndex === 3 && (s.operate({ type: 'promote' }), true)],
  ])('%s: the same world and its own status give the same status and no new side effects', (_n, done) => {
    const sim = midRollout(done);
    const input = { spec, observed: sim.observed(), now: sim.now, desiredRevision: sim.desiredRevision };
    const first = reconcile({ ...input, status: sim.status });
    const second = reconcile({ ...input, status: first.status });
    expect(second.status).toEqual(first.status);
    expect(second.actions.filter((a) => a.type !== 'scale' && a.type !== 'setTraffic')).toEqual([]);
    expect(second.actions.filter((a) => a.type === 'setTraffic')).toEqual(first.actions.filter((a) => a.type === 'setTraffic'));
  });
});

describe('requeueAfterMs', () => {
  it('names the end of a timed pause', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 1);
    const r = reconcile({ spec, status: sim.status, observed: sim.observed(), now: sim.now + 10_000, desiredRevision: 'v2' });
    expect(r.requeueAfterMs).toBe(sim.status!.pauseConditions[0]!.startedAtMs + 60_000 - (sim.now + 10_000));
  });
  it('names the progress deadline while waiting for instances', () => {
    const r = reconcile({ spec, observed: { revisions: [] }, now: 0, desiredRevision: 'v1' });
    expect(r.requeueAfterMs).toBe(600_001);
  });
  it('is absent when nothing waits on time', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 3);
    expect(sim.lastRequeueMs).toBeUndefined();
  });
});

describe('revision history', () => {
  it('retires idle revisions beyond revisionHistoryLimit, oldest first', () => {
    const revisions = ['r1', 'r2', 'r3', 'v1'].map((name) => ({ name, replicas: name === 'v1' ? 4 : 0, readyReplicas: name === 'v1' ? 4 : 0 }));
    const first = reconcile({ spec: { ...spec, revisionHistoryLimit: 1 }, observed: { revisions }, now: 0, desiredRevision: 'v1' });
    expect(first.actions.filter((a) => a.type === 'retireRevision')).toEqual([{ type: 'retireRevision', revision: 'r1' }, { type: 'retireRevision', revision: 'r2' }]);
  });
});

describe('reconcile: bad input', () => {
  it.each([
    ['an empty desiredRevision', { desiredRevision: '' }, /desiredRevision: must be a non-empty revision name/],
    ['a time that is not a number', { now: Number.NaN }, /now: must be epoch milliseconds, got NaN/],
    ['no strategy', { spec: { strategy: {} } }, /spec.strategy: exactly one of canary, blueGreen is required/],
    ['a bad pause duration', { spec: { strategy: { canary: { steps: [{ pause: { duration: '5 days' } }] } } } }, /steps\[0\]\.pause\.duration: not a duration/],
  ] as const)('%s is refused with a clear message', (_n, override, message) => {
    const run = () => reconcile({ spec, observed: { revisions: [] }, now: 0, desiredRevision: 'v1', ...override } as Parameters<typeof reconcile>[0]);
    expect(run).toThrow(EngineInputError);
    expect(run).toThrow(message);
  });
});

describe('operations that make no sense throw OperationError with a code', () => {
  const healthy = () => new Sim(spec, 'v1').until((s) => s.status?.phase === 'Healthy').status!;
  const at = (done: (s: Sim) => boolean) => midRollout(done).status!;
  const aborted = () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'abort' });
    return sim.status!;
  };
  const rolling: RolloutSpec = { replicas: 2, strategy: { canary: {} } };
  it.each([
    ['promote with nothing in progress', spec, healthy, { type: 'promote' }, 'NothingToPromote'],
    ['promote full with nothing in progress', spec, healthy, { type: 'promoteFull' }, 'NothingToPromote'],
    ['promote an aborted rollout', spec, aborted, { type: 'promote' }, 'Aborted'],
    ['promote a rolling update', rolling, () => at((s) => s.status?.canaryRevision === 'v2'), { type: 'promote' }, 'NothingToPromote'],
    ['retry a rollout that is not aborted', spec, () => at((s) => s.status?.currentStepIndex === 1), { type: 'retry' }, 'NotAborted'],
    ['abort twice', spec, aborted, { type: 'abort' }, 'AlreadyAborted'],
    ['abort with nothing in progress', spec, healthy, { type: 'abort' }, 'NotInProgress'],
    ['pause with nothing in progress', spec, healthy, { type: 'pause' }, 'NotInProgress'],
    ['pause an aborted rollout', spec, aborted, { type: 'pause' }, 'Aborted'],
    ['resume a rollout nobody paused', spec, () => at((s) => s.status?.currentStepIndex === 1), { type: 'resume' }, 'NotPaused'],
    ['a weight above 100', spec, () => at((s) => s.status?.currentStepIndex === 1), { type: 'setWeight', weight: 101 }, 'InvalidWeight'],
    ['a fractional weight', spec, () => at((s) => s.status?.currentStepIndex === 1), { type: 'setWeight', weight: 2.5 }, 'InvalidWeight'],
    ['a manual weight without a router', rolling, () => at((s) => s.status?.canaryRevision === 'v2'), { type: 'setWeight', weight: 10 }, 'NeedsTrafficRouting'],
    ['a manual weight with nothing in progress', spec, healthy, { type: 'setWeight', weight: 10 }, 'NotInProgress'],
    ['a manual weight on an aborted rollout', spec, aborted, { type: 'setWeight', weight: 10 }, 'Aborted'],
  ] as [string, RolloutSpec, () => RolloutStatus, Operation, string][])('%s → %s', (_n, s, status, operation, code) => {
    let caught: unknown;
    try { applyOperation({ spec: s, status: status(), operation, now: 0 }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(OperationError);
    expect((caught as OperationError).code).toBe(code);
    expect((caught as OperationError).message.length).toBeGreaterThan(10);
  });

  it('pause twice → AlreadyPaused; resume clears it', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'pause' });
    expect(() => sim.operate({ type: 'pause' })).toThrow(expect.objectContaining({ code: 'AlreadyPaused' }));
    sim.operate({ type: 'resume' });
    expect(sim.status?.pauseConditions.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
  });

  it('promote on a blue-green that is not waiting for promotion → NothingToPromote', () => {
    const bg: RolloutSpec = { replicas: 2, strategy: { blueGreen: { autoPromotionEnabled: false } } };
    const sim = new Sim(bg, 'v1', { readyAfterTicks: 5 }).until((s) => s.status?.phase === 'Healthy');
    sim.desiredRevision = 'v2';
    sim.tick();
    expect(() => sim.operate({ type: 'promote' })).toThrow(expect.objectContaining({ code: 'NothingToPromote' }));
  });

  it('a user pause holds the steps until resumed', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'pause' });
    sim.run(120);
    expect(sim.status).toMatchObject({ currentStepIndex: 1, phase: 'Paused' });
    sim.operate({ type: 'resume' });
    sim.until((s) => s.status?.currentStepIndex === 3);
  });

  it('promote full skips every remaining step and analysis', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 1);
    sim.operate({ type: 'promoteFull' });
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.actions.filter((a) => a.type === 'startAnalysis' && a.kind === 'step')).toEqual([]);
  });
});

describe('time passing alone', () => {
  it.each([
    ['healthy, nothing in progress', (s: Sim) => (s.desiredRevision = 'v1', s.status?.phase === 'Healthy')],
    ['waiting for canary instances', (s: Sim) => s.status?.canaryRevision === 'v2'],
    ['in the analysis step', (s: Sim) => s.status?.currentStepIndex === 2],
    ['at the manual gate', (s: Sim) => s.status?.currentStepIndex === 3],
  ])('%s: a later pass over the same world leaves the status as it was (nothing for the controller to write)', (_n, done) => {
    const sim = midRollout(done);
    const input = { spec, observed: sim.observed(), desiredRevision: sim.desiredRevision };
    const first = reconcile({ ...input, status: sim.status, now: sim.now });
    const later = reconcile({ ...input, status: first.status, now: sim.now + 30_000 });
    expect(later.status).toEqual(first.status);
  });

  it('a long pause does not count toward the progress deadline once resumed', () => {
    const sim = midRollout((s) => s.status?.currentStepIndex === 3);
    const observed = sim.observed();
    let status = sim.status!;
    for (let t = 0; t <= 700_000; t += 100_000) status = reconcile({ spec, observed, status, now: sim.now + t, desiredRevision: 'v2' }).status;
    const resumed = applyOperation({ spec, status, operation: { type: 'promote' }, now: sim.now + 700_000 }).status;
    const after = reconcile({ spec, observed, status: resumed, now: sim.now + 700_500, desiredRevision: 'v2' });
    expect(after.status.progress.deadlineExceeded).toBe(false);
    expect(after.status.phase).not.toBe('Degraded');
  });
});
