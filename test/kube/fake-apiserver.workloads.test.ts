import { afterEach, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { SimulatedWorkloads, type PodBehaviour } from '../fixtures/kube/simulated-workloads.js';

let server: FakeApiServer;
let sim: SimulatedWorkloads;
afterEach(async () => {
  sim.stop();
  await server.close();
});

async function setup(podBehaviour?: (pod: { metadata: { labels?: Record<string, string> } }) => PodBehaviour): Promise<{ apps: AppsV1Api; core: CoreV1Api }> {
  server = await FakeApiServer.start();
  sim = SimulatedWorkloads.start({ cluster: server.cluster, ...(podBehaviour === undefined ? {} : { podBehaviour }) });
  const kc = kubeConfigFor({ server });
  return { apps: kc.makeApiClient(AppsV1Api), core: kc.makeApiClient(CoreV1Api) };
}

function replicaSet(name: string, replicas: number, version: string): V1ReplicaSet {
  const labels = { app: 'web', version };
  return { metadata: { name }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: `web:${version}` }] } } } };
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ready = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

describe('fake cluster: simulated ReplicaSet controller and kubelet', () => {
  it('creates a ReplicaSet’s Pods from its template, owned by it; they become ready after the delay and the status counts them', async () => {
    const { apps, core } = await setup(() => ({ kind: 'ready', afterMs: 150 }));
    const rs = await apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('web-v1', 3, 'v1') });
    const pods = await until(() => core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web,version=v1' }), (l) => l.items.length === 3, 'three pods');
    for (const p of pods.items) {
      expect(p.metadata?.name).toMatch(/^web-v1-[0-9a-f]{5}$/);
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', uid: rs.metadata?.uid, controller: true });
      expect(p.spec?.containers[0]?.image).toBe('web:v1');
    }
    const notYet = await until(() => core.listNamespacedPod({ namespace: 'default' }), (l) => l.items.every((p) => p.status?.phase === 'Running'), 'running pods');
    expect(notYet.items.filter(ready)).toHaveLength(0);
    await until(() => core.listNamespacedPod({ namespace: 'default' }), (l) => l.items.every(ready), 'ready pods');
    const status = await until(() => apps.readNamespacedReplicaSet({ name: 'web-v1', namespace: 'default' }), (r) => r.status?.readyReplicas === 3, 'readyReplicas 3');
    expect(status.status).toMatchObject({ replicas: 3, availableReplicas: 3, observedGeneration: 1 });
  });

  it('scales down through /scale and deletes the Pods with the ReplicaSet', async () => {
    const { apps, core } = await setup();
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('web-v1', 3, 'v1') });
    await until(() => core.listNamespacedPod({ namespace: 'default' }), (l) => l.items.length === 3, 'three pods');
    await apps.replaceNamespacedReplicaSetScale({ name: 'web-v1', namespace: 'default', body: { metadata: { name: 'web-v1' }, spec: { replicas: 1 } } });
    await until(() => core.listNamespacedPod({ namespace: 'default' }), (l) => l.items.length === 1, 'one pod');
    await until(() => apps.readNamespacedReplicaSet({ name: 'web-v1', namespace: 'default' }), (r) => r.status?.replicas === 1 && r.status.observedGeneration === 2, 'status of the scaled set');
    await apps.deleteNamespacedReplicaSet({ name: 'web-v1', namespace: 'default' });
    await until(() => core.listNamespacedPod({ namespace: 'default' }), (l) => l.items.length === 0, 'no pod');
  });

  it('keeps a never-ready Pod running but not ready, and crash-loops another with a growing restart count', async () => {
    const { apps, core } = await setup((pod) => pod.metadata.labels?.version === 'bad' ? { kind: 'crash-loop', restartEveryMs: 30 } : { kind: 'never-ready' });
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('web-stuck', 1, 'stuck') });
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('web-bad', 1, 'bad') });
    const crashing = await until(() => core.listNamespacedPod({ namespace: 'default', labelSelector: 'version=bad' }),
      (l) => (l.items[0]?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 3, 'three restarts');
    expect(crashing.items[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('CrashLoopBackOff');
    const stuck = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'version=stuck' });
    expect(stuck.items[0]?.status?.phase).toBe('Running');
    expect(stuck.items.filter(ready)).toEqual([]);
    for (const name of ['web-stuck', 'web-bad']) {
      expect((await apps.readNamespacedReplicaSet({ name, namespace: 'default' })).status?.readyReplicas).toBe(0);
    }
  });
});
