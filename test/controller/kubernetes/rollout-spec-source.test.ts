import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppsV1Api, CustomObjectsApi, KubeConfig, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { revisionHash, rolloutRevision, type Rollout } from '../../../src/documents/index.js';
import { CacheNotSyncedError, RolloutSpecSource, type RevisionTemplate, type RolloutObject } from '../../../src/controller/kubernetes/rollout-spec-source.js';
import { matchesQuery, type ObjectCache } from '../../../src/kube/object-cache.js';
import { startCluster, type Cluster } from '../../fixtures/kube/controller-harness.js';
import { ListCache } from '../../fixtures/kube/list-cache.js';

let cluster: Cluster;
let kc: KubeConfig;
let apps: AppsV1Api;
let custom: CustomObjectsApi;
let rollouts: ListCache<RolloutObject>;
let replicaSets: ListCache<V1ReplicaSet>;
let deployments: ListCache<V1Deployment>;
let source: RolloutSpecSource;
const ns = 'default';

const key = { namespace: ns, name: 'web' };

beforeEach(async () => {
  cluster = await startCluster({ simulateWorkloads: false });
  ({ kc, apps, custom } = cluster);
  rollouts = new ListCache({ kubeConfig: kc, apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout' });
  replicaSets = new ListCache({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  deployments = new ListCache({ kubeConfig: kc, apiVersion: 'apps/v1', kind: 'Deployment' });
  source = new RolloutSpecSource({ rollouts, replicaSets, deployments, apps });
});
afterEach(async () => cluster.close());

const podTemplate = (image: string, app = 'web') => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image }] } });

function rollout(spec: Record<string, unknown>, name = 'web'): Record<string, unknown> {
  return { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name }, spec: { replicas: 2, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } }, ...spec } };
}
const inline = (image = 'nginx:1.27') => rollout({ selector: { matchLabels: { app: 'web' } }, template: podTemplate(image), minReadySeconds: 5 });

async function createRollout(body: Record<string, unknown>): Promise<string> {
  const created = (await custom.createNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'rollouts', body })) as RolloutObject;
  return created.metadata!.uid!;
}

