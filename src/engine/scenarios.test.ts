import { describe, expect, it } from 'vitest';
import { Sim, dedupe } from '../../test/fixtures/engine/simulated-world.js';
import type { CanaryStrategy, RolloutSpec } from '../spec/schema.js';

const canarySpec = (canary: CanaryStrategy, replicas = 4, more: Partial<RolloutSpec> = {}): RolloutSpec => ({ replicas, strategy: { canary }, ...more });

/** A world where v1 is deployed, stable and healthy. */
function stableOn(spec: RolloutSpec, options: ConstructorParameters<typeof Sim>[2] = {}): Sim {
  const sim = new Sim(spec, 'v1', options);
  sim.until((s) => s.status?.phase === 'Healthy');
  return sim;
}

describe('first revision', () => {
  it('is deployed at full scale and becomes stable immediately', () => {
    const sim = new Sim(canarySpec({ steps: [{ setWeight: 20 }, { pause: {} }] }, 3), 'v1');
    sim.tick();
    expect(sim.status).toMatchObject({ stableRevision: 'v1', canaryRevision: 'v1', phase: 'Progressing' });
    expect(sim.replicasOf('v1')).toBe(3);
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.events('InitialDeploy')).toHaveLength(1);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
  });
});

describe('rolling update (canary without steps)', () => {
  it('replaces instances within maxSurge and maxUnavailable and ends with the new revision stable', () => {
    const sim = stableOn(canarySpec({}, 4));
    sim.desiredRevision = 'v2';
    const from = sim.log.length;
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v2');
    const moves = dedupe(sim.log.slice(from - 1).map((l) => [l.replicas.v1, l.replicas.v2 ?? 0]));
    // 4 instances at 25%: surge 1, unavailable 1.
    expect(moves).toEqual([[4, 0], [3, 1], [2, 2], [1, 3], [0, 4]]);
    for (const l of sim.log) expect((l.replicas.v1 ?? 0) + (l.replicas.v2 ?? 0)).toBeLessThanOrEqual(5);
    expect(sim.replicasOf('v1')).toBe(0);
  });
});

describe('canary with traffic routing and every step type', () => {
  const steps: CanaryStrategy['steps'] = [
    { setCanaryScale: { replicas: 1 } },
    { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] } },
    { setMirrorRoute: { name: 'shadow', percentage: 50, match: [{ method: { exact: 'GET' } }] } },
    { setWeight: 20 },
    { pause: { duration: '30s' } },
    { analysis: { templates: [{ templateName: 'errors' }] } },
    { setCanaryScale: { matchTrafficWeight: true } },
    { setWeight: 60 },
    { setHeaderRoute: { name: 'beta' } },
    { setMirrorRoute: { name: 'shadow' } },
    { pause: {} },
  ];

  it('walks the steps: weights, routes, scale, pause timer, analysis, manual gate, promotion', () => {
    const sim = stableOn(canarySpec({ trafficRouting: { builtin: {} }, steps }, 10));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 4 && s.traffic?.canaryWeight === 20);
    // setCanaryScale stays in force over later setWeight steps until matchTrafficWeight (as Argo).
    expect(sim.replicasOf('v2')).toBe(1);
    expect(sim.replicasOf('v1')).toBe(10);
    expect(sim.traffic?.headerRoutes).toEqual([{ name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] }]);
    expect(sim.traffic?.mirrorRoutes).toEqual([{ name: 'shadow', percentage: 50, match: [{ method: { exact: 'GET' } }] }]);
    expect(sim.status?.phase).toBe('Paused');
    expect(sim.lastRequeueMs).toBe(30_000);
    const pausedAt = sim.now;
    sim.until((s) => s.status?.currentStepIndex === 5);
    expect(sim.now - pausedAt).toBeGreaterThanOrEqual(30_000);
    expect(sim.actions.filter((a) => a.type === 'startAnalysis')).toMatchObject([{ kind: 'step', name: 'v2.0.step.5', revision: 'v2' }]);
    sim.until((s) => s.status?.currentStepIndex === 10);
    expect(sim.status?.phase).toBe('Paused');
    expect(sim.traffic).toMatchObject({ canaryWeight: 60, headerRoutes: [], mirrorRoutes: [] });
    expect(sim.replicasOf('v2')).toBe(6);
    sim.run(20);
    expect(sim.status?.currentStepIndex).toBe(10);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.weights()).toEqual([0, 20, 60, 0]);
    expect(sim.trafficStates().slice(-2)).toEqual(['v1:60', 'v2:0']);
    // The old stable stays up for scaleDownDelaySeconds (30s by default with a router).
    expect(sim.status?.phase).toBe('Completed');
    expect(sim.replicasOf('v1')).toBe(10);
    sim.until((s) => s.status?.phase === 'Healthy');
    expect(sim.replicasOf('v1')).toBe(0);
    expect(sim.events('RolloutStepCompleted')).toHaveLength(10);
    expect(sim.events('RolloutPromoted')).toEqual(['RolloutPromoted: Promoted past step 11/11: pause until promoted']);
  });

  it('shifts traffic only once the canary instances are ready', () => {
    const sim = stableOn(canarySpec({ trafficRouting: {}, steps: [{ setWeight: 50 }, { pause: {} }] }, 4), { readyAfterTicks: 3 });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.traffic?.canaryWeight === 50);
    const shiftedAt = sim.log.findIndex((l) => l.weight === 50);
    expect(sim.log[shiftedAt - 1]?.weight).toBe(0);
    expect(sim.readyOf('v2')).toBe(2);
  });
});

describe('basic canary (no traffic routing): instances are the split', () => {
  it('sizes canary and stable from setWeight within surge and unavailability', () => {
    const sim = stableOn(canarySpec({ maxSurge: 1, maxUnavailable: 0, steps: [{ setWeight: 50 }, { pause: {} }] }, 4));
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    expect([sim.replicasOf('v1'), sim.replicasOf('v2')]).toEqual([2, 2]);
    expect(sim.traffic?.canaryWeight).toBe(50);
    sim.operate({ type: 'promote' });
    sim.until((s) => s.status?.phase === 'Healthy');
    expect([sim.replicasOf('v1'), sim.replicasOf('v2')]).toEqual([0, 4]);
    for (const l of sim.log) expect((l.replicas.v1 ?? 0) + (l.replicas.v2 ?? 0)).toBeLessThanOrEqual(5);
  });
});
