import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { BlueGreenStrategy, CanaryStrategy, RolloutSpec } from '../documents/schema.js';
import { applyOperation } from './operations.js';
import { reconcile } from './reconcile.js';
import { OperationError } from './types.js';

const steps: CanaryStrategy['steps'] = [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }];
const canarySpec = (canary: Partial<CanaryStrategy> = {}, more: Partial<RolloutSpec> = {}): RolloutSpec => ({
  replicas: 3, strategy: { canary: { trafficRouting: { builtin: {} }, steps, analysis: { templates: [{ templateName: 'bg' }] }, ...canary } }, ...more,
});
const bgSpec = (bg: Partial<BlueGreenStrategy> = {}, more: Partial<RolloutSpec> = {}): RolloutSpec => ({ replicas: 3, strategy: { blueGreen: { ...bg } }, ...more });

/** v1 stable and healthy, then each of `revisions` rolled out in turn and promoted fully. */
function promotedThrough(spec: RolloutSpec, revisions: string[]): Sim {
  const sim = new Sim(spec, 'v1');
  sim.until((s) => s.status?.phase === 'Healthy');
  for (const r of revisions) {
    sim.desiredRevision = r;
    sim.until((s) => s.status?.canaryRevision === r && (s.status.phase === 'Paused' || s.status.stableRevision === r));
    if (sim.status?.stableRevision !== r) sim.operate({ type: 'promoteFull' });
    sim.until((s) => s.status?.stableRevision === r);
  }
  return sim;
}

/** Scale-ups the engine asked for since action `from`. */
function scaleUps(sim: Sim, from: number, revision: string): number {
  return sim.actions.slice(from).filter((a) => a.type === 'scale' && a.revision === revision && a.replicas > 0).length;
}

describe('undo to a revision whose instances are still up (inside the scale-down delay)', () => {
  it('canary: all traffic goes back on the same pass, with no new instance and no step', () => {
    const sim = promotedThrough(canarySpec({ scaleDownDelaySeconds: 60 }), ['v2']);
    sim.run(5);
    expect(sim.readyOf('v1')).toBe(3);
    const from = sim.actions.length;
    sim.desiredRevision = 'v1';
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v1', currentStepIndex: steps.length });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(scaleUps(sim, from, 'v1')).toBe(0);
    expect(sim.actions.slice(from).some((a) => a.type === 'startAnalysis')).toBe(false);
    expect(sim.events('RollbackToWarmRevision')).toHaveLength(1);
    // The version undone is kept up for its own delay, so undoing the undo is instant too.
    expect(sim.replicasOf('v2')).toBe(3);
    sim.run(30);
    expect(sim.replicasOf('v2')).toBe(3);
    sim.until((s) => s.replicasOf('v2') === 0, 40);
    sim.until((s) => s.status?.phase === 'Healthy', 3);
  });

  it('canary: once the delay has run out, going back is a rollout through every step again', () => {
    const sim = promotedThrough(canarySpec({ scaleDownDelaySeconds: 5 }), ['v2']);
    sim.until((s) => s.replicasOf('v1') === 0);
    sim.desiredRevision = 'v1';
    sim.until((s) => s.status?.phase === 'Paused');
    expect(sim.status).toMatchObject({ stableRevision: 'v2', canaryRevision: 'v1', currentStepIndex: 1 });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v2', canaryRevision: 'v1', canaryWeight: 20 });
  });

  it('blue-green: the old active takes all traffic back at once, with no new instance', () => {
    const sim = promotedThrough(bgSpec({ scaleDownDelaySeconds: 60, prePromotionAnalysis: { templates: [{ templateName: 'smoke' }] } }), ['v2']);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v2' });
    const from = sim.actions.length;
    sim.desiredRevision = 'v1';
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v1' });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(sim.traffic?.previewRevision).toBeUndefined();
    expect(scaleUps(sim, from, 'v1')).toBe(0);
    expect(sim.actions.slice(from).some((a) => a.type === 'startAnalysis')).toBe(false);
  });

  it('while a new rollout is in progress, undo to the warm revision before it drops the canary and keeps the stable warm', () => {
    const sim = promotedThrough(canarySpec({ scaleDownDelaySeconds: 60 }), ['v2']);
    sim.desiredRevision = 'v3';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.desiredRevision = 'v1';
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v1' });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(sim.replicasOf('v3')).toBe(0);
    expect(sim.replicasOf('v2')).toBe(3);
  });
});

