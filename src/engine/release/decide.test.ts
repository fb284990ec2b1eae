import { describe, expect, it } from 'vitest';
import type { Release } from '../../documents/schema.js';
import { initialStatus } from '../context.js';
import type { RolloutStatus } from '../types.js';
import { decideRelease, type DecideReleaseInput, type ReleaseAction } from './decide.js';
import type { ReleaseState } from './releases.js';

const release: Release = {
  name: 'shop',
  services: ['web', 'api'],
  pinning: { skewWindow: '60s' },
  strategy: { canary: { steps: [{ setWeight: 30 }, { pause: { duration: '10s' } }, { analysis: { templates: [{ templateName: 'a' }] } }, { pause: {} }] } },
};
const NOW = 1_000_000;
const RANDOM = { generation: 'gNEW', secret: 'sNEW' };

const healthy = (rev: string): RolloutStatus => ({ ...initialStatus(0), phase: 'Healthy', stableRevision: rev, canaryRevision: rev });
const rolling = (from: string, to: string, more: Partial<RolloutStatus> = {}): RolloutStatus => ({ ...initialStatus(0), phase: 'Progressing', stableRevision: from, canaryRevision: to, ...more });
const gate = (step: number, from: string, to: string): RolloutStatus => rolling(from, to, { phase: 'Paused', currentStepIndex: step, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: NOW }] });
const attempt = (more: Partial<ReleaseState> = {}): ReleaseState => ({
  name: 'shop', generation: 'g1', phase: 'progressing', stepIndex: 0, secret: 's1', message: 'releasing web, api',
  members: [{ service: 'web', from: 'w1', to: 'w2' }, { service: 'api', from: 'a1', to: 'a2' }], ...more,
});
const members = (web: RolloutStatus | undefined, api: RolloutStatus | undefined) => [{ service: 'web', status: web }, { service: 'api', status: api }];
const op = (service: string, type: 'abort' | 'promote', why: string): ReleaseAction => ({ type: 'operateMember', service, operation: { type }, why });
const done = (from: string, to: string, keptUntilMs: number | undefined): RolloutStatus => ({ ...healthy(to), scaleDownDeadlines: keptUntilMs === undefined ? [] : [{ revision: from, atMs: keptUntilMs }] });
const revert = (service: string, promoted: string, previous: string, why: string): ReleaseAction => ({ type: 'operateMember', service, operation: { type: 'revertPromoted', promoted, previous, reason: why }, why });
const ev = (level: 'info' | 'warning', reason: string, message: string): ReleaseAction => ({ type: 'event', level, reason, message });

type Row = [string, Partial<DecideReleaseInput>, Partial<ReleaseState>, ReleaseAction[]];

