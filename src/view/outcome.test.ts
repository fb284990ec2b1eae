import { describe, expect, it } from 'vitest';
import type { RolloutStatus } from '../engine/index.js';
import type { RolloutSpec } from '../documents/schema.js';
import type { ReleaseState } from '../engine/release/releases.js';
import { buildReleaseView, buildRolloutView, outcomeOf, type RolloutViewInputs, type ServiceView } from './index.js';

const spec: RolloutSpec = { strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 25 }, { pause: {} }] } } };
const ready = (id: string) => ({ id, state: 'ready', restarts: 0 });
const status = (s: Partial<RolloutStatus>): RolloutStatus => ({ phase: 'Progressing', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 0, pauseConditions: [], ...s }) as RolloutStatus;
const traffic = (canaryWeight: number, canaryRevision = 'bbb') => ({ stableRevision: 'aaa', canaryRevision, canaryWeight, headerRoutes: [], mirrorRoutes: [] });
const inputs = (extra: Partial<RolloutViewInputs>): RolloutViewInputs => ({
  name: 'api', static: false, spec, status: undefined, traffic: undefined, stats: {},
  revisions: [{ name: 'aaa', number: 1, instances: [ready('a1')] }, { name: 'bbb', number: 2, instances: [ready('b1')] }],
  ...extra,
});

describe('done and terminal, decided once in the view', () => {
  const rows: [string, Partial<RolloutViewInputs>, boolean, boolean][] = [
    ['healthy, all traffic on stable', { status: status({ phase: 'Healthy', canaryRevision: 'aaa' }), traffic: traffic(0, 'aaa') }, true, true],
    ['progressing at 25%', { status: status({ phase: 'Progressing' }), traffic: traffic(25) }, false, false],
    ['paused at 25%', { status: status({ phase: 'Paused', pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }] }), traffic: traffic(25) }, false, false],
    ['degraded after an abort', { status: status({ phase: 'Degraded', abort: true }), traffic: traffic(0) }, false, true],
    ['completed, old revision without traffic', { status: status({ phase: 'Completed', stableRevision: 'bbb', canaryRevision: 'bbb' }), traffic: { ...traffic(0, 'bbb'), stableRevision: 'bbb' } }, true, true],
    ['completed while a revision still has a share', { status: status({ phase: 'Completed' }), traffic: traffic(60) }, false, false],
    ['no status yet (starting)', { status: undefined }, false, false],
  ];
  it.each(rows)('%s', (_what, extra, done, terminal) => {
    const v = buildRolloutView(inputs(extra));
    expect({ done: v.done, terminal: v.terminal }).toEqual({ done, terminal });
  });

  it('reads the phase and the weights of any view, a release\'s flattened rows included', () => {
    expect(outcomeOf({ phase: 'Healthy', revisions: [{ weight: 100 }, { weight: 0 }] })).toEqual({ done: true, terminal: true });
    expect(outcomeOf({ phase: 'Healthy', revisions: [{ weight: 90 }, { weight: 10 }] })).toEqual({ done: false, terminal: false });
  });
});

describe('the rollout view', () => {
  it('carries the namespace, default on a single host, or the one given', () => {
    expect(buildRolloutView(inputs({})).namespace).toBe('default');
    expect(buildRolloutView(inputs({ namespace: 'shop' })).namespace).toBe('shop');
  });

  it('gives the guard its own field while a canary is judged, and lists it among the analyses as before', () => {
    const v = buildRolloutView(inputs({ status: status({}), traffic: traffic(25), guard: { verdict: 'Failed', reason: 'canary errors 12% vs stable 0%' } }));
    expect(v.guard).toEqual({ verdict: 'Failed', reason: 'canary errors 12% vs stable 0%' });
    expect(v.analysis).toEqual([{ name: 'guard', phase: 'Failed', message: 'canary errors 12% vs stable 0%' }]);
    expect(buildRolloutView(inputs({ status: status({ phase: 'Healthy', canaryRevision: 'aaa' }), guard: { verdict: 'Healthy', reason: 'ok' } })).guard).toBeUndefined();
  });

  it('shows the traffic figures given per revision, and none for a revision without figures', () => {
    const v = buildRolloutView(inputs({ status: status({}), traffic: traffic(25), stats: { bbb: { requestsPerSecond: 12.5, errorRate: 0.02, p99Ms: 41, fallbacks: 3, unreadyServed: 0 } } }));
    expect(v.revisions.map((r) => [r.name, r.role, r.weight, r.requestsPerSecond, r.errorRate, r.p99Ms, r.fallbacks])).toEqual([
      ['aaa', 'stable', 75, 0, 0, null, 0],
      ['bbb', 'canary', 25, 12.5, 0.02, 41, 3],
    ]);
  });

  it('leaves stopped instances out of a revision and counts stopping ones as not desired', () => {
    const v = buildRolloutView(inputs({ status: status({}), revisions: [{ name: 'aaa', number: 1, instances: [ready('a1'), { id: 'a2', state: 'stopping', restarts: 0 }, { id: 'a3', state: 'stopped', restarts: 0 }] }] }));
    expect(v.revisions[0]).toMatchObject({ name: 'aaa', ready: 1, total: 1, instances: [ready('a1'), { id: 'a2', state: 'stopping', restarts: 0 }] });
  });
});

describe('the release view', () => {
  const member = (name: string, extra: Partial<RolloutViewInputs>): ServiceView => buildRolloutView(inputs({ name, ...extra }));
  const state: ReleaseState = { name: 'shop', generation: 'g1', phase: 'progressing', stepIndex: 0, members: [], secret: 's', message: 'rolling out web 25%, api 25%' };

  it('keeps each member\'s own view in members, structured, beside the flattened rows people read', () => {
    const web = member('web', { status: status({}), traffic: traffic(25) });
    const api = member('api', { status: status({}), traffic: traffic(25) });
    const v = buildReleaseView({ name: 'shop', steps: 2, state, members: [web, api] });
    expect(v.members?.map((m) => [m.name, m.namespace, m.phase, m.revisions.map((r) => `${r.name}:${r.weight}`)])).toEqual([
      ['web', 'default', 'Progressing', ['aaa:75', 'bbb:25']],
      ['api', 'default', 'Progressing', ['aaa:75', 'bbb:25']],
    ]);
    expect(v.revisions.map((r) => [r.member, r.name])).toEqual([['web', 'web aaa'], ['web', 'web bbb'], ['api', 'api aaa'], ['api', 'api bbb']]);
    expect(v).toMatchObject({ kind: 'release', namespace: 'default', phase: 'Progressing', step: 1, steps: 2, done: false, terminal: false, message: 'rolling out web 25%, api 25%' });
  });

  it('is terminal once aborted, and done once every member is healthy on one revision', () => {
    const healthy = member('web', { status: status({ phase: 'Healthy', canaryRevision: 'aaa' }), traffic: traffic(0, 'aaa') });
    expect(buildReleaseView({ name: 'shop', steps: 2, state: { ...state, phase: 'aborted' }, members: [healthy] })).toMatchObject({ phase: 'Degraded', aborted: true, done: false, terminal: true });
    expect(buildReleaseView({ name: 'shop', steps: 2, state: { ...state, phase: 'idle' }, members: [healthy] })).toMatchObject({ phase: 'Healthy', done: true, terminal: true });
  });
});
