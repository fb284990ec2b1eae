/**
 * `trafficRouting.maxTrafficWeight` other than 100: every weight the engine decides, stores and
 * sizes instances by is on that scale (as Argo gives it to the router), and people read it with
 * its percent beside it.
 */
import { describe, expect, it } from 'vitest';
import { Sim } from '../../test/fixtures/engine/simulated-world.js';
import type { RolloutSpec } from '../documents/schema.js';
import { describeStep, describeWeight } from './describe.js';
import { applyOperation } from './operations.js';
import { planRollout } from './plan.js';
import { OperationError } from './types.js';

const spec = (maxTrafficWeight: number | undefined, dynamicStableScale = false): RolloutSpec => ({
  replicas: 10,
  strategy: { canary: { trafficRouting: maxTrafficWeight === undefined ? {} : { maxTrafficWeight }, dynamicStableScale, steps: [{ setWeight: 200 }, { pause: {} }, { setWeight: 555 }, { pause: {} }] } },
});

/** A rollout of v2 over v1 paused at `step` (1: after setWeight 200, 3: after setWeight 555). */
function pausedAt(s: RolloutSpec, step: number): Sim {
  const sim = new Sim(s, 'v1');
  sim.until((x) => x.status?.phase === 'Healthy');
  sim.desiredRevision = 'v2';
  sim.until((x) => x.status?.currentStepIndex === 1 && x.status.phase === 'Paused');
  if (step === 3) {
    sim.operate({ type: 'promote' });
    sim.until((x) => x.status?.currentStepIndex === 3 && x.status.phase === 'Paused');
  }
  return sim;
}

describe('maxTrafficWeight: weights on the router\'s scale', () => {
  // scale | dynamicStableScale | paused at step | → traffic canaryWeight, status weights canary/stable, instances v2/v1
  it.each<[number, boolean, number, number, [number, number], [number, number]]>([
    [1000, false, 1, 200, [200, 800], [2, 10]],
    [1000, false, 3, 555, [555, 445], [6, 10]],
    [1000, true, 1, 200, [200, 800], [2, 8]],
    [1000, true, 3, 555, [555, 445], [6, 5]],
    [10000, false, 1, 200, [200, 9800], [1, 10]],
    [10000, false, 3, 555, [555, 9445], [1, 10]],
  ])('scale %i, dynamicStableScale %s, step %i → canaryWeight %i, weights %j, instances %j', (scale, dynamic, step, canaryWeight, weights, instances) => {
    const sim = pausedAt(spec(scale, dynamic), step);
    sim.run(20);
    expect(sim.traffic?.canaryWeight).toBe(canaryWeight);
    expect([sim.status!.weights.canary, sim.status!.weights.stable]).toEqual(weights);
    expect([sim.replicasOf('v2'), sim.replicasOf('v1')]).toEqual(instances);
  });

  it('promotion puts all of the scale on the new revision (stable), abort puts it back on stable', () => {
    const promoted = pausedAt(spec(1000), 1);
    promoted.operate({ type: 'promoteFull' });
    promoted.until((x) => x.status?.stableRevision === 'v2');
    expect(promoted.status!.weights).toEqual({ canary: 0, stable: 1000 });
    const aborted = pausedAt(spec(1000), 3);
    aborted.operate({ type: 'abort' });
    aborted.run(5);
    expect(aborted.traffic?.canaryWeight).toBe(0);
    expect(aborted.status!.weights).toEqual({ canary: 0, stable: 1000 });
  });

  it('a weight set by hand is on the same scale: 250 of 1000 is a quarter; above the scale is refused with the scale named', () => {
    const sim = pausedAt(spec(1000), 1);
    sim.operate({ type: 'setWeight', weight: 250 });
    sim.run(20);
    expect(sim.traffic?.canaryWeight).toBe(250);
    expect(sim.replicasOf('v2')).toBe(3);
    expect(sim.events('ManualWeight')).toEqual(['ManualWeight: Canary weight set to 250/1000 (25%) by hand; holds until the next step or promote']);
    const refuse = () => applyOperation({ spec: spec(1000), status: sim.status!, operation: { type: 'setWeight', weight: 1001 }, now: sim.now });
    expect(refuse).toThrow(OperationError);
    expect(refuse).toThrow('weight: must be an integer from 0 to 1000 (trafficRouting.maxTrafficWeight), got 1001');
    // On the default scale the words stay as they were.
    expect(() => applyOperation({ spec: spec(undefined), status: sim.status!, operation: { type: 'setWeight', weight: 101 }, now: sim.now })).toThrow('weight: must be an integer from 0 to 100, got 101');
  });

  it('people read the weight with its percent; plan rows are in percent', () => {
    expect(describeWeight(200, 1000)).toBe('200/1000 (20%)');
    expect(describeWeight(555, 1000)).toBe('555/1000 (55.5%)');
    expect(describeWeight(20)).toBe('20%');
    expect(describeStep({ setWeight: 200 }, 1000)).toBe('set weight 200/1000 (20%)');
    const rows = planRollout({ spec: spec(1000) }).rows;
    expect(rows.map((r) => [r.canaryWeight, r.stableWeight])).toEqual([[20, 80], [20, 80], [55.5, 44.5], [55.5, 44.5], [100, 0]]);
  });
});
