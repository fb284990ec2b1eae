import { describe, expect, it } from 'vitest';
import type { Release } from '../../documents/schema.js';
import { initialStatus } from '../context.js';
import type { RolloutStatus, UserOperation } from '../types.js';
import type { ReleaseAction } from './decide.js';
import { decideReleaseOperation, ReleaseOperationError, type ReleaseOperationErrorCode } from './operate.js';
import type { ReleaseState } from './releases.js';

const release: Release = { name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }] } } };
const RANDOM = { generation: 'gNEW' };
const NOW = 1_000_000;

const rolling = (from: string, to: string, more: Partial<RolloutStatus> = {}): RolloutStatus => ({ ...initialStatus(0), phase: 'Progressing', stableRevision: from, canaryRevision: to, ...more });
const userPaused = (from: string, to: string) => rolling(from, to, { phase: 'Paused', pauseConditions: [{ reason: 'UserPause', startedAtMs: 0 }] });
const healthy = (rev: string) => ({ ...initialStatus(0), phase: 'Healthy' as const, stableRevision: rev, canaryRevision: rev });
const attempt = (more: Partial<ReleaseState> = {}): ReleaseState => ({
  name: 'shop', generation: 'g1', phase: 'progressing', stepIndex: 1, secret: 's1', message: 'gate 1 passed',
  members: [{ service: 'web', from: 'w1', to: 'w2' }, { service: 'api', from: 'a1', to: 'a2' }], ...more,
});
const both = (web: RolloutStatus | undefined = rolling('w1', 'w2'), api: RolloutStatus | undefined = rolling('a1', 'a2')) => [{ service: 'web', status: web }, { service: 'api', status: api }];
const on = (operation: UserOperation, why: string, services = ['web', 'api']): ReleaseAction[] => services.map((service) => ({ type: 'operateMember', service, operation, why }));

type Decided = [string, UserOperation, ReleaseState, ReturnType<typeof both>, Partial<ReleaseState>, ReleaseAction[]];

