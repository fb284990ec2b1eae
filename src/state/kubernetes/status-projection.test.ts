import type { V1ReplicaSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RolloutSpec } from '../../documents/schema.js';
import type { Condition, RolloutStatusDoc } from '../../documents/status-schema.js';
import { initialStatus, type RolloutStatus, type TrafficInForce } from '../../engine/index.js';
import { invalidSpecStatus, projectStatus, selectorString, type LabelSelector, type StatusProjectionInput } from './status-projection.js';

const NOW = Date.parse('2026-05-01T10:00:00Z');
const EARLIER = '2026-05-01T09:00:00Z';

const canarySpec: RolloutSpec = {
  replicas: 4, selector: { matchLabels: { app: 'web' } },
  strategy: { canary: { canaryService: 'web-canary', stableService: 'web-stable', maxUnavailable: 0, steps: [{ setWeight: 20 }, { pause: {} }] } },
};
const blueGreenSpec: RolloutSpec = { replicas: 2, selector: { matchLabels: { app: 'web' } }, strategy: { blueGreen: { activeService: 'web-active', previewService: 'web-preview' } } };

const rs = (hash: string, replicas: number, available = replicas, ready = available): V1ReplicaSet => ({
  metadata: { name: `web-${hash}`, labels: { 'rollouts-pod-template-hash': hash } },
  spec: { replicas, selector: { matchLabels: { app: 'web' } } },
  status: { replicas, readyReplicas: ready, availableReplicas: available },
});

const engine = (over: Partial<RolloutStatus>): RolloutStatus => ({ ...initialStatus(NOW - 60_000), ...over });
const healthy = engine({ phase: 'Healthy', stableRevision: 'aaa', canaryRevision: 'aaa', weights: { canary: 0, stable: 100 } });
const moving = engine({ phase: 'Progressing', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 0, weights: { canary: 20, stable: 80 } });
const traffic = (over: Partial<TrafficInForce> = {}): TrafficInForce => ({ stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 20, headerRoutes: [], mirrorRoutes: [], ...over });
const cond = (type: string, status: Condition['status'], reason: string, lastTransitionTime = EARLIER, message = 'm'): Condition =>
  ({ type, status, reason, message, lastTransitionTime, lastUpdateTime: lastTransitionTime });

const base = (over: Partial<StatusProjectionInput>): StatusProjectionInput => ({
  name: 'web', generation: 3, spec: canarySpec, engine: healthy, traffic: traffic({ canaryRevision: 'aaa', canaryWeight: 0 }),
  replicaSets: [rs('aaa', 4)], nowMs: NOW, ...over,
});

/** Condition type → [status, reason], the part users and `kubectl wait` read. */
const conditionsOf = (s: RolloutStatusDoc) => Object.fromEntries((s.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));

