import { describe, expect, it, vi } from 'vitest';
import type { Release } from '../../documents/schema.js';
import { initialStatus, type RolloutStatus } from '../../engine/index.js';
import { ReleaseOperationError } from '../../engine/release/operate.js';
import { MemoryState } from '../../state/memory/memory-state.js';
import { StateConflictError } from '../../state/state-port.js';
import { RELEASE_CONFLICT_RETRIES, ReleaseLoop, type ReleaseLoopHost, type ReleaseStateStore } from './release-loop.js';

const release: Release = { name: 'shop', services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 30 }, { analysis: { templates: [{ templateName: 'a' }] } }] } } };
const NOW = 5_000;
const gate = (step: number, from: string, to: string): RolloutStatus => ({
  ...initialStatus(0), phase: 'Paused', stableRevision: from, canaryRevision: to, currentStepIndex: step, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: 0 }],
});

const KEY = { namespace: 'default', name: 'shop' };

/** In-memory release state (the conformance-tested MemoryState), a fake host recording every call as an object. */
function setup(statuses: Record<string, RolloutStatus>) {
  const runs: Record<string, Record<string, string>> = {};
  const recorded: object[] = [];
  const memory = new MemoryState();
  const state: ReleaseStateStore = {
    loadRelease: (key) => memory.loadRelease(key),
    commitRelease: async (key, release, expectedVersion) => {
      const result = await memory.commitRelease(key, release, expectedVersion);
      recorded.push({ commit: release.phase, message: release.message });
      return result;
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
  return { loop: new ReleaseLoop({ state, namespace: 'default', host }), recorded, memory, runs };
}

describe('ReleaseLoop', () => {
  it('commits the decided state before acting, then carries the actions out in order', async () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    expect(recorded).toEqual([
      { commit: 'progressing', message: 'analysis at step 2' },
      { changed: 'shop' },
      { event: 'shop', level: 'info', reason: 'ReleaseStarted', message: 'release shop started for web → w2, api → a2' },
      { startAnalysis: 'web', name: 'shop.g1.step-1' },
    ]);
    recorded.length = 0;
    await loop.tick(release);
    expect(recorded).toEqual([{ commit: 'progressing', message: 'analysis at step 2: Running' }, { changed: 'shop' }]);
  });

  it('commits nothing and does nothing on a pass with nothing new', async () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    await loop.tick(release);
    recorded.length = 0;
    await loop.tick(release);
    expect(recorded).toEqual([]);
  });

  it('reads the gate analysis phase from whichever member runs it, and aborts every member when it failed', async () => {
    const { loop, recorded, runs } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    runs.web!['shop.g1.step-1'] = 'Failed';
    recorded.length = 0;
    await loop.tick(release);
    expect(recorded).toEqual([
      { commit: 'aborted', message: 'aborted: analysis at step 2 Failed' },
      { changed: 'shop' },
      { operate: 'web', operation: { type: 'abort' }, why: 'release shop: analysis Failed' },
      { operate: 'api', operation: { type: 'abort' }, why: 'release shop: analysis Failed' },
      { event: 'shop', level: 'warning', reason: 'ReleaseAborted', message: 'release shop aborted: analysis Failed' },
    ]);
  });

  it('a person\'s operation is decided on the committed state, committed, then carried out on every member', async () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    recorded.length = 0;
    await loop.operate(release, { type: 'abort' });
    expect(recorded).toEqual([
      { commit: 'aborted', message: 'aborted by operator; every member is back on stable' },
      { changed: 'shop' },
      { operate: 'web', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
      { operate: 'api', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
    ]);
  });

  it('a retry takes the new attempt\'s generation from the host\'s randomness', async () => {
    const { loop, memory } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    const before = (await memory.loadRelease(KEY))!;
    await memory.commitRelease(KEY, { ...before.state, phase: 'aborted', generation: 'old' }, before.version);
    await loop.operate(release, { type: 'retry' });
    expect((await memory.loadRelease(KEY))?.state).toMatchObject({ phase: 'progressing', generation: 'g1', stepIndex: 0, message: 'retrying web, api' });
  });

  it('an operation that makes no sense now is refused: nothing committed, nothing done', async () => {
    const { loop, recorded } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    recorded.length = 0;
    await expect(loop.operate(release, { type: 'resume' })).rejects.toBeInstanceOf(ReleaseOperationError);
    await expect(loop.operate(release, { type: 'resume' })).rejects.toThrow('release shop was not paused by a person (`graylane promote shop` passes a pause step)');
    expect(recorded).toEqual([]);
  });

  it('a pass decided on a state someone committed meanwhile acts on nothing and is decided again on the new state', async () => {
    const { loop, recorded, memory } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    recorded.length = 0;
    const load = memory.loadRelease.bind(memory);
    // A rival (a person's pause, through another pass) commits between this pass's read and its commit.
    vi.spyOn(memory, 'loadRelease').mockImplementationOnce(async (key) => {
      const record = (await load(key))!;
      await memory.commitRelease(key, { ...record.state, paused: true, message: 'paused by a rival' }, record.version);
      return record;
    });
    await loop.operate(release, { type: 'abort' });
    // Decided on the stale state, it committed nothing and acted on nothing; decided again, once.
    expect(recorded).toEqual([
      { commit: 'aborted', message: 'aborted by operator; every member is back on stable' },
      { changed: 'shop' },
      { operate: 'web', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
      { operate: 'api', operation: { type: 'abort' }, why: 'release shop: abort by operator' },
    ]);
    expect(await memory.loadRelease(KEY)).toMatchObject({ state: { phase: 'aborted', paused: false }, version: 3 });
  });

  it('a pass that keeps meeting conflicts gives up with the conflict after its retries, having done nothing', async () => {
    const { loop, recorded, memory } = setup({ web: gate(1, 'w1', 'w2'), api: gate(1, 'a1', 'a2') });
    await loop.tick(release);
    recorded.length = 0;
    const spy = vi.spyOn(memory, 'commitRelease').mockRejectedValue(new StateConflictError(KEY, 2, 3));
    await expect(loop.operate(release, { type: 'abort' })).rejects.toBeInstanceOf(StateConflictError);
    expect(spy).toHaveBeenCalledTimes(RELEASE_CONFLICT_RETRIES + 1);
    expect(recorded).toEqual([]);
  });
});