describe('decideReleaseOperation', () => {
  it.each<Decided>([
    ['pause: every member holds, the release says how to go on', { type: 'pause' }, attempt(), both(), { paused: true, message: 'paused by operator at step 2: `graylane resume shop` or `graylane promote shop` to go on' }, on({ type: 'pause' }, 'release shop: pause by operator')],
    ['resume: only members a person paused are resumed', { type: 'resume' }, attempt({ paused: true }), both(userPaused('w1', 'w2')), { paused: false, message: 'resumed at step 2' }, on({ type: 'resume' }, 'release shop: resume by operator', ['web'])],
    ['promote: the gate is promoted, user-paused members resumed', { type: 'promote' }, attempt({ paused: true }), both(userPaused('w1', 'w2'), userPaused('a1', 'a2')), { paused: false, gatePromoted: true, message: 'gate 1 passed' }, on({ type: 'resume' }, 'release shop: promote by operator')],
    ['promote with no member paused: the gate alone', { type: 'promote' }, attempt(), both(), { paused: false, gatePromoted: true }, []],
    ['promote --full: every member skips its steps', { type: 'promoteFull' }, attempt({ paused: true }), both(), { paused: false, message: 'gate 1 passed' }, on({ type: 'promoteFull' }, 'release shop: promote --full by operator')],
    ['abort: every member back on stable', { type: 'abort' }, attempt({ paused: true }), both(), { phase: 'aborted', paused: false, abortGraceUntilMs: NOW + 5000, message: 'aborted by operator; every member is back on stable' }, on({ type: 'abort' }, 'release shop: abort by operator')],
    ['set weight: every member gets it, held until the next gate', { type: 'setWeight', weight: 40 }, attempt(), both(), { message: 'weight set to 40% by hand at step 2; holds until the next gate opens' }, on({ type: 'setWeight', weight: 40 }, 'release shop: setWeight by operator')],
    ['retry of an aborted release: a new attempt from step 1', { type: 'retry' }, attempt({ phase: 'aborted', gateOpenedAtMs: 5, gatePromoted: true, analysisRun: 'r', paused: true, abortGraceUntilMs: NOW }), both(), { generation: 'gNEW', phase: 'progressing', stepIndex: 0, gateOpenedAtMs: undefined, gatePromoted: false, analysisRun: undefined, paused: false, abortGraceUntilMs: undefined, message: 'retrying web, api' }, on({ type: 'retry' }, 'release shop: retry by operator')],
    ['abort with a member already done: it goes back to its old revision, still up', { type: 'abort' }, attempt(), both({ ...healthy('w2'), scaleDownDeadlines: [{ revision: 'w1', atMs: NOW + 1 }] }), { phase: 'aborted', paused: false, abortGraceUntilMs: NOW + 5000, message: 'aborted by operator; every member is back on stable' }, [...on({ type: 'abort' }, 'release shop: abort by operator', ['api']), { type: 'operateMember', service: 'web', operation: { type: 'revertPromoted', promoted: 'w2', previous: 'w1', reason: 'release shop: abort by operator' }, why: 'release shop: abort by operator' }]],
    ['abort with a member done whose old revision is gone: it stays, the event says how to go back', { type: 'abort' }, attempt(), both(healthy('w2')), { phase: 'aborted', paused: false, abortGraceUntilMs: NOW + 5000, message: 'aborted by operator; every member is back on stable' }, [...on({ type: 'abort' }, 'release shop: abort by operator', ['api']), { type: 'event', level: 'warning', reason: 'ReleaseMemberNotReverted', message: 'web had finished on w2 and its old revision w1 is no longer up, so it stays on w2: `graylane undo shop` rolls every member back to its previous revision' }]],
    ['pause with a member already done: it is left out', { type: 'pause' }, attempt(), both(healthy('w2')), { paused: true, message: 'paused by operator at step 2: `graylane resume shop` or `graylane promote shop` to go on' }, on({ type: 'pause' }, 'release shop: pause by operator', ['api'])],
  ])('%s', (_name, operation, state, members, decided, actions) => {
    const decision = decideReleaseOperation({ release, state, members, operation, random: RANDOM, now: NOW });
    expect(decision.state).toEqual({ ...state, ...decided });
    expect(decision.actions).toEqual(actions);
  });

  it.each([
    ['2s', NOW + 2000],
    [0, NOW],
  ] as const)('abort with pinning.abortGrace %s: canary pages keep the canary until %i', (abortGrace, until) => {
    const decision = decideReleaseOperation({ release: { ...release, pinning: { abortGrace } }, state: attempt(), members: both(), operation: { type: 'abort' }, random: RANDOM, now: NOW });
    expect(decision.state.abortGraceUntilMs).toBe(until);
  });

  type Refused = [string, UserOperation, ReleaseState | undefined, ReturnType<typeof both>, ReleaseOperationErrorCode, string];
  it.each<Refused>([
    ['nothing ever released', { type: 'pause' }, undefined, both(), 'NothingInProgress', 'nothing to pause: release shop has no rollout in progress'],
    ['promoted already', { type: 'promoteFull' }, attempt({ phase: 'promoted' }), both(healthy('w2'), healthy('a2')), 'NothingInProgress', 'nothing to promote: release shop has no rollout in progress'],
    ['every member done', { type: 'setWeight', weight: 10 }, attempt(), both(healthy('w2'), healthy('a2')), 'NothingInProgress', 'nothing to set the weight of: release shop has no rollout in progress'],
    ['retry of a release in progress', { type: 'retry' }, attempt(), both(), 'NotAborted', 'release shop is not aborted: only an aborted release can be retried'],
    ['anything but retry when aborted', { type: 'promote' }, attempt({ phase: 'aborted' }), both(), 'Aborted', 'release shop is aborted: `graylane retry shop` to run it again, or apply a new revision'],
    ['pause twice', { type: 'pause' }, attempt({ paused: true }), both(), 'AlreadyPaused', 'release shop is already paused'],
    ['resume of a release no person paused', { type: 'resume' }, attempt(), both(), 'NotPaused', 'release shop was not paused by a person (`graylane promote shop` passes a pause step)'],
  ])('refuses: %s', (_name, operation, state, members, code, message) => {
    const refusal = (() => {
      try {
        decideReleaseOperation({ release, state, members, operation, random: RANDOM, now: NOW });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(ReleaseOperationError);
    expect(refusal).toMatchObject({ code, message });
  });
});
