import { describe, expect, it } from 'vitest';
import { Sim, dedupe, type AnalysisScript } from '../../test/fixtures/engine/simulated-world.js';
import type { BlueGreenStrategy, CanaryStrategy, Hooks, RolloutSpec } from '../documents/schema.js';
import type { StartAnalysisAction } from './types.js';

const canary = (hooks: Hooks, c: CanaryStrategy = { trafficRouting: {}, steps: [{ setWeight: 20 }, { pause: { duration: 10 } }, { setWeight: 60 }] }): RolloutSpec =>
  ({ replicas: 5, strategy: { canary: c }, hooks });
const blueGreen = (hooks: Hooks, bg: BlueGreenStrategy = {}): RolloutSpec => ({ replicas: 3, strategy: { blueGreen: bg }, hooks });

const migrate = (step: string) => ({ command: ['./migrate', step] });

function stableOn(spec: RolloutSpec): Sim {
  const sim = new Sim(spec, 'v1');
  sim.until((s) => s.status?.phase === 'Healthy');
  return sim;
}

/** Hook runs end (each kind its own way) once they are `after` ms old; analyses pass. */
const hooksEnd = (outcome: Partial<Record<string, ReturnType<AnalysisScript>>>, after = 5000): AnalysisScript =>
  ({ kind, age }) => (kind in outcome ? (age >= after ? outcome[kind]! : 'Running') : 'Successful');

const hookRuns = (sim: Sim) => sim.actions.filter((a): a is StartAnalysisAction => a.type === 'startAnalysis' && a.hook !== undefined);

describe('preRollout hook', () => {
  it('runs before the new revision has any instance or traffic, then the rollout goes on', () => {
    const sim = stableOn(canary({ preRollout: { ...migrate('expand'), env: { DB: 'shop' }, timeoutSeconds: 120 } }));
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.tick();
    expect(hookRuns(sim)).toEqual([{
      type: 'startAnalysis', name: 'v2.0.preRolloutHook', kind: 'preRolloutHook', revision: 'v2', analysis: { templates: [] },
      hook: {
        name: 'preRollout',
        template: { metrics: [{ name: 'preRollout', provider: { command: { command: ['./migrate', 'expand'], env: { DB: 'shop' }, timeoutSeconds: 120 } }, count: 1, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 0 }] },
      },
    }]);
    sim.run(4);
    expect(sim.replicasOf('v2')).toBe(0);
    expect(sim.replicasOf('v1')).toBe(5);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(sim.status?.phase).toBe('Progressing');
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.events('HookSucceeded')).toEqual(['HookSucceeded: preRollout hook of v2 succeeded']);
    const firstInstance = sim.log.findIndex((l) => (l.replicas.v2 ?? 0) > 0);
    expect(sim.log[firstInstance]!.atMs).toBeGreaterThanOrEqual(sim.log[0]!.atMs + 5000);
    expect(sim.weights()).toEqual([0, 20, 60, 0]);
  });

  it('that fails aborts: the new revision never had an instance nor traffic, and the reason names the hook', () => {
    const sim = stableOn(canary({ preRollout: migrate('expand') }));
    sim.analysis = hooksEnd({ preRolloutHook: { phase: 'Failed', message: 'metric "preRollout" assessed Failed: ./migrate exited with code 3: column exists' } });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({
      abort: true, reason: 'HookFailed', stableRevision: 'v1',
      message: 'preRollout hook failed: metric "preRollout" assessed Failed: ./migrate exited with code 3: column exists',
    });
    sim.run(40);
    expect(sim.log.every((l) => (l.replicas.v2 ?? 0) === 0 && (l.weight ?? 0) === 0)).toBe(true);
    expect(sim.events('RolloutAborted')).toHaveLength(1);
  });

  it('that times out (an Error run) aborts the same way', () => {
    const sim = stableOn(canary({ preRollout: migrate('expand') }));
    sim.analysis = hooksEnd({ preRolloutHook: { phase: 'Error', message: 'command: ./migrate did not finish within 600000 ms and was killed' } }, 600_000);
    sim.desiredRevision = 'v2';
    sim.tick();
    expect(hookRuns(sim)[0]?.hook?.template.metrics[0]?.provider).toEqual({ command: { command: ['./migrate', 'expand'], timeoutSeconds: 600 } });
    sim.until((s) => s.status?.phase === 'Degraded', 700);
    expect(sim.status?.message).toBe('preRollout hook failed: command: ./migrate did not finish within 600000 ms and was killed');
    // The progress deadline (600 s) does not run while the hook does: the hook's own timeout decides.
    expect(sim.status?.reason).toBe('HookFailed');
  });

  it('runs again on retry, under the new attempt', () => {
    const sim = stableOn(canary({ preRollout: migrate('expand') }));
    sim.analysis = hooksEnd({ preRolloutHook: 'Failed' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful' });
    sim.operate({ type: 'retry' });
    sim.tick();
    expect(sim.replicasOf('v2')).toBe(0);
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(hookRuns(sim).map((a) => a.name)).toEqual(['v2.0.preRolloutHook', 'v2.1.preRolloutHook']);
  });

  it('does not run on a rollback to an earlier revision, nor on the first deploy', () => {
    const sim = stableOn(canary({ preRollout: migrate('expand'), postPromotion: migrate('contract') }));
    expect(hookRuns(sim)).toEqual([]);
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful', postPromotionHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v2');
    expect(hookRuns(sim).map((a) => a.name)).toEqual(['v2.0.preRolloutHook', 'v2.0.postPromotionHook']);
    // Past the scale-down delay v1 is cold: undo rolls it out through the steps, without hooks.
    sim.desiredRevision = 'v1';
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v1');
    expect(hookRuns(sim).map((a) => a.name)).toEqual(['v2.0.preRolloutHook', 'v2.0.postPromotionHook']);
    expect(sim.events('RolloutCompleted')).toHaveLength(2);
  });

  it('holds a superseded canary\'s instances while the next revision\'s hook runs', () => {
    const sim = stableOn(canary({ preRollout: migrate('expand') }));
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful' }, 3000);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.currentStepIndex === 1);
    const v2 = sim.replicasOf('v2');
    expect(v2).toBeGreaterThan(0);
    sim.desiredRevision = 'v3';
    sim.run(2);
    expect(sim.replicasOf('v3')).toBe(0);
    expect(sim.replicasOf('v2')).toBe(v2);
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    sim.until((s) => s.status?.stableRevision === 'v3');
  });
});

