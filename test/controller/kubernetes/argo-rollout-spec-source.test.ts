import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Deployment, type V1ReplicaSet } from '@kubernetes/client-node';
import { revisionHash } from '../../../src/documents/index.js';
import { RolloutSpecSource, type RevisionTemplate, type RolloutObject } from '../../../src/controller/kubernetes/rollout-spec-source.js';
import { ENGINE_MEMORY_ANNOTATION } from '../../../src/kube/names.js';
import { samePodTemplate } from '../../../src/controller/kubernetes/argo-template-equality.js';
import { startCluster, type Cluster } from '../../fixtures/kube/controller-harness.js';
import { ListCache } from '../../fixtures/kube/list-cache.js';

let cluster: Cluster;
let kc: KubeConfig;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let rollouts: ListCache<RolloutObject>;
let replicaSets: ListCache<V1ReplicaSet>;
let source: RolloutSpecSource;
const ns = 'default';
const key = { namespace: ns, name: 'web' };

beforeEach(async () => {
  cluster = await startCluster({ crds: ['argo'], simulateWorkloads: false });
  ({ kc, apps, custom } = cluster);
  rollouts = new ListCache({ kubeConfig: kc, apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' });
  replicaSets = new ListCache({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  const deployments = new ListCache<V1Deployment>({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'Deployment' });
  await deployments.refresh();
  source = new RolloutSpecSource({ flavour: 'argo', rollouts, replicaSets, deployments, apps });
});
afterEach(async () => cluster.close());

const podTemplate = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] } });

async function createArgoRollout(spec: Record<string, unknown> = {}, image = 'nginx:1.27'): Promise<string> {
  const body = {
    apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'web' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: podTemplate(image), strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } }, ...spec },
  };
  const created = (await custom.createNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: ns, plural: 'rollouts', body })) as RolloutObject;
  return created.metadata!.uid!;
}

/** A ReplicaSet as Argo's controller leaves one: `<rollout>-<argo hash>`, Argo's revision annotation, owned by the Rollout. */
async function createArgoReplicaSet(uid: string, image: string, hash: string, revision: number): Promise<void> {
  const labels = { app: 'web', 'rollouts-pod-template-hash': hash };
  await apps.createNamespacedReplicaSet({
    namespace: ns,
    body: {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: `web-${hash}`, labels, annotations: { 'rollout.argoproj.io/revision': String(revision) },
        ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'web', uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { replicas: 2, selector: { matchLabels: labels }, template: { ...podTemplate(image), metadata: { labels } } },
    },
  });
}

async function refresh(): Promise<void> {
  await Promise.all([rollouts.refresh(), replicaSets.refresh()]);
}