describe('projectStatus: the Argo-shaped status of a Rollout', () => {
  it.each<[string, StatusProjectionInput, Partial<RolloutStatusDoc>, Record<string, [string, string]>]>([
    ['a healthy canary with nothing moving', base({}),
      { phase: 'Healthy', observedGeneration: 3, currentPodHash: 'aaa', stableRS: 'aaa', currentStepIndex: 0, replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4, selector: 'app=web', abort: false, controllerPause: false, pauseConditions: [],
        canary: { weights: { canary: { weight: 0, podTemplateHash: 'aaa', serviceName: 'web-canary' }, stable: { weight: 100, podTemplateHash: 'aaa', serviceName: 'web-stable' }, verified: true } } },
      { Progressing: ['True', 'NewReplicaSetAvailable'], Available: ['True', 'AvailableReason'], Paused: ['False', 'RolloutResumed'], Healthy: ['True', 'RolloutHealthy'], Completed: ['True', 'RolloutCompleted'] }],
    ['a new revision just started', base({ engine: moving, traffic: traffic({ canaryWeight: 0 }), replicaSets: [rs('aaa', 4), rs('bbb', 1, 0)], previous: { currentPodHash: 'aaa' } }),
      { phase: 'Progressing', currentPodHash: 'bbb', stableRS: 'aaa', replicas: 5, updatedReplicas: 1, availableReplicas: 4, canary: { weights: { canary: { weight: 20, podTemplateHash: 'bbb', serviceName: 'web-canary' }, stable: { weight: 80, podTemplateHash: 'aaa', serviceName: 'web-stable' }, verified: false } } },
      { Progressing: ['True', 'NewReplicaSetCreated'], Available: ['True', 'AvailableReason'], Healthy: ['False', 'RolloutHealthy'], Completed: ['False', 'RolloutCompleted'] }],
    ['the same revision still progressing keeps the reason it started with', base({ engine: moving, traffic: traffic(), previous: { currentPodHash: 'bbb', conditions: [cond('Progressing', 'True', 'NewReplicaSetCreated')] } }),
      { canary: { weights: { canary: { weight: 20 }, stable: { weight: 80 }, verified: true } } }, { Progressing: ['True', 'NewReplicaSetCreated'] }],
    ['progress after an unknown reason is ReplicaSetUpdated', base({ engine: moving, previous: { currentPodHash: 'bbb' } }), {}, { Progressing: ['True', 'ReplicaSetUpdated'] }],
    ['paused at a canary step', base({ engine: { ...moving, phase: 'Paused', currentStepIndex: 1, controllerPause: true, pauseConditions: [{ reason: 'CanaryPauseStep', startedAtMs: Date.parse('2026-05-01T09:59:30.250Z') }] } }),
      { phase: 'Paused', currentStepIndex: 1, controllerPause: true, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-05-01T09:59:30Z' }] },
      { Progressing: ['Unknown', 'RolloutPaused'], Paused: ['True', 'RolloutPaused'], Healthy: ['False', 'RolloutHealthy'] }],
    ['spec.paused pauses too', base({ spec: { ...canarySpec, paused: true }, engine: moving }), {}, { Paused: ['True', 'RolloutPaused'], Progressing: ['Unknown', 'RolloutPaused'] }],
    ['resumed after a pause', base({ engine: moving, previous: { currentPodHash: 'bbb', conditions: [cond('Progressing', 'Unknown', 'RolloutPaused')] } }), {}, { Progressing: ['True', 'RolloutResumed'], Paused: ['False', 'RolloutResumed'] }],
    ['aborted', base({ engine: { ...moving, phase: 'Degraded', abort: true, abortedAtMs: Date.parse('2026-05-01T09:58:00Z'), message: 'analysis failed', weights: { canary: 0, stable: 100 } } }),
      { phase: 'Degraded', abort: true, abortedAt: '2026-05-01T09:58:00Z', message: 'analysis failed' },
      { Progressing: ['False', 'RolloutAborted'], Healthy: ['False', 'RolloutHealthy'], Completed: ['False', 'RolloutCompleted'] }],
    ['past its progress deadline', base({ engine: { ...moving, phase: 'Degraded', progress: { ...moving.progress, deadlineExceeded: true } }, replicaSets: [rs('aaa', 4), rs('bbb', 1, 0)] }),
      { phase: 'Degraded' }, { Progressing: ['False', 'ProgressDeadlineExceeded'] }],
    ['too few pods available for the canary\'s maxUnavailable', base({ replicaSets: [rs('aaa', 4, 3)] }), { availableReplicas: 3, readyReplicas: 3 }, { Available: ['False', 'AvailableReason'] }],
    ['a transient Completed phase', base({ engine: { ...healthy, phase: 'Completed' }, replicaSets: [rs('aaa', 4), rs('zzz', 2)] }),
      { phase: 'Completed', replicas: 6, updatedReplicas: 4 }, { Completed: ['True', 'RolloutCompleted'], Healthy: ['False', 'RolloutHealthy'] }],
    ['blue-green before the switch', base({ spec: blueGreenSpec, engine: { ...moving, weights: { canary: 0, stable: 100 } }, traffic: traffic({ canaryRevision: undefined, canaryWeight: 0, previewRevision: 'bbb' }), replicaSets: [rs('aaa', 2), rs('bbb', 2)] }),
      { blueGreen: { activeSelector: 'aaa', previewSelector: 'bbb' }, canary: undefined, currentStepIndex: undefined }, { Available: ['True', 'AvailableReason'] }],
    ['blue-green after the switch, before the new revision is marked stable', base({ spec: blueGreenSpec, engine: moving, traffic: traffic({ canaryWeight: 100, previewRevision: 'bbb' }), replicaSets: [rs('aaa', 2), rs('bbb', 2, 1)] }),
      { blueGreen: { activeSelector: 'bbb', previewSelector: 'bbb' } }, { Available: ['False', 'AvailableReason'] }],
    // The engine is done but the traffic provider has not shown its switch in force (a Service patch failed).
    ['blue-green switched in the engine, the active Service not yet', base({
      spec: blueGreenSpec, engine: { ...healthy, stableRevision: 'bbb', canaryRevision: 'bbb' }, traffic: traffic({ stableRevision: 'bbb', canaryRevision: undefined, canaryWeight: 0 }), trafficVerified: false,
      replicaSets: [rs('aaa', 2), rs('bbb', 2)], previous: { currentPodHash: 'bbb', stableRS: 'aaa', blueGreen: { activeSelector: 'aaa', previewSelector: 'bbb' } },
    }), { phase: 'Progressing', stableRS: 'aaa', blueGreen: { activeSelector: 'aaa', previewSelector: 'bbb' }, message: 'Waiting for the traffic switch to revision bbb to be in force (the traffic provider has not verified it yet)' },
    { Progressing: ['True', 'TrafficSwitchPending'], Healthy: ['False', 'RolloutHealthy'], Completed: ['False', 'RolloutCompleted'] }],
    ['the same, verified: Healthy, and the switch claimed', base({
      spec: blueGreenSpec, engine: { ...healthy, stableRevision: 'bbb', canaryRevision: 'bbb' }, traffic: traffic({ stableRevision: 'bbb', canaryRevision: undefined, canaryWeight: 0 }), trafficVerified: true,
      replicaSets: [rs('aaa', 2), rs('bbb', 2)], previous: { currentPodHash: 'bbb', stableRS: 'aaa', blueGreen: { activeSelector: 'aaa', previewSelector: 'bbb' } },
    }), { phase: 'Healthy', stableRS: 'bbb', blueGreen: { activeSelector: 'bbb', previewSelector: 'bbb' } },
    { Progressing: ['True', 'NewReplicaSetAvailable'], Healthy: ['True', 'RolloutHealthy'], Completed: ['True', 'RolloutCompleted'] }],
    ['a transient Completed with its switch unverified', base({ engine: { ...healthy, phase: 'Completed', stableRevision: 'bbb', canaryRevision: 'bbb' }, traffic: traffic({ stableRevision: 'bbb', canaryRevision: undefined, canaryWeight: 0 }), trafficVerified: false, previous: { stableRS: 'aaa' } }),
      { phase: 'Progressing', stableRS: 'aaa', canary: { weights: { canary: { weight: 0 }, stable: { weight: 100 }, verified: false } } },
      { Progressing: ['True', 'TrafficSwitchPending'], Completed: ['False', 'RolloutCompleted'], Healthy: ['False', 'RolloutHealthy'] }],
    ['a first revision whose Services were never pointed: no stableRS claimed', base({ trafficVerified: false }),
      { phase: 'Progressing', stableRS: undefined }, { Progressing: ['True', 'TrafficSwitchPending'], Healthy: ['False', 'RolloutHealthy'] }],
    ['an unverified abort is Degraded still, not held as a switch', base({ engine: { ...moving, phase: 'Degraded', abort: true, weights: { canary: 0, stable: 100 } }, trafficVerified: false }),
      { phase: 'Degraded', abort: true }, { Progressing: ['False', 'RolloutAborted'], Healthy: ['False', 'RolloutHealthy'] }],
    ['a release member held at 0 until every member\'s canary serves: the weights its routes carry', base({ engine: moving, traffic: traffic(), routed: traffic({ canaryWeight: 0 }) }),
      { canary: { weights: { canary: { weight: 0, podTemplateHash: 'bbb', serviceName: 'web-canary' }, stable: { weight: 100, podTemplateHash: 'aaa', serviceName: 'web-stable' }, verified: true } } }, {}],
    ['a release member done early: its old revision still carries the stable pins and part of the new clients', base({ engine: healthy, routed: traffic({ stableRevision: 'zzz', canaryRevision: 'aaa', canaryWeight: 40 }) }),
      { phase: 'Healthy', stableRS: 'aaa', canary: { weights: { canary: { weight: 40, podTemplateHash: 'aaa' }, stable: { weight: 60, podTemplateHash: 'zzz' }, verified: true } } }, {}],
    ['routed on a scale of 1000 (maxTrafficWeight)', base({ spec: { ...canarySpec, strategy: { canary: { ...canarySpec.strategy.canary, trafficRouting: { maxTrafficWeight: 1000 } } } }, engine: { ...moving, weights: { canary: 200, stable: 800 } }, routed: traffic({ canaryWeight: 50 }) }),
      { canary: { weights: { canary: { weight: 50 }, stable: { weight: 950 }, verified: false } } }, {}],
    ['nothing verifies the traffic (undefined): Healthy as the engine says', base({ trafficVerified: undefined }), { phase: 'Healthy', stableRS: 'aaa' }, { Healthy: ['True', 'RolloutHealthy'] }],
    ['an invalid spec', base({ invalidSpec: 'service "web-canary" does not exist' }),
      { phase: 'Degraded', message: 'service "web-canary" does not exist' }, { InvalidSpec: ['True', 'InvalidSpec'], Healthy: ['False', 'RolloutHealthy'] }],
  ])('%s', (_name, input, expected, conditions) => {
    const status = projectStatus(input);
    expect(status).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    for (const [k, v] of Object.entries(expected)) if (v === undefined) expect(status).not.toHaveProperty(k);
    expect(conditionsOf(status)).toMatchObject(conditions);
    if (input.invalidSpec === undefined) expect(conditionsOf(status)).not.toHaveProperty('InvalidSpec');
  });

  it('keeps lastTransitionTime while a condition\'s status stays, moves it when the status changes', () => {
    const first = projectStatus(base({ engine: moving, previous: { currentPodHash: 'aaa' } }));
    const progressing = first.conditions!.find((c) => c.type === 'Progressing')!;
    expect(progressing).toMatchObject({ lastTransitionTime: '2026-05-01T10:00:00Z', lastUpdateTime: '2026-05-01T10:00:00Z' });
    // Later, same status True, another reason: the transition time stays, the update time moves.
    const resumed = projectStatus(base({ engine: moving, nowMs: NOW + 5000, previous: { ...first, conditions: [{ ...progressing, status: 'True', reason: 'RolloutPaused' }] } }));
    expect(resumed.conditions!.find((c) => c.type === 'Progressing')).toMatchObject({ reason: 'RolloutResumed', lastTransitionTime: '2026-05-01T10:00:00Z', lastUpdateTime: '2026-05-01T10:00:05Z' });
    const done = projectStatus(base({ nowMs: NOW + 9000, previous: first }));
    expect(done.conditions!.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'True', lastTransitionTime: '2026-05-01T10:00:09Z' });
  });

  it('an idle projection (nothing changed) is identical to the one before, times included', () => {
    const first = projectStatus(base({}));
    expect(projectStatus(base({ nowMs: NOW + 60_000, previous: first }))).toEqual(first);
  });

  it('drops the InvalidSpec condition once the spec is valid again', () => {
    const invalid = projectStatus(base({ invalidSpec: 'bad' }));
    expect(conditionsOf(projectStatus(base({ previous: invalid })))).not.toHaveProperty('InvalidSpec');
  });
});

