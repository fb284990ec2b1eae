import { describe, expect, it, vi } from 'vitest';
import { CoreWorld, KEY, type CoreWorldOptions } from '../../../test/fixtures/core/core-world.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { CRASH_LOOP_REASON, CRASH_LOOP_RESTARTS, OperationError } from '../../engine/index.js';
import { StateConflictError } from '../../state/state-port.js';
import { ReconcilerError } from './reconciler.js';

const spec: RolloutSpec = {
  replicas: 2,
  strategy: { canary: { trafficRouting: { builtin: {} }, steps: [{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'ok' }] } }, { pause: {} }] } },
};
const onStable = (revision: string) => ({ stableRevision: revision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
const endpoint = (id: string, revision: string, ready: boolean) => ({ id, revision, address: expect.stringMatching(/^127\.0\.0\.1:/) as string, ready, draining: false });

/** r1 stable and Healthy at 2/2 ready, records cleared. */
async function healthy(options: CoreWorldOptions = {}): Promise<CoreWorld> {
  const world = new CoreWorld(spec, options);
  await world.until(async () => (await world.phase()) === 'Healthy');
  await world.pass();
  world.clearRecords();
  return world;
}

/** r2 deployed over a healthy r1, its canary instance scaled and ready, records cleared. */
async function canaryReady(): Promise<CoreWorld> {
  const world = await healthy();
  world.deploy('r2');
  await world.pass();
  world.runtime.setState('web', 'r2');
  world.clearRecords();
  return world;
}

describe('one pass of the reconciler', () => {
  it('a first apply scales the first revision and puts all traffic on it, after committing', async () => {
    const world = new CoreWorld(spec);
    const result = await world.pass();
    // The decision was committed before it was applied, so unverified: a look again within a second.
    expect(result).toEqual({ outcome: 'done', committed: true, version: 1, requeueAfterMs: 1000 });
    expect(world.runtime.calls).toEqual([{ type: 'ensureInstances', service: 'web', revision: 'r1', replicas: 2 }]);
    expect(world.traffic.applied).toEqual([{ service: 'web', traffic: onStable('r1'), endpoints: [endpoint('web-r1-1', 'r1', false), endpoint('web-r1-2', 'r1', false)] }]);
    expect(await world.state.load(KEY)).toMatchObject({ version: 1, traffic: onStable('r1'), status: { stableRevision: 'r1', phase: 'Progressing' } });
    expect(world.sink).toEqual([{ type: 'committed', service: 'web', events: [{ id: 1, atMs: 1_000_000, level: 'info', reason: 'InitialDeploy', message: 'First revision r1 deployed at full scale and made stable' }] }]);
  });

  it('a new revision scales the canary first, keeping traffic on stable', async () => {
    const world = await healthy();
    world.deploy('r2');
    await world.pass();
    expect(world.runtime.calls).toEqual([{ type: 'ensureInstances', service: 'web', revision: 'r2', replicas: 1 }]);
    expect(world.traffic.applied).toEqual([{ service: 'web', traffic: { ...onStable('r1'), canaryRevision: 'r2' }, endpoints: [endpoint('web-r1-1', 'r1', true), endpoint('web-r1-2', 'r1', true), endpoint('web-r2-3', 'r2', false)] }]);
    expect(world.sink).toMatchObject([{ type: 'committed', events: [{ reason: 'RolloutStarted' }] }]);
  });

  it('setWeight 20 with the canary ready applies weight 20, only once it is committed', async () => {
    const world = await canaryReady();
    const committedAtApply: unknown[] = [];
    world.traffic.onApply = async () => void committedAtApply.push((await world.state.load(KEY))?.traffic);
    await world.pass();
    const weighted = { ...onStable('r1'), canaryRevision: 'r2', canaryWeight: 20 };
    expect(world.traffic.applied).toEqual([{ service: 'web', traffic: weighted, endpoints: [endpoint('web-r1-1', 'r1', true), endpoint('web-r1-2', 'r1', true), endpoint('web-r2-3', 'r2', true)] }]);
    expect(committedAtApply).toEqual([weighted]);
    expect(world.runtime.calls).toEqual([]);
  });

  it('the analysis step starts its run, compared against stable, once the new weight is verified', async () => {
    const world = await canaryReady();
    await world.pass();
    // The pass that set the weight waits for it to be verified; the next one finds it so.
    await world.pass();
    expect(world.analysis.calls).toEqual([{
      type: 'start', service: 'web', stableRevision: 'r1',
      action: { type: 'startAnalysis', name: 'r2.0.step.1', kind: 'step', analysis: { templates: [{ templateName: 'ok' }] }, revision: 'r2' },
    }]);
  });

  it('an idle pass commits nothing and acts on nothing', async () => {
    const world = await healthy();
    const before = await world.state.load(KEY);
    const eventsBefore = world.state.events().length;
    const result = await world.pass();
    expect(result).toEqual({ outcome: 'done', committed: false, version: before!.version, verification: 'verified' });
    expect(await world.state.load(KEY)).toEqual(before);
    expect(world.state.events()).toHaveLength(eventsBefore);
    expect([world.runtime.calls, world.traffic.applied, world.analysis.calls, world.sink, world.requeues]).toEqual([[], [], [], [], []]);
  });

  it('a record its adapter marks stale is written by an otherwise idle pass, once, with the same status', async () => {
    const world = await healthy();
    const before = (await world.state.load(KEY))!;
    const load = world.state.load.bind(world.state);
    vi.spyOn(world.state, 'load').mockImplementationOnce(async (key) => ({ ...(await load(key))!, stale: true }));
    const result = await world.pass();
    expect(result).toMatchObject({ outcome: 'done', committed: true, version: before.version + 1 });
    expect((await world.state.load(KEY))!.status).toEqual(before.status);
    // Nothing but the write: no scaling, no routing, no event.
    expect([world.runtime.calls, world.traffic.applied, world.analysis.calls]).toEqual([[], [], []]);
    expect(await world.pass()).toMatchObject({ committed: false });
  });

  it('a record committed by someone else meanwhile: requeue, nothing acted on', async () => {
    const world = await healthy();
    world.deploy('r2');
    const load = world.state.load.bind(world.state);
    vi.spyOn(world.state, 'load').mockImplementationOnce(async (key) => {
      const record = (await load(key))!;
      await world.state.commit(key, { status: record.status }, record.version);
      return record;
    });
    const result = await world.pass();
    expect(result).toMatchObject({ outcome: 'requeue', committed: false });
    expect([world.runtime.calls, world.traffic.applied, world.analysis.calls, world.sink]).toEqual([[], [], [], []]);
    expect((await world.state.load(KEY))?.status.canaryRevision).toBe('r1');
  });

  it('a commit that fails: the pass fails and nothing is acted on', async () => {
    const world = await healthy();
    world.deploy('r2');
    vi.spyOn(world.state, 'commit').mockRejectedValueOnce(new Error('disk full'));
    await expect(world.pass()).rejects.toThrow('disk full');
    expect([world.runtime.calls, world.traffic.applied, world.analysis.calls, world.sink]).toEqual([[], [], [], []]);
  });

  it('reports what the traffic provider says of the decision in force', async () => {
    const world = await canaryReady();
    world.traffic.verification = 'pending';
    expect(await world.pass()).toMatchObject({ verification: 'pending' });
    // The decision in force first; then, at the commit, the pass's new one (setWeight 20).
    expect(world.traffic.verified.map((d) => d.traffic)).toEqual([{ ...onStable('r1'), canaryRevision: 'r2' }, { ...onStable('r1'), canaryRevision: 'r2', canaryWeight: 20 }]);
  });

  it('a switch whose apply fails is committed unverified, passed again within a second, and written verified (same status) once it is in force', async () => {
    const world = await canaryReady();
    const refused = new Error('Service patch refused: 500 Internal Server Error');
    // Every apply that would put stable on r2 fails: the switch's, however often it is tried.
    world.traffic.onApply = (d) => (d.traffic.stableRevision === 'r2' ? Promise.reject(refused) : Promise.resolve());
    await world.reconciler.operate(KEY, { type: 'promoteFull' });
    // The engine is done (r2 stable, r1 to be scaled down): what a status would show as done.
    await world.until(async () => (await world.phase()) === 'Completed');
    const switched = (await world.state.load(KEY))!;
    expect(switched.traffic).toEqual(onStable('r2'));
    expect(switched.trafficVerified).toBe(false);
    expect(world.traffic.decision({ service: 'web' })?.traffic.stableRevision).not.toBe('r2');
    expect(world.sink).toContainEqual({ type: 'emit', service: 'web', event: expect.objectContaining({ reason: 'RoutingFailed', message: refused.message }) as object });

    // Still failing: nothing new to write, but another look within a second.
    const again = await world.pass();
    expect(again).toMatchObject({ committed: false, verification: 'pending' });
    expect(again.requeueAfterMs).toBeLessThanOrEqual(1000);
    expect((await world.state.load(KEY))!.trafficVerified).toBe(false);

    // The data plane takes it: this pass applies it, the next one finds it in force and says so.
    world.traffic.onApply = undefined;
    await world.pass();
    expect(world.traffic.decision({ service: 'web' })?.traffic).toEqual(onStable('r2'));
    const verified = await world.pass();
    expect(verified).toMatchObject({ committed: true, verification: 'verified' });
    const after = (await world.state.load(KEY))!;
    expect(after.trafficVerified).toBe(true);
    expect(after.status).toMatchObject({ phase: 'Completed', stableRevision: 'r2' });
    // Verified and nothing else changed: the next pass is idle and waits on the scale-down delay only.
    const idle = await world.pass();
    expect(idle).toMatchObject({ committed: false, verification: 'verified' });
    expect(idle.requeueAfterMs).toBeGreaterThan(1000);
  });

  it('a provider that cannot verify: no verification is committed and no early pass is asked for', async () => {
    const world = new CoreWorld(spec, { traffic: { capabilities: ['weight'] } });
    const result = await world.pass();
    expect(result.requeueAfterMs).toBe(600_001);
    expect((await world.state.load(KEY))!).not.toHaveProperty('trafficVerified');
  });

  it('does not ask a provider that cannot verify', async () => {
    const world = await healthy({ traffic: { capabilities: ['weight'] } });
    expect(await world.pass()).not.toHaveProperty('verification');
    expect(world.traffic.verified).toEqual([]);
  });

  it('re-applies a decision the provider still reports pending, though nothing changed', async () => {
    const world = await healthy();
    world.traffic.verification = 'pending';
    await world.pass();
    expect(world.traffic.applied.map((a) => a.traffic)).toEqual([onStable('r1')]);
  });

  it('pending verification holds the step: nothing committed, the decision given again, a look within a second', async () => {
    const world = await canaryReady();
    await world.pass();
    const weighted = { ...onStable('r1'), canaryRevision: 'r2', canaryWeight: 20 };
    const before = (await world.state.load(KEY))!;
    expect(before.status).toMatchObject({ currentStepIndex: 1, weights: { canary: 20, stable: 80 } });
    world.clearRecords();
    world.traffic.verification = 'pending';
    expect(await world.pass()).toEqual({ outcome: 'done', committed: false, version: before.version, requeueAfterMs: 1000, verification: 'pending' });
    expect(await world.state.load(KEY)).toEqual(before);
    expect(world.traffic.applied).toEqual([{ service: 'web', traffic: weighted, endpoints: [endpoint('web-r1-1', 'r1', true), endpoint('web-r1-2', 'r1', true), endpoint('web-r2-3', 'r2', true)] }]);
    expect([world.analysis.calls, world.runtime.calls, world.sink]).toEqual([[], [], []]);
    world.traffic.verification = 'verified';
    await world.pass();
    expect(world.analysis.calls).toEqual([expect.objectContaining({ type: 'start', action: expect.objectContaining({ name: 'r2.0.step.1' }) as object })]);
    expect((await world.state.load(KEY))?.status).toMatchObject({ currentStepIndex: 1, analysisRuns: [{ name: 'r2.0.step.1', stepIndex: 1 }] });
  });

  it("a provider that answers 'unsupported' counts as verified: the step is not held", async () => {
    const world = await canaryReady();
    world.traffic.verification = 'unsupported';
    await world.pass();
    expect(await world.pass()).toMatchObject({ verification: 'unsupported' });
    expect(world.analysis.calls).toEqual([expect.objectContaining({ type: 'start', action: expect.objectContaining({ name: 'r2.0.step.1' }) as object })]);
  });

  it('a provider without verification holds nothing: the next step starts in the pass that set the weight', async () => {
    const world = new CoreWorld(spec, { traffic: { capabilities: ['weight'] } });
    await world.until(async () => (await world.phase()) === 'Healthy');
    world.deploy('r2');
    await world.pass();
    world.runtime.setState('web', 'r2');
    world.clearRecords();
    await world.pass();
    expect(world.traffic.verified).toEqual([]);
    expect(world.analysis.calls).toEqual([expect.objectContaining({ type: 'start', action: expect.objectContaining({ name: 'r2.0.step.1' }) as object })]);
  });

  it('a rollout that no longer exists: nothing read, nothing done', async () => {
    const world = new CoreWorld(spec);
    world.exists = false;
    expect(await world.pass()).toEqual({ outcome: 'gone', committed: false });
    expect([world.runtime.calls, world.traffic.applied, world.sink]).toEqual([[], [], []]);
    expect(await world.state.load(KEY)).toBeUndefined();
  });
});

describe('observing', () => {
  it('shows the engine a crash-looping canary, its last error on one line', async () => {
    const world = await canaryReady();
    world.runtime.setState('web', 'r2', 'failed');
    world.runtime.patch('web-r2-3', { restartsSinceReady: CRASH_LOOP_RESTARTS, lastError: 'exited with code 1\n  boom  \n' });
    await world.pass();
    expect((await world.state.load(KEY))?.status).toMatchObject({ abort: true, reason: CRASH_LOOP_REASON, message: expect.stringContaining('last: exited with code 1 | boom') as string });
  });

  it('counts the canary\'s requests as the evidence its step begins from, and only while a canary is out', async () => {
    const world = await healthy();
    world.canaryRequests = 40;
    await world.pass();
    expect(world.counted).toEqual([]);
    world.deploy('r2');
    await world.pass();
    world.runtime.setState('web', 'r2');
    await world.pass();
    expect(world.counted).toEqual(['r2']);
    expect((await world.state.load(KEY))?.status.evidence).toMatchObject({ baselineRequests: 40 });
  });
});

describe('acting', () => {
  it('a surplus instance is stopped through the beforeStop hook (unroute and drain)', async () => {
    const world = await healthy();
    world.spec = { ...spec, replicas: 1 };
    await world.pass();
    expect(world.runtime.calls).toEqual([{ type: 'ensureInstances', service: 'web', revision: 'r1', replicas: 1 }]);
    expect(world.beforeStops).toEqual(['web:web-r1-2']);
  });

  it('one scaling call per revision at a time; the pass after it ends is asked for', async () => {
    const world = new CoreWorld(spec);
    world.runtime.holdScaling();
    await world.reconciler.pass(KEY);
    await world.reconciler.pass(KEY);
    expect(world.runtime.calls).toEqual([{ type: 'ensureInstances', service: 'web', revision: 'r1', replicas: 2 }]);
    expect(world.requeues).toEqual([]);
    world.runtime.releaseScaling();
    await world.reconciler.settled();
    expect(world.requeues).toEqual(['web']);
  });

  it('a scaling call that fails is said as an event, and the rollout is passed again', async () => {
    const world = new CoreWorld(spec);
    world.runtime.failScaling(new Error('no such command'));
    await world.pass();
    expect(world.sink).toContainEqual({ type: 'emit', service: 'web', event: { atMs: 1_000_000, level: 'error', reason: 'ScaleFailed', message: 'revision r1: no such command' } });
    expect(world.requeues).toEqual(['web']);
  });

  it('a traffic change the provider refuses is said as an event; the next pass tries again', async () => {
    const world = new CoreWorld(spec);
    world.traffic.failNextApply = new Error('table rejected');
    await world.pass();
    expect(world.sink).toContainEqual({ type: 'emit', service: 'web', event: { atMs: 1_000_000, level: 'error', reason: 'RoutingFailed', message: 'table rejected' } });
    expect(world.traffic.applied).toEqual([]);
    await world.pass();
    expect(world.traffic.applied.map((a) => a.traffic)).toEqual([onStable('r1')]);
  });

  it('a scaling call a server shed with a delay is not tried again before the delay is over, however many passes run; the pass after it is asked for then', async () => {
    const world = new CoreWorld(spec);
    world.runtime.failScaling(Object.assign(new Error('HTTP 429'), { retryAfterMs: 2000 }));
    await world.pass();
    expect(world.runtime.calls).toHaveLength(1);
    expect(world.requeues).toEqual(['web after 2000 ms']);
    expect(world.sink).toContainEqual({ type: 'emit', service: 'web', event: { atMs: 1_000_000, level: 'error', reason: 'ScaleFailed', message: 'revision r1: HTTP 429' } });
    world.clock.advance(1999);
    await world.pass();
    await world.pass();
    expect(world.runtime.calls).toHaveLength(1);
    world.clock.advance(1);
    await world.pass();
    expect(world.runtime.calls).toEqual([
      { type: 'ensureInstances', service: 'web', revision: 'r1', replicas: 2 },
      { type: 'ensureInstances', service: 'web', revision: 'r1', replicas: 2 },
    ]);
  });

  it('a traffic change a server shed with a delay is not tried again before the delay is over; the pass after it is asked for', async () => {
    const world = new CoreWorld(spec);
    world.traffic.failNextApply = Object.assign(new Error('Service default/web was not patched: throttled'), { retryAfterMs: 1500 });
    await world.pass();
    expect(world.requeues).toContain('web after 1500 ms');
    expect(world.sink).toContainEqual({ type: 'emit', service: 'web', event: { atMs: 1_000_000, level: 'error', reason: 'RoutingFailed', message: 'Service default/web was not patched: throttled' } });
    world.clock.advance(1499);
    await world.pass();
    expect(world.traffic.applied).toEqual([]);
    world.clock.advance(1);
    await world.pass();
    expect(world.traffic.applied.map((a) => a.traffic)).toEqual([onStable('r1')]);
  });

  it('an instance that became ready is routed at once by applyTraffic, without a pass', async () => {
    const world = new CoreWorld(spec);
    await world.pass();
    world.runtime.setState('web', 'r1');
    world.clearRecords();
    await world.reconciler.applyTraffic(KEY);
    expect(world.traffic.applied).toEqual([{ service: 'web', traffic: onStable('r1'), endpoints: [endpoint('web-r1-1', 'r1', true), endpoint('web-r1-2', 'r1', true)] }]);
    expect(world.sink).toEqual([]);
  });

  it('a revision retired by the engine is forgotten only once nothing runs it, stopping instances included', async () => {
    const world = new CoreWorld({ ...spec, revisionHistoryLimit: 0 }, { firstRevision: 'r0' });
    world.deploy('r1');
    await world.runtime.ensureInstances({ service: 'web', revision: 'r0', template: {}, replicas: 1 });
    world.runtime.setState('web', 'r0', 'stopping');
    await world.pass();
    expect(world.forgotten).toEqual([]);
    await world.runtime.stopInstance({ id: 'web-r0-1' });
    await world.pass();
    expect(world.forgotten).toEqual(['r0']);
  });
});

describe('operations', () => {
  it('abort puts all traffic back on stable at once, committed first', async () => {
    const world = await canaryReady();
    await world.pass();
    await world.pass();
    world.clearRecords();
    const committedAtApply: unknown[] = [];
    world.traffic.onApply = async () => void committedAtApply.push((await world.state.load(KEY))?.traffic);
    const result = await world.reconciler.operate(KEY, { type: 'abort' }, { event: { level: 'info', reason: 'OperationAbort', message: 'abort by operator' } });
    expect(result.status).toMatchObject({ abort: true, phase: 'Degraded' });
    expect(world.traffic.applied.map((a) => a.traffic)).toEqual([{ ...onStable('r1'), canaryRevision: 'r2' }]);
    expect(committedAtApply).toEqual([{ ...onStable('r1'), canaryRevision: 'r2' }]);
    expect(world.sink).toMatchObject([{ type: 'committed', events: [{ reason: 'OperationAbort', message: 'abort by operator' }, { reason: 'RolloutAborted' }] }]);
    expect(world.analysis.calls).toEqual([{ type: 'stop', service: 'web', name: 'r2.0.step.1' }]);
  });

  it('refuses a decision made on a version that moved on, doing nothing', async () => {
    const world = await canaryReady();
    const { version } = (await world.state.load(KEY))!;
    const err = await world.reconciler.operate(KEY, { type: 'abort' }, { expectedVersion: version - 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateConflictError);
    expect(err).toMatchObject({ expectedVersion: version - 1, actualVersion: version });
    expect([world.traffic.applied, world.sink, (await world.state.load(KEY))!.version]).toEqual([[], [], version]);
  });

  it('passes on the engine\'s refusal of an operation that makes no sense now', async () => {
    const world = await healthy();
    await expect(world.reconciler.operate(KEY, { type: 'abort' })).rejects.toBeInstanceOf(OperationError);
    expect([world.traffic.applied, world.sink]).toEqual([[], []]);
  });

  it('refuses an operation on a rollout that does not exist', async () => {
    const world = new CoreWorld(spec);
    world.exists = false;
    await expect(world.reconciler.operate(KEY, { type: 'promote' })).rejects.toEqual(expect.objectContaining({ code: 'NotFound' }));
    await expect(world.reconciler.operate(KEY, { type: 'promote' })).rejects.toBeInstanceOf(ReconcilerError);
  });
});