describe('RolloutSpecSource with --argo-rollouts: Argo Rollouts read through the import', () => {
  it("adopts Argo's ReplicaSet whose template (server defaults and hash label aside) equals the Rollout's: its hash is the desired revision, with Argo's revision number", async () => {
    const uid = await createArgoRollout();
    await createArgoReplicaSet(uid, 'nginx:1.26', '6f8b9c7d4', 1);
    await createArgoReplicaSet(uid, 'nginx:1.27', '5d4c8b7f9', 2);
    await refresh();
    const c = source.check(key);
    expect(c.state).toBe('valid');
    if (c.state !== 'valid') return;
    expect(c.desired.desiredRevision).toBe('5d4c8b7f9');
    expect(c.desired.revisions.map((r) => [r.name, (r.template as RevisionTemplate).revisionNumber])).toEqual([['6f8b9c7d4', 1], ['5d4c8b7f9', 2]]);
    expect((c.desired.revisions[1]!.template as RevisionTemplate).owner).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', uid });
  });

  it("a commit's new engine memory (an annotation on Argo Rollouts) does not have the spec validated again; the user's own annotation does", async () => {
    await createArgoRollout();
    await refresh();
    const validate = vi.spyOn(source as unknown as { validate: (o: RolloutObject) => unknown }, 'validate');
    const annotate = async (annotations: Record<string, string>): Promise<void> => {
      await custom.patchNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: ns, plural: 'rollouts', name: 'web', body: { metadata: { annotations } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await refresh();
    };
    expect(source.check(key).state).toBe('valid');
    expect(validate).toHaveBeenCalledTimes(1);
    await annotate({ [ENGINE_MEMORY_ANNOTATION]: '{"version":1,"engine":{}}' });
    expect(source.check(key).state).toBe('valid');
    await annotate({ [ENGINE_MEMORY_ANNOTATION]: '{"version":2,"engine":{}}' });
    expect(source.check(key).state).toBe('valid');
    expect(validate).toHaveBeenCalledTimes(1);
    await annotate({ team: 'shop' });
    expect(source.check(key).state).toBe('valid');
    expect(validate).toHaveBeenCalledTimes(2);
  });

  it("a template no ReplicaSet runs is a new revision under graylane's hash, numbered after Argo's", async () => {
    const uid = await createArgoRollout({}, 'nginx:1.28');
    await createArgoReplicaSet(uid, 'nginx:1.27', '5d4c8b7f9', 2);
    await refresh();
    const c = source.check(key);
    if (c.state !== 'valid') throw new Error(c.state);
    expect(c.desired.desiredRevision).toBe(revisionHash(podTemplate('nginx:1.28')));
    expect(c.desired.revisions.map((r) => [r.name, (r.template as RevisionTemplate).revisionNumber])).toEqual([['5d4c8b7f9', 2], [revisionHash(podTemplate('nginx:1.28')), 3]]);
  });

  it('a field the import leaves out is InvalidSpec with the import\'s sentence, never dropped silently', async () => {
    await createArgoRollout({ strategy: { canary: { steps: [{ setWeight: 20 }], antiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { weight: 1 } } } } });
    await refresh();
    const c = source.check(key);
    expect(c.state).toBe('invalid');
    expect((c as { message: string }).message).toMatch(/^spec\.strategy\.canary\.antiAffinity: /);
  });

  it("a step with several fields is InvalidSpec: the status' step index would not be Argo's", async () => {
    await createArgoRollout({ strategy: { canary: { steps: [{ setWeight: 20, setCanaryScale: { replicas: 1 } }, { pause: {} }] } } });
    await refresh();
    const c = source.check(key);
    expect((c as { message: string }).message).toMatch(/^spec\.strategy\.canary\.steps\[0\]: a step with several fields \(setWeight, setCanaryScale\) is not supported with --argo-rollouts/);
  });

  it('a graylane Rollout is not read as an Argo one', async () => {
    rollouts.get = () => ({ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: ns, uid: 'u' }, spec: {} });
    await refresh();
    expect(source.check(key)).toEqual({ state: 'invalid', message: 'not an Argo Rollout: graylane.dev/v1alpha1 Rollout' });
  });
});

describe('samePodTemplate', () => {
  const stored = (image: string, extra: Record<string, unknown> = {}) => ({
    metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': 'abc' } },
    spec: {
      restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', securityContext: {},
      containers: [{ name: 'app', image, imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', resources: {}, ports: [{ containerPort: 8080, protocol: 'TCP' }] }],
      ...extra,
    },
  });
  it('equal once the server defaults and the hash label are set aside', () => {
    expect(samePodTemplate(stored('nginx:1.27'), podTemplate('nginx:1.27'))).toBe(true);
  });
  it('another image, another pull policy, or a field the user set differently is another template', () => {
    expect(samePodTemplate(stored('nginx:1.26'), podTemplate('nginx:1.27'))).toBe(false);
    expect(samePodTemplate(stored('nginx:1.27', { dnsPolicy: 'Default' }), podTemplate('nginx:1.27'))).toBe(false);
    expect(samePodTemplate(stored('nginx'), podTemplate('nginx'))).toBe(false);
    expect(samePodTemplate(undefined, podTemplate('nginx:1.27'))).toBe(false);
  });
});