describe('prePromotion hook', () => {
  it('holds the canary at its last weight until it passes, then the switch to 100% happens', () => {
    const sim = stableOn(canary({ prePromotion: migrate('check') }));
    sim.analysis = hooksEnd({ prePromotionHook: 'Successful' }, 8000);
    sim.desiredRevision = 'v2';
    sim.until((s) => hookRuns(s).length === 1);
    expect(sim.traffic?.canaryWeight).toBe(60);
    expect(sim.status?.currentStepIndex).toBe(2);
    sim.run(5);
    expect(sim.traffic?.canaryWeight).toBe(60);
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(sim.weights()).toEqual([0, 20, 60, 0]);
    const hookStarted = sim.log.find((l) => l.weight === 60)!.atMs;
    const switched = sim.log.find((l) => l.trafficStable === 'v2')!.atMs;
    expect(switched - hookStarted).toBeGreaterThanOrEqual(8000);
  });

  it('that fails aborts: traffic back to 0% on the new revision, the reason names the hook', () => {
    const sim = stableOn(canary({ prePromotion: migrate('check') }));
    sim.analysis = hooksEnd({ prePromotionHook: 'Failed' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({ reason: 'HookFailed', message: 'prePromotion hook failed', stableRevision: 'v1' });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v1', canaryWeight: 0 });
    expect(sim.weights()).toEqual([0, 20, 60, 0]);
  });

  it('gates a step to full weight, before it takes effect', () => {
    const sim = stableOn(canary({ prePromotion: migrate('check') }, { trafficRouting: {}, steps: [{ setWeight: 30 }, { setWeight: 100 }, { pause: {} }] }));
    sim.analysis = hooksEnd({ prePromotionHook: 'Failed' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.weights()).toEqual([0, 30, 0]);
  });

  it('still runs with promote --full, which waits for it', () => {
    const sim = stableOn(canary({ prePromotion: migrate('check') }, { trafficRouting: {}, steps: [{ setWeight: 20 }, { pause: {} }] }));
    sim.analysis = hooksEnd({ prePromotionHook: 'Successful' }, 6000);
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Paused');
    sim.operate({ type: 'promoteFull' });
    sim.run(3);
    expect(sim.traffic?.canaryWeight).toBe(20);
    sim.until((s) => s.status?.stableRevision === 'v2');
    expect(hookRuns(sim).map((a) => a.name)).toEqual(['v2.0.prePromotionHook']);
  });
});

describe('postPromotion hook', () => {
  it('runs after promotion; its failure leaves the new revision stable and the rollout Degraded until the next rollout', () => {
    const sim = stableOn(canary({ postPromotion: migrate('contract') }));
    sim.analysis = hooksEnd({ postPromotionHook: { phase: 'Failed', message: 'metric "postPromotion" assessed Failed: ./migrate exited with code 1' } });
    sim.desiredRevision = 'v2';
    sim.until((s) => hookRuns(s).length === 1);
    expect(sim.status).toMatchObject({ stableRevision: 'v2', postPromotionHook: 'v2.0.postPromotionHook' });
    expect(sim.traffic).toMatchObject({ stableRevision: 'v2', canaryWeight: 0 });
    sim.tick();
    expect(sim.status?.message).toMatch(/postPromotion hook running$/);
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({
      reason: 'PostPromotionHookFailed', stableRevision: 'v2', abort: false,
      message: 'postPromotion hook failed: metric "postPromotion" assessed Failed: ./migrate exited with code 1; revision v2 stays stable (a hook after promotion cannot undo it)',
    });
    expect(sim.events('PostPromotionHookFailed')).toHaveLength(1);
    sim.run(60);
    expect(sim.status?.phase).toBe('Degraded');
    expect(sim.traffic).toMatchObject({ stableRevision: 'v2', canaryWeight: 0 });
    expect(sim.replicasOf('v2')).toBe(5);
    sim.desiredRevision = 'v3';
    sim.tick();
    expect(sim.status?.phase).toBe('Progressing');
  });

  it('that succeeds ends in Healthy', () => {
    const sim = stableOn(canary({ postPromotion: migrate('contract') }));
    sim.analysis = hooksEnd({ postPromotionHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v2' && s.status.postPromotionHook === undefined);
    expect(sim.events('HookSucceeded')).toEqual(['HookSucceeded: postPromotion hook of v2 succeeded']);
  });

  it('starts in a pass after the promotion, once the switch has gone out, never beside it', () => {
    const sim = stableOn(canary({ postPromotion: migrate('contract') }));
    sim.analysis = hooksEnd({ postPromotionHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.traffic?.stableRevision === 'v2');
    expect(sim.status?.postPromotionHook).toBe('v2.0.postPromotionHook');
    expect(hookRuns(sim)).toEqual([]);
    sim.tick();
    expect(hookRuns(sim).map((a) => a.name)).toEqual(['v2.0.postPromotionHook']);
  });
});

describe('hooks in blue-green', () => {
  it('preRollout before the preview exists, prePromotion before the switch (the preview grows meanwhile), postPromotion after', () => {
    const sim = stableOn(blueGreen({ preRollout: migrate('expand'), prePromotion: migrate('check'), postPromotion: migrate('contract') }, { previewReplicaCount: 1 }));
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful', prePromotionHook: 'Successful', postPromotionHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.run(3);
    expect(sim.replicasOf('v2')).toBe(0);
    sim.until((s) => hookRuns(s).length === 2);
    sim.run(3);
    expect(sim.replicasOf('v2')).toBe(3);
    expect(sim.traffic?.stableRevision).toBe('v1');
    sim.until((s) => s.status?.phase === 'Healthy' && s.status.stableRevision === 'v2');
    expect(hookRuns(sim).map((a) => a.kind)).toEqual(['preRolloutHook', 'prePromotionHook', 'postPromotionHook']);
    expect(dedupe(sim.log.map((l) => l.trafficStable))).toEqual(['v1', 'v2']);
  });

  it('a failed prePromotion hook aborts with users still on the active revision', () => {
    const sim = stableOn(blueGreen({ prePromotion: migrate('check') }));
    sim.analysis = hooksEnd({ prePromotionHook: 'Error' });
    sim.desiredRevision = 'v2';
    sim.until((s) => s.status?.phase === 'Degraded');
    expect(sim.status).toMatchObject({ reason: 'HookFailed', stableRevision: 'v1' });
    expect(dedupe(sim.log.map((l) => l.trafficStable))).toEqual(['v1']);
  });

  it('a Job hook carries its timeout as the Job\'s deadline', () => {
    const sim = stableOn(blueGreen({ preRollout: { job: { spec: { template: { spec: { restartPolicy: 'Never' } } } }, timeoutSeconds: 90 } }));
    sim.analysis = hooksEnd({ preRolloutHook: 'Successful' });
    sim.desiredRevision = 'v2';
    sim.tick();
    expect(hookRuns(sim)[0]?.hook?.template.metrics[0]?.provider).toEqual({ job: { spec: { template: { spec: { restartPolicy: 'Never' } }, activeDeadlineSeconds: 90 } } });
  });
});