describe('rollbackWindow', () => {
  // No scale-down delay: nothing is warm, so only the window can skip the steps.
  const windowed = (revisions: number) => canarySpec({ scaleDownDelaySeconds: 0 }, { rollbackWindow: { revisions } });

  it('a rollback inside the window skips steps and analyses: the old revision comes up whole, then takes all traffic at once', () => {
    const sim = promotedThrough(windowed(2), ['v2']);
    expect(sim.replicasOf('v1')).toBe(0);
    const from = sim.actions.length;
    const logFrom = sim.log.length;
    sim.desiredRevision = 'v1';
    sim.until((s) => s.status?.stableRevision === 'v1');
    expect(sim.events('RollbackWithinWindow')).toHaveLength(1);
    expect(sim.actions.slice(from).some((a) => a.type === 'startAnalysis')).toBe(false);
    // No canary weight in between: users stay on v2 until v1 is whole, then all move.
    const states = sim.log.slice(logFrom).map((l) => `${l.trafficStable ?? '-'}:${l.weight ?? 0}`);
    expect([...new Set(states)]).toEqual(['v2:0', 'v1:0']);
    expect(sim.log.slice(logFrom).some((l) => l.phase === 'Paused')).toBe(false);
  });

  it('counts the stable revision among the last N: from v3 with revisions 2, v2 is inside and v1 is not', () => {
    const outside = promotedThrough(windowed(2), ['v2', 'v3']);
    outside.desiredRevision = 'v1';
    outside.until((s) => s.status?.phase === 'Paused');
    expect(outside.status).toMatchObject({ stableRevision: 'v3', canaryRevision: 'v1', currentStepIndex: 1 });
    expect(outside.events('RollbackWithinWindow')).toHaveLength(0);

    const inside = promotedThrough(windowed(2), ['v2', 'v3']);
    inside.desiredRevision = 'v2';
    inside.until((s) => s.status?.stableRevision === 'v2');
    expect(inside.events('RollbackWithinWindow')).toHaveLength(1);
  });

  it('does not apply to a newer revision, nor when revisions is 0', () => {
    const forward = promotedThrough(windowed(5), []);
    forward.desiredRevision = 'v2';
    forward.until((s) => s.status?.phase === 'Paused');
    expect(forward.status).toMatchObject({ canaryRevision: 'v2', currentStepIndex: 1 });

    const off = promotedThrough(windowed(0), ['v2']);
    off.desiredRevision = 'v1';
    off.until((s) => s.status?.phase === 'Paused');
    expect(off.status).toMatchObject({ canaryRevision: 'v1', currentStepIndex: 1 });
  });

  it('blue-green: skips pre-promotion analysis and the manual gate', () => {
    const spec = bgSpec({ scaleDownDelaySeconds: 0, autoPromotionEnabled: false, prePromotionAnalysis: { templates: [{ templateName: 'smoke' }] } }, { rollbackWindow: { revisions: 3 } });
    const sim = new Sim(spec, 'v1');
    sim.until((s) => s.status?.phase === 'Healthy');
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.stableRevision === 'v2' && s.replicasOf('v1') === 0);
    const from = sim.actions.length;
    const logFrom = sim.log.length;
    sim.desiredRevision = 'v1';
    sim.until((s) => s.status?.stableRevision === 'v1');
    expect(sim.actions.slice(from).some((a) => a.type === 'startAnalysis')).toBe(false);
    expect(sim.log.slice(logFrom).some((l) => l.phase === 'Paused')).toBe(false);
  });

  it('a retry after an abort of a windowed rollback walks the steps', () => {
    const sim = promotedThrough(windowed(2), ['v2']);
    sim.desiredRevision = 'v1';
    sim.tick();
    sim.operate({ type: 'abort' });
    sim.operate({ type: 'retry' });
    expect(sim.status?.rollbackWithinWindow).toBeUndefined();
    sim.until((s) => s.status?.phase === 'Paused');
    expect(sim.status).toMatchObject({ canaryRevision: 'v1', currentStepIndex: 1 });
  });
});

describe('fastRollback: false (a release member, which goes back through the release\'s gates)', () => {
  it('neither switches at once to a warm revision nor skips steps inside the window', () => {
    const sim = promotedThrough(canarySpec({ scaleDownDelaySeconds: 60 }, { rollbackWindow: { revisions: 5 } }), ['v2']);
    const result = reconcile({ spec: sim.spec, status: sim.status, observed: sim.observed(), now: sim.now, desiredRevision: 'v1', fastRollback: false });
    expect(result.status).toMatchObject({ stableRevision: 'v2', canaryRevision: 'v1', currentStepIndex: 0, promoteFull: false });
    expect(result.status.rollbackWithinWindow).toBeUndefined();
  });
});

describe('abort after promotion', () => {
  it('is refused with a sentence that points at undo', () => {
    const sim = promotedThrough(canarySpec({ scaleDownDelaySeconds: 0 }), ['v2']);
    let caught: unknown;
    try { applyOperation({ spec: sim.spec, status: sim.status!, operation: { type: 'abort' }, now: sim.now, service: 'hello' }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(OperationError);
    expect((caught as OperationError).code).toBe('NotInProgress');
    expect((caught as OperationError).message).toContain('nothing to abort');
    expect((caught as OperationError).message).toContain('`graylane undo hello`');
  });
});