describe('invalidSpecStatus', () => {
  it('sets InvalidSpec and Degraded with the sentence, keeping the rest of the status', () => {
    const before = projectStatus(base({}));
    const after = invalidSpecStatus({ ...before, graylane: { version: 4, engine: healthy } }, 'selector does not match the template', NOW + 1000);
    expect(after).toMatchObject({ phase: 'Degraded', message: 'selector does not match the template', stableRS: 'aaa', graylane: { version: 4, engine: healthy } });
    expect(conditionsOf(after)).toMatchObject({ InvalidSpec: ['True', 'InvalidSpec'], Healthy: ['False', 'RolloutHealthy'], Progressing: ['True', 'NewReplicaSetAvailable'] });
    expect(after.conditions!.find((c) => c.type === 'InvalidSpec')).toMatchObject({ message: 'selector does not match the template', lastTransitionTime: '2026-05-01T10:00:01Z' });
  });

  it('works on a Rollout graylane never wrote', () => {
    expect(invalidSpecStatus(undefined, 'no strategy', NOW)).toMatchObject({ phase: 'Degraded', message: 'no strategy', conditions: [{ type: 'InvalidSpec', status: 'True' }, { type: 'Healthy', status: 'False' }] });
  });
});

describe('selectorString', () => {
  it.each<[string, LabelSelector | undefined, string | undefined]>([
    ['no selector', undefined, undefined],
    ['labels, sorted by key', { matchLabels: { tier: 'web', app: 'shop' } }, 'app=shop,tier=web'],
    ['expressions of every operator', { matchLabels: { app: 'shop' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }, { key: 'zone', operator: 'NotIn', values: ['b'] }, { key: 'canary', operator: 'Exists' }, { key: 'old', operator: 'DoesNotExist' }] }, 'app=shop,canary,env in (dev,prod),!old,zone notin (b)'],
  ])('%s', (_name, selector, expected) => {
    expect(selectorString(selector)).toBe(expected);
  });
});