describe('decideRelease', () => {
  it.each<Row>([
    ['first pass, nothing rolling out: an idle state with a secret', { state: undefined, members: members(healthy('w1'), healthy('a1')) }, { generation: 'g0', phase: 'idle', secret: 'sNEW', members: [], message: 'no release under way' }, []],
    ['members rolling out to new revisions: a new attempt with a new generation', { state: undefined, members: members(rolling('w1', 'w2'), rolling('a1', 'a2')) }, { generation: 'gNEW', phase: 'progressing', secret: 'sNEW', members: attempt().members, message: 'rolling out web 0%, api 0%' }, [ev('info', 'ReleaseStarted', 'release shop started for web → w2, api → a2')]],
    ['a member changed by the same apply joins an attempt before its first gate', { state: attempt({ members: [{ service: 'web', from: 'w1', to: 'w2' }] }), members: members(rolling('w1', 'w2'), rolling('a1', 'a2')) }, { generation: 'g1', members: attempt().members }, []],
    ['one member aborted: the others abort too, the gate analysis stops', { state: attempt({ analysisRun: 'run1' }), members: members(rolling('w1', 'w2', { abort: true, message: 'boom' }), rolling('a1', 'a2')) }, { phase: 'aborted', paused: false, abortGraceUntilMs: NOW + 5000, message: 'aborted: web failed (boom); every member is back on stable' }, [op('api', 'abort', 'release shop aborted: web failed'), { type: 'stopAnalysis', name: 'run1' }, ev('warning', 'ReleaseAborted', 'release shop aborted because web failed; all members back on stable')]],
    ['a member aborts after another finished: the finished one goes back to its old revision, still up', { state: attempt(), members: members(done('w1', 'w2', NOW + 60_000), rolling('a1', 'a2', { abort: true, message: 'boom' })) }, { phase: 'aborted', message: 'aborted: api failed (boom); every member is back on stable' }, [revert('web', 'w2', 'w1', 'release shop aborted: api failed'), ev('warning', 'ReleaseAborted', 'release shop aborted because api failed; all members back on stable')]],
    ['a member aborts after another finished whose old revision is gone: it stays, and the event says how to go back', { state: attempt(), members: members(done('w1', 'w2', NOW), rolling('a1', 'a2', { abort: true })) }, { phase: 'aborted' }, [ev('warning', 'ReleaseMemberNotReverted', 'web had finished on w2 and its old revision w1 is no longer up, so it stays on w2: `graylane undo shop` rolls every member back to its previous revision'), ev('warning', 'ReleaseAborted', 'release shop aborted because api failed; all members back on stable')]],
    ['aborted, a member finished as the abort reached it: it goes back too', { state: attempt({ phase: 'aborted', abortGraceUntilMs: NOW }), members: members(done('w1', 'w2', NOW + 60_000), rolling('a1', 'a2', { abort: true })) }, { phase: 'aborted' }, [revert('web', 'w2', 'w1', 'release shop is aborted')]],
    ['aborted, a finished member whose old revision is gone: nothing, said once at the abort', { state: attempt({ phase: 'aborted' }), members: members(done('w1', 'w2', undefined), rolling('a1', 'a2', { abort: true })) }, { phase: 'aborted' }, []],
    ['aborted, every member back on its old revision: nothing to do', { state: attempt({ phase: 'aborted' }), members: members(rolling('w1', 'w2', { abort: true }), rolling('a1', 'a2', { abort: true })) }, { phase: 'aborted' }, []],
    ['members aborted before this pass: the grace runs from the first abort', { state: attempt(), members: members(rolling('w1', 'w2', { abort: true, abortedAtMs: NOW - 3000, message: 'boom' }), rolling('a1', 'a2', { abort: true, abortedAtMs: NOW - 1000 })) }, { phase: 'aborted', abortGraceUntilMs: NOW + 2000 }, [ev('warning', 'ReleaseAborted', 'release shop aborted because web failed; all members back on stable')]],
    ['every member done: promoted, skew window set', { state: attempt(), members: members(healthy('w2'), healthy('a2')) }, { phase: 'promoted', skewUntilMs: NOW + 60_000 }, [ev('info', 'ReleasePromoted', `release shop promoted; skew window until ${new Date(NOW + 60_000).toISOString()}`)]],
    ['paused by a person: no gate opens', { state: attempt({ paused: true, stepIndex: 1 }), members: members(gate(1, 'w1', 'w2'), gate(1, 'a1', 'a2')) }, { message: 'paused by operator at step 2: `graylane resume shop` or `graylane promote shop` to go on' }, []],
    ['one member not at the gate yet: wait at the lowest step', { state: attempt(), members: members(gate(1, 'w1', 'w2'), rolling('a1', 'a2')) }, { stepIndex: 0, message: 'rolling out web 0%, api 0%' }, []],
    ['all at a timed pause: the gate opens and waits its duration', { state: attempt(), members: members(gate(1, 'w1', 'w2'), gate(1, 'a1', 'a2')) }, { stepIndex: 1, gateOpenedAtMs: NOW, message: `pausing at step 2 until ${new Date(NOW + 10_000).toISOString()}` }, []],
    ['the timed pause is over: every member promoted', { state: attempt({ stepIndex: 1, gateOpenedAtMs: NOW - 10_000 }), members: members(gate(1, 'w1', 'w2'), gate(1, 'a1', 'a2')) }, { gateOpenedAtMs: undefined, message: 'gate 2 passed' }, [op('web', 'promote', 'release shop gate 2 opened'), op('api', 'promote', 'release shop gate 2 opened')]],
    ['an analysis gate: its run starts on the first member', { state: attempt({ stepIndex: 2, gateOpenedAtMs: NOW }), members: members(gate(2, 'w1', 'w2'), gate(2, 'a1', 'a2')) }, { analysisRun: 'shop.g1.step-2', message: 'analysis at step 3' }, [{ type: 'startAnalysis', service: 'web', analysis: { type: 'startAnalysis', name: 'shop.g1.step-2', kind: 'step', analysis: { templates: [{ templateName: 'a' }] }, revision: 'w2' }, stableRevision: 'w1' }]],
    ['the gate analysis failed: every member aborts', { state: attempt({ stepIndex: 2, gateOpenedAtMs: NOW, analysisRun: 'shop.g1.step-2' }), analysisPhase: 'Failed', members: members(gate(2, 'w1', 'w2'), gate(2, 'a1', 'a2')) }, { phase: 'aborted', abortGraceUntilMs: NOW + 5000, message: 'aborted: analysis at step 3 Failed' }, [op('web', 'abort', 'release shop: analysis Failed'), op('api', 'abort', 'release shop: analysis Failed'), ev('warning', 'ReleaseAborted', 'release shop aborted: analysis Failed')]],
    ['promoted, pinned clients still active within the window: old revisions kept', { state: attempt({ phase: 'promoted', skewUntilMs: NOW + 30_000 }), lastPinnedStableMs: NOW - 1000, members: members(healthy('w2'), healthy('a2')) }, { phase: 'promoted' }, []],
    ['promoted, skew window over: old revisions retired', { state: attempt({ phase: 'promoted', skewUntilMs: NOW }), lastPinnedStableMs: NOW, members: members(healthy('w2'), healthy('a2')) }, { phase: 'idle', message: 'released; old revisions retired' }, [{ type: 'retireOld', service: 'web', revision: 'w1' }, { type: 'retireOld', service: 'api', revision: 'a1' }, ev('info', 'ReleaseCompleted', 'release shop complete: old revisions retired (skew window over)')]],
    ['promoted, a new revision: superseded, old revisions retired at once', { state: attempt({ phase: 'promoted', skewUntilMs: NOW + 30_000 }), lastPinnedStableMs: NOW, members: members(rolling('w2', 'w3'), healthy('a2')) }, { generation: 'gNEW', phase: 'progressing', members: [{ service: 'web', from: 'w2', to: 'w3' }] }, [{ type: 'retireOld', service: 'web', revision: 'w1' }, { type: 'retireOld', service: 'api', revision: 'a1' }, ev('info', 'ReleaseStarted', 'release shop started for web → w3')]],
  ])('%s', (_name, input, state, actions) => {
    const decision = decideRelease({ release, state: undefined, members: [], now: NOW, random: RANDOM, ...input });
    expect(decision.state).toMatchObject(state);
    for (const [k, v] of Object.entries(state)) if (v === undefined) expect(decision.state[k as keyof ReleaseState]).toBeUndefined();
    expect(decision.actions).toEqual(actions);
  });

  it('is idempotent: deciding again on its own state changes nothing and does nothing', () => {
    const input = { release, now: NOW, random: RANDOM, members: members(gate(1, 'w1', 'w2'), gate(1, 'a1', 'a2')) };
    const first = decideRelease({ ...input, state: attempt() });
    const second = decideRelease({ ...input, state: first.state });
    expect(second).toEqual({ state: first.state, actions: [] });
  });
});
