import { describe, expect, it } from 'vitest';
import { initialStatus } from '../../engine/index.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { clusterRolloutView } from './cluster-view.js';

const engine = { ...initialStatus(0), phase: 'Healthy' as const, stableRevision: 'bbb', canaryRevision: 'bbb', weights: { canary: 0, stable: 100 } };
const rollout = (trafficVerified: boolean | undefined, message?: string): RolloutObject => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'default' },
  spec: { replicas: 1, strategy: { blueGreen: { activeService: 'web' } } },
  status: {
    phase: trafficVerified === false ? 'Progressing' : 'Healthy', ...(message === undefined ? {} : { message }),
    graylane: { version: 3, engine, traffic: { stableRevision: 'bbb', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] }, ...(trafficVerified === undefined ? {} : { trafficVerified }) },
  },
});

describe('clusterRolloutView', () => {
  it('a done engine whose traffic switch is not verified shows Progressing with the status message, and is not done for status --wait', () => {
    const message = 'Waiting for the traffic switch to revision bbb to be in force (the traffic provider has not verified it yet)';
    expect(clusterRolloutView({ rollout: rollout(false, message), replicaSets: [], pods: [] }, 0)).toMatchObject({ phase: 'Progressing', message, done: false, terminal: false });
  });

  it.each([[true], [undefined]])('with the traffic verified (%s) it is Healthy and done', (verified) => {
    expect(clusterRolloutView({ rollout: rollout(verified), replicaSets: [], pods: [] }, 0)).toMatchObject({ phase: 'Healthy', done: true });
  });

  it('a routed canary shows the weights its status says its routes carry (a release member held at 0), not its engine\'s', () => {
    const moving = { ...initialStatus(0), phase: 'Paused' as const, stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 1, weights: { canary: 50, stable: 50 } };
    const member: RolloutObject = {
      apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 1, strategy: { canary: { trafficRouting: { istio: { virtualService: { name: 'web-vs' } } }, steps: [{ setWeight: 50 }, { pause: {} }] } } },
      status: {
        phase: 'Paused',
        canary: { weights: { canary: { weight: 0, podTemplateHash: 'bbb' }, stable: { weight: 100, podTemplateHash: 'aaa' }, verified: true } },
        graylane: { version: 4, engine: moving, traffic: { stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 50, headerRoutes: [], mirrorRoutes: [] } },
      },
    };
    const view = clusterRolloutView({ rollout: member, replicaSets: [], pods: [] }, 0);
    expect(view.revisions.map((r) => [r.name, r.role, r.weight])).toEqual([['aaa', 'stable', 100], ['bbb', 'canary', 0]]);
  });
});
