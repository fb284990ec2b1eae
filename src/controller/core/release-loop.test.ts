import { describe, expect, it } from 'vitest';
import type { Release } from '../../documents/schema.js';
import { initialStatus, type RolloutStatus } from '../../engine/index.js';
import { ReleaseOperationError } from '../../engine/release/operate.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import { ReleaseLoop, type ReleaseLoopHost, type ReleaseStateStore } from './release-loop.js';

const release: Release = { name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 30 }, { analysis: { templates: [{ templateName: 'a' }] } }] } } };
const NOW = 5_000;
const gate = (step: number, from: string, to: string): RolloutStatus => ({
  ...initialStatus(0), phase: 'Paused', stableRevision: from, canaryRevision: to, currentStepIndex: step, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }],
});

/** In-memory release state, a fake host recording every call as an object. */
function setup(statuses: Record<string, RolloutStatus>) {
  const runs: Record<string, Record<string, string>> = {};
  const recorded: object[] = [];
  const states = new Map<string, ReleaseState>();
  const store: ReleaseStateStore = {
    load: (name) => states.get(name),
    commit: (state) => {
      recorded.push({ commit: state.phase, message: state.message });
      states.set(state.name, structuredClone(state));
    },
  };
  const host: ReleaseLoopHost = {
    status: (service) => statuses[service],
    operate: (service, operation, why) => recorded.push({ operate: service, operation, why }),
    startAnalysis: (service, action) => {
      recorded.push({ startAnalysis: service, name: action.name });
      runs[service] = { ...runs[service], [action.name]: 'Running' };
    },
    analysisPhase: (service, name) => runs[service]?.[name],
    stopAnalysis: (name) => recorded.push({ stopAnalysis: name }),
    lastPinnedStableMs: () => undefined,
    retireOld: (service, revision) => recorded.push({ retireOld: service, revision }),
    event: (name, level, reason, message) => recorded.push({ event: name, level, reason, message }),
    nowMs: () => NOW,
    random: () => ({ generation: 'g1', secret: 's1' }),
    changed: (name) => recorded.push({ changed: name }),
  };
  return { loop: new ReleaseLoop(store, host), recorded, states, runs };
}

describe('ReleaseLoop', () => {
  it('commits the decided state before acting, then carries the actions out in order', () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    expect(recorded).toEqual([
      { commit: 'progressing', message: 'analysis at step 2' },
      { changed: 'shop' },
      { event: 'shop', level: 'info', reason: 'ReleaseStarted', message: 'release shop started for web → w2, api → a2' },
      { startAnalysis: 'web', name: 'shop.g1.step-1' },
    ]);
    recorded.length = 0;
    loop.tick(release);
    expect(recorded).toEqual([{ commit: 'progressing', message: 'analysis at step 2: Running' }, { changed: 'shop' }]);
  });

  it('commits nothing and does nothing on a pass with nothing new', () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    loop.tick(release);
    recorded.length = 0;
    loop.tick(release);
    expect(recorded).toEqual([]);
  });

  it('reads the gate analysis phase from whichever member runs it, and aborts every member when it failed', () => {
    const { loop, recorded, runs } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    runs.web!['shop.g1.step-1'] = 'Failed';
    recorded.length = 0;
    loop.tick(release);
    expect(recorded).toEqual([
      { commit: 'aborted', message: 'aborted: analysis at step 2 Failed' },
      { changed: 'shop' },
      { operate: 'web', operation: { type: 'abort' }, why: 'release shop: analysis Failed' },
      { operate: 'api', operation: { type: 'abort' }, why: 'release shop: analysis Failed' },
      { event: 'shop', level: 'warning', reason: 'ReleaseAborted', message: 'release shop aborted: analysis Failed' },
    ]);
  });

  it('a person\'s operation is decided on the committed state, committed, then carried out on every member', () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    recorded.length = 0;
    loop.operate(release, { type: 'abort' });
    expect(recorded).toEqual([
      { commit: 'aborted', message: 'aborted by operator; every member is back on stable' },
      { changed: 'shop' },
      { operate: 'web', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
      { operate: 'api', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
    ]);
  });

  it('a retry takes the new attempt\'s generation from the host\'s randomness', () => {
    const { loop, states } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    states.set('shop', { ...states.get('shop')!, phase: 'aborted', generation: 'old' });
    loop.operate(release, { type: 'retry' });
    expect(states.get('shop')).toMatchObject({ phase: 'progressing', generation: 'g1', stepIndex: 0, message: 'retrying web, api' });
  });

  it('an operation that makes no sense now is refused: nothing committed, nothing done', () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    loop.tick(release);
    recorded.length = 0;
    expect(() => loop.operate(release, { type: 'resume' })).toThrow(ReleaseOperationError);
    expect(() => loop.operate(release, { type: 'resume' })).toThrow('release shop was not paused by a person (`graylane promote shop` passes a pause step)');
    expect(recorded).toEqual([]);
  });
});