/** A ReplicaSet as the runtime writes one: owned by the Rollout, labelled and annotated with its revision. */
async function createReplicaSet(options: { ownerUid: string; owner?: string; image: string; revision?: number }): Promise<V1ReplicaSet> {
  const template = podTemplate(options.image);
  const hash = revisionHash(template);
  const labels = { app: 'web', 'rollouts-pod-template-hash': hash };
  return apps.createNamespacedReplicaSet({
    namespace: ns,
    body: {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${options.owner ?? 'web'}-${hash}`,
        labels,
        annotations: options.revision === undefined ? {} : { 'graylane.dev/revision': String(options.revision) },
        ownerReferences: [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: options.owner ?? 'web', uid: options.ownerUid, controller: true }],
      },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { ...template, metadata: { labels } } },
    },
  });
}

async function refresh(): Promise<void> {
  await Promise.all([rollouts.refresh(), replicaSets.refresh(), deployments.refresh()]);
}

function invalid(c: ReturnType<RolloutSpecSource['check']>): string {
  expect(c.state).toBe('invalid');
  return (c as { message: string }).message;
}

describe('RolloutSpecSource: desired rollouts from the caches', () => {
  it('an inline template: its revisionHash is the desired revision, the first revision (#1) with the selector, owner and minReadySeconds', async () => {
    const uid = await createRollout(inline());
    await refresh();
    const desired = await source.desired(key);
    expect(desired).toBeDefined();
    expect(desired!.desiredRevision).toBe(revisionHash(podTemplate('nginx:1.27')));
    // The same hash graylane validate and the single host give the document.
    expect(desired!.desiredRevision).toBe(rolloutRevision(inline() as unknown as Rollout));
    expect(desired!.spec.replicas).toBe(2);
    expect(desired!.host).toBeUndefined();
    expect(desired!.pathPrefix).toBeUndefined();
    expect(desired!.revisions).toEqual([{
      name: desired!.desiredRevision,
      template: {
        podTemplate: podTemplate('nginx:1.27'),
        selector: { app: 'web' },
        owner: { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'web', uid },
        revisionNumber: 1,
        minReadySeconds: 5,
      } satisfies RevisionTemplate,
    }]);
  });

  it('orders the Rollout\'s ReplicaSets by their revision annotation, leaves out other Rollouts\' and appends the new revision as the next number', async () => {
    const uid = await createRollout(inline('nginx:1.30'));
    const otherUid = await createRollout(rollout({ selector: { matchLabels: { app: 'web' } }, template: podTemplate('nginx:9') }, 'other'));
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.29', revision: 3 });
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.27', revision: 1 });
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.28', revision: 2 });
    await createReplicaSet({ ownerUid: otherUid, owner: 'other', image: 'nginx:9', revision: 7 });
    await refresh();
    const desired = (await source.desired(key))!;
    const hashes = ['1.27', '1.28', '1.29', '1.30'].map((v) => revisionHash(podTemplate(`nginx:${v}`)));
    expect(desired.revisions.map((r) => r.name)).toEqual(hashes);
    expect(desired.revisions.map((r) => (r.template as RevisionTemplate).revisionNumber)).toEqual([1, 2, 3, 4]);
    // An old revision's template is what its ReplicaSet runs (the server's defaults included),
    // without the label the runtime adds.
    const old = (desired.revisions[0]!.template as RevisionTemplate).podTemplate;
    expect(old.metadata?.labels).toEqual({ app: 'web' });
    expect(old.spec?.containers.map((c) => c.image)).toEqual(['nginx:1.27']);
  });

  it('going back to a revision whose ReplicaSet exists keeps it in its place and adds no second one', async () => {
    const uid = await createRollout(inline('nginx:1.27'));
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.27', revision: 1 });
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.28', revision: 2 });
    await refresh();
    const desired = (await source.desired(key))!;
    expect(desired.desiredRevision).toBe(revisionHash(podTemplate('nginx:1.27')));
    expect(desired.revisions.map((r) => [r.name, (r.template as RevisionTemplate).revisionNumber])).toEqual([
      [revisionHash(podTemplate('nginx:1.27')), 1], [revisionHash(podTemplate('nginx:1.28')), 2],
    ]);
  });

  it('a workloadRef takes the pod template and the selector from the Deployment', async () => {
    await apps.createNamespacedDeployment({ namespace: ns, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'demo-dp' }, spec: { replicas: 3, selector: { matchLabels: { app: 'demo' } }, template: podTemplate('demo:v1', 'demo') } } });
    await createRollout(rollout({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-dp', scaleDown: 'progressively' } }));
    await refresh();
    const desired = (await source.desired(key))!;
    const template = desired.revisions.at(-1)!.template as RevisionTemplate;
    expect(template.selector).toEqual({ app: 'demo' });
    expect(template.podTemplate.spec?.containers[0]?.image).toBe('demo:v1');
    expect(desired.desiredRevision).toBe(revisionHash(template.podTemplate));
    expect(desired.spec.workloadRef?.scaleDown).toBe('progressively');
  });

  it('a Rollout that is gone: desired is undefined and check says absent', async () => {
    await refresh();
    expect(await source.desired(key)).toBeUndefined();
    expect(source.check(key)).toEqual({ state: 'absent' });
  });

  it('before the caches have listed, a pass fails with CacheNotSynced rather than seeing no ReplicaSets', async () => {
    await createRollout(inline());
    await rollouts.refresh();
    await expect(source.desired(key)).rejects.toMatchObject({ code: 'CacheNotSynced', kind: 'ReplicaSet' });
    await replicaSets.refresh();
    await createRollout(rollout({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' } }, 'ref'));
    await rollouts.refresh();
    expect(() => source.check({ namespace: ns, name: 'ref' })).toThrow(CacheNotSyncedError);
    expect(() => source.check({ namespace: ns, name: 'ref' })).toThrow('the Deployment cache has not listed yet');
  });
});

describe('RolloutSpecSource: invalid Rollouts become one sentence for InvalidSpec', () => {
  it('a selector that does not match the template names the field and the label', async () => {
    await createRollout(rollout({ selector: { matchLabels: { app: 'api' } }, template: podTemplate('nginx:1.27') }));
    await refresh();
    expect(await source.desired(key)).toBeUndefined();
    expect(invalid(source.check(key))).toBe('spec.selector.matchLabels.app: selects app=api but spec.template.metadata.labels does not have it');
  });

  it('a selector with matchExpressions: the ReplicaSets select by matchLabels only', async () => {
    await createRollout(rollout({ selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, template: podTemplate('nginx:1.27') }));
    await refresh();
    expect(invalid(source.check(key))).toBe("spec.selector: matchExpressions are not supported; graylane's ReplicaSets select by matchLabels only");
  });

  it('a pod template the Kubernetes schema refuses (the CRD leaves it to the controller) names the field', async () => {
    await createRollout(rollout({ selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 'http' }] }] } } }));
    await refresh();
    expect(invalid(source.check(key))).toMatch(/^spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: /);
  });

  it('neither template nor workloadRef', async () => {
    await createRollout(rollout({ selector: { matchLabels: { app: 'web' } } }));
    await refresh();
    expect(invalid(source.check(key))).toContain('spec: missing required field "template"');
  });

  it('a workloadRef to a Deployment that does not exist', async () => {
    await createRollout(rollout({ workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-dp' } }));
    await refresh();
    expect(await source.desired(key)).toBeUndefined();
    expect(invalid(source.check(key))).toBe('spec.workloadRef: Deployment "demo-dp" not found in namespace "default"');
  });

  it('a workloadRef to something other than an apps/v1 Deployment', async () => {
    await createRollout(rollout({ workloadRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' } }));
    await refresh();
    expect(invalid(source.check(key))).toBe('spec.workloadRef: graylane takes the pod template from an apps/v1 Deployment only, not apps/v1 StatefulSet');
  });

  it('an object in the Rollout cache that is no graylane Rollout', async () => {
    const objects = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web', namespace: ns } }];
    const cache: ObjectCache<RolloutObject> = {
      get: (n, name) => objects.find((o) => o.metadata.namespace === n && o.metadata.name === name),
      list: (q) => objects.filter((o) => matchesQuery(o, q)),
      onChange: () => () => undefined,
      synced: () => true,
    };
    await replicaSets.refresh();
    const odd = new RolloutSpecSource({ rollouts: cache, replicaSets, deployments, apps });
    expect(invalid(odd.check(key))).toBe('not a graylane Rollout: v1 ConfigMap');
  });
});

describe('RolloutSpecSource.forgetRevision', () => {
  it('deletes the revision\'s ReplicaSet, leaves the others, and is idempotent', async () => {
    const uid = await createRollout(inline('nginx:1.28'));
    const old = await createReplicaSet({ ownerUid: uid, image: 'nginx:1.27', revision: 1 });
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.28', revision: 2 });
    await refresh();
    const hash = revisionHash(podTemplate('nginx:1.27'));
    await source.forgetRevision(key, hash);
    const left = await apps.listNamespacedReplicaSet({ namespace: ns });
    expect(left.items.map((rs) => rs.metadata?.name)).toEqual([`web-${revisionHash(podTemplate('nginx:1.28'))}`]);
    expect(old.metadata?.name).toBe(`web-${hash}`);
    // The cache still holds it (no watch yet): the second delete meets a 404 and is no error.
    await expect(source.forgetRevision(key, hash)).resolves.toBeUndefined();
  });

  it('deletes nothing when the Rollout is gone (its ReplicaSets go by the owner cascade)', async () => {
    const uid = await createRollout(inline());
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.27', revision: 1 });
    await replicaSets.refresh();
    await rollouts.refresh();
    await custom.deleteNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: ns, plural: 'rollouts', name: 'web', propagationPolicy: 'Orphan' });
    await rollouts.refresh();
    await source.forgetRevision(key, revisionHash(podTemplate('nginx:1.27')));
    expect((await apps.listNamespacedReplicaSet({ namespace: ns })).items).toHaveLength(1);
  });

  it('a failure other than 404 reaches the caller (the work queue retries it)', async () => {
    const uid = await createRollout(inline('nginx:1.28'));
    await createReplicaSet({ ownerUid: uid, image: 'nginx:1.27', revision: 1 });
    await refresh();
    await cluster.close();
    await expect(source.forgetRevision(key, revisionHash(podTemplate('nginx:1.27')))).rejects.toThrow();
    // A live cluster again, for afterEach to close.
    cluster = await startCluster({ simulateWorkloads: false });
  });
});
