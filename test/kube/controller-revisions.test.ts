/**
 * What the controller does with revisions over time, end to end against the fake API server:
 * old ReplicaSets beyond `revisionHistoryLimit` are deleted, and `spec.restartAt` replaces every
 * pod one at a time while the active Service keeps a ready endpoint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { jsonLog } from '../../src/controller/kubernetes/json-log.js';
import { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import {
  apply, patchRolloutSpec, podReady, readRollout, selectedPods, startCluster, until, type Cluster,
} from '../fixtures/kube/controller-harness.js';

let cluster: Cluster | undefined;
let controller: KubernetesController | undefined;

afterEach(async () => {
  await controller?.stop();
  controller = undefined;
  await cluster?.close();
  cluster = undefined;
});

async function run(c: Cluster): Promise<void> {
  controller = new KubernetesController({
    kubeConfig: c.kc, namespace: 'default', workers: 2, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0',
    log: jsonLog({ write: () => undefined }), informerBackoff: { initialMs: 50, maxMs: 500 },
  });
  await controller.start();
}

const template = (image: string) => ({
  metadata: { labels: { app: 'demo' } },
  spec: { containers: [{ name: 'demo', image, ports: [{ containerPort: 8080 }] }] },
});

const rollout = (image: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'demo' },
  spec: {
    replicas: 2, revisionHistoryLimit: 1, selector: { matchLabels: { app: 'demo' } }, template: template(image),
    strategy: { blueGreen: { activeService: 'demo-service', autoPromotionEnabled: true, scaleDownDelaySeconds: 0 } },
    ...extra,
  },
});

const demoService = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo-service' }, spec: { selector: { app: 'demo' }, ports: [{ port: 80, targetPort: 8080 }] } };

async function healthyOn(c: Cluster, image: string, previous?: string): Promise<string> {
  const done = await until('Healthy on ' + image, () => readRollout(c, 'default', 'demo'), (r) => {
    const s = r.status as { phase?: string; stableRS?: string; currentPodHash?: string } | undefined;
    return s?.phase === 'Healthy' && s.stableRS !== undefined && s.stableRS !== previous && s.stableRS === s.currentPodHash;
  }, { timeoutMs: 20_000 });
  const hash = (done.status as { stableRS: string }).stableRS;
  const rs = await c.apps.readNamespacedReplicaSet({ namespace: 'default', name: `demo-${hash}` });
  expect(rs.spec?.template?.spec?.containers[0]?.image).toBe(image);
  return hash;
}

async function activeHasReadyPod(c: Cluster): Promise<void> {
  const svc = await c.core.readNamespacedService({ namespace: 'default', name: 'demo-service' });
  if (svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === undefined) return;
  const ready = (await selectedPods(c, svc)).filter(podReady);
  expect(ready.length, 'the active Service selects a ready pod').toBeGreaterThan(0);
}

describe('revisions over time on Kubernetes', () => {
  it('revisionHistoryLimit 1: after v1 → v2 → v3 the ReplicaSet of v1 is deleted, v2 kept at 0, v3 running', async () => {
    cluster = await startCluster({ readyAfterMs: 100 });
    await apply(cluster, [demoService, rollout('demo:v1')]);
    await run(cluster);
    const v1 = await healthyOn(cluster, 'demo:v1');
    await patchRolloutSpec(cluster, 'default', 'demo', { template: template('demo:v2') });
    const v2 = await healthyOn(cluster, 'demo:v2', v1);
    await patchRolloutSpec(cluster, 'default', 'demo', { template: template('demo:v3') });
    const v3 = await healthyOn(cluster, 'demo:v3', v2);
    const names = async () => (await cluster!.apps.listNamespacedReplicaSet({ namespace: 'default' })).items;
    const left = await until('v1 retired', names, (items) => !items.some((r) => r.metadata?.name === `demo-${v1}`), { timeoutMs: 15_000 });
    const replicas = Object.fromEntries(left.map((r) => [r.metadata!.name!, r.spec?.replicas]));
    expect(replicas).toEqual({ [`demo-${v2}`]: 0, [`demo-${v3}`]: 2 });
  });

  it('spec.restartAt replaces every pod one at a time, the active Service never without a ready pod, and records restartedAt', async () => {
    cluster = await startCluster({ readyAfterMs: 150 });
    await apply(cluster, [demoService, rollout('demo:v1')]);
    await run(cluster);
    await healthyOn(cluster, 'demo:v1');
    const before = async (): Promise<V1Pod[]> => (await cluster!.core.listNamespacedPod({ namespace: 'default' })).items;
    const original = new Set((await before()).map((p) => p.metadata!.uid!));
    expect(original.size).toBe(2);
    const restartAt = new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    await new Promise((r) => setTimeout(r, 1100));
    await patchRolloutSpec(cluster, 'default', 'demo', { restartAt });
    await until('every pod replaced and ready', before, (pods) => {
      const live = pods.filter((p) => p.metadata?.deletionTimestamp === undefined);
      return live.length === 2 && live.every((p) => !original.has(p.metadata!.uid!) && podReady(p));
    }, { timeoutMs: 20_000, invariant: () => activeHasReadyPod(cluster!) });
    const status = (await until('restartedAt recorded', () => readRollout(cluster!, 'default', 'demo'), (r) => (r.status)?.restartedAt !== undefined)).status as { restartedAt: string; phase: string };
    expect(Date.parse(status.restartedAt)).toBe(Date.parse(restartAt));
  });
});
