import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import type { RolloutPhase } from '../../../src/engine/index.js';
import {
  deploymentReplicas, originalReplicasOf, ORIGINAL_REPLICAS_ANNOTATION, releaseReferencedDeployment, scaleReferencedDeployment,
  WorkloadRefError, type ScaleDownMode,
} from '../../../src/controller/kubernetes/workload-ref.js';
import { FakeApiServer } from '../../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../../fixtures/kube/kubeconfig.js';

describe('deploymentReplicas: Argo\'s scaleDown modes, from 4 original replicas', () => {
  it.each<[ScaleDownMode, RolloutPhase, number, number | undefined]>([
    ['never', 'Progressing', 2, undefined],
    ['never', 'Healthy', 4, undefined],
    ['never', 'Degraded', 0, undefined],
    ['onsuccess', 'Progressing', 3, 4],
    ['onsuccess', 'Paused', 4, 4],
    ['onsuccess', 'Healthy', 4, 0],
    ['onsuccess', 'Completed', 4, 0],
    ['onsuccess', 'Degraded', 4, 4],
    ['progressively', 'Progressing', 0, 4],
    ['progressively', 'Progressing', 1, 3],
    ['progressively', 'Paused', 3, 1],
    ['progressively', 'Progressing', 6, 0],
    ['progressively', 'Healthy', 2, 0],
    ['progressively', 'Degraded', 3, 4],
  ])('%s, Rollout %s with %i available → %s', (mode, phase, availableReplicas, expected) => {
    expect(deploymentReplicas({ mode, originalReplicas: 4, rollout: { phase, availableReplicas } })).toBe(expected);
  });
});

describe('originalReplicasOf', () => {
  const dep = (replicas: number | undefined, annotation?: string): V1Deployment => ({
    metadata: { name: 'd', annotations: annotation === undefined ? {} : { [ORIGINAL_REPLICAS_ANNOTATION]: annotation } },
    spec: { replicas, selector: {}, template: {} },
  });
  it.each<[string, V1Deployment, number]>([
    ['the annotation wins over the scaled spec', dep(0, '5'), 5],
    ['without the annotation, the spec', dep(3), 3],
    ['without either, 1 as the API server defaults', dep(undefined), 1],
    ['an annotation that is no count is ignored', dep(2, 'lots'), 2],
    ['an empty annotation is ignored', dep(2, ''), 2],
  ])('%s', (_name, d, expected) => expect(originalReplicasOf(d)).toBe(expected));
});

describe('the referenced Deployment through the API', () => {
  let server: FakeApiServer;
  let apps: AppsV1Api;
  beforeEach(async () => {
    server = await FakeApiServer.start({});
    apps = kubeConfigFor({ server }).makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-dp' }, spec: { replicas: 4, selector: { matchLabels: { app: 'demo' } }, template: { metadata: { labels: { app: 'demo' } }, spec: { containers: [{ name: 'app', image: 'demo:v1' }] } } } },
    });
  });
  afterEach(async () => server.close());
  const read = () => apps.readNamespacedDeployment({ name: 'demo-dp', namespace: 'default' });

  it('progressively scales it down, remembering 4, and gives 4 back on removal', async () => {
    expect(await scaleReferencedDeployment({ apps, deployment: await read(), mode: 'progressively', rollout: { phase: 'Progressing', availableReplicas: 1 } })).toBe(3);
    let d = await read();
    expect(d.spec?.replicas).toBe(3);
    expect(d.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION]).toBe('4');
    expect(server.requests.filter((r) => r.method === 'PATCH').map((r) => r.path)).toEqual(['/apis/apps/v1/namespaces/default/deployments/demo-dp?fieldManager=graylane']);
    // The remembered count survives the scaling (a restarted controller reads it back).
    expect(await scaleReferencedDeployment({ apps, deployment: d, mode: 'progressively', rollout: { phase: 'Healthy', availableReplicas: 4 } })).toBe(0);
    d = await read();
    expect(d.spec?.replicas).toBe(0);
    expect(d.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION]).toBe('4');
    expect(await releaseReferencedDeployment({ apps, namespace: 'default', name: 'demo-dp' })).toBe(true);
    d = await read();
    expect(d.spec?.replicas).toBe(4);
    expect(d.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION]).toBeUndefined();
  });

  it('writes nothing when the count is already right, and nothing at all for never', async () => {
    await scaleReferencedDeployment({ apps, deployment: await read(), mode: 'onsuccess', rollout: { phase: 'Progressing', availableReplicas: 2 } });
    const before = await read();
    expect(before.spec?.replicas).toBe(4);
    await scaleReferencedDeployment({ apps, deployment: before, mode: 'onsuccess', rollout: { phase: 'Paused', availableReplicas: 2 } });
    expect((await read()).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    await apps.patchNamespacedDeployment({ name: 'demo-dp', namespace: 'default', body: [{ op: 'remove', path: `/metadata/annotations/${ORIGINAL_REPLICAS_ANNOTATION.replace('/', '~1')}` }] });
    const untouched = await read();
    expect(await scaleReferencedDeployment({ apps, deployment: untouched, mode: 'never', rollout: { phase: 'Healthy', availableReplicas: 4 } })).toBe(4);
    expect((await read()).metadata?.resourceVersion).toBe(untouched.metadata?.resourceVersion);
  });

  it('giving back a Deployment graylane never scaled, or one that is gone, writes nothing', async () => {
    const before = await read();
    expect(await releaseReferencedDeployment({ apps, namespace: 'default', name: 'demo-dp' })).toBe(false);
    expect((await read()).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await releaseReferencedDeployment({ apps, namespace: 'default', name: 'missing' })).toBe(false);
  });

  it('a scale the API server refuses is a WorkloadRefError naming the Deployment', async () => {
    const ghost: V1Deployment = { ...(await read()), metadata: { name: 'ghost', namespace: 'default' } };
    const error = await scaleReferencedDeployment({ apps, deployment: ghost, mode: 'onsuccess', rollout: { phase: 'Healthy', availableReplicas: 1 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadRefError);
    expect(error).toMatchObject({ code: 'WorkloadRef', message: 'could not scale Deployment "default/ghost": the API server answered 404' });
  });

  it('an API server out of reach is a WorkloadRefError, for the scale and for the giving back', async () => {
    const d = await read();
    await server.close();
    await expect(scaleReferencedDeployment({ apps, deployment: d, mode: 'onsuccess', rollout: { phase: 'Healthy', availableReplicas: 1 } })).rejects.toThrow(/^could not scale Deployment "default\/demo-dp": /);
    await expect(releaseReferencedDeployment({ apps, namespace: 'default', name: 'demo-dp' })).rejects.toThrow(/^could not read Deployment "default\/demo-dp" to give it back: /);
    server = await FakeApiServer.start({});
  });
});
