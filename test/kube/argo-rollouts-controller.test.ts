/**
 * `graylane controller --argo-rollouts` (KubernetesController with `argoRollouts`) against the
 * fake API server with Argo's own `rollouts.argoproj.io` CRD (its closed status schema: unknown
 * status fields are pruned, as a real API server prunes them): an Argo Rollout left running by
 * Argo's controller (its ReplicaSet `<rollout>-<argo hash>`, pods, Services and status) is taken
 * over without a pod restarted, and rolled out through Service selectors, the status in Argo's
 * shape (what Argo's kubectl plugin reads).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { ENGINE_MEMORY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { ClusterTestBed, metric, podReady, runController, selectedPods, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

const bed = new ClusterTestBed();
const { log } = bed;
afterEach(() => bed.tearDown());

const ns = 'default';
const ARGO_HASH = '7bf9c6d8f5';
const argo = { group: 'argoproj.io', version: 'v1alpha1', namespace: ns, plural: 'rollouts' };
const podTemplate = (image: string) => ({
  metadata: { labels: { app: 'demo' } },
  spec: { containers: [{ name: 'demo', image, ports: [{ name: 'http', containerPort: 8080 }] }] },
});

const startArgoCluster = (): Promise<Cluster> => startCluster({ readyAfterMs: 100, crds: ['graylane', 'argo'] });

/**
 * Whether graylane has taken the Rollout over: its memory is on it, and the status is one it
 * wrote (Argo's left no conditions); the memory is written a moment before the status.
 */
const takenOver = (r: RolloutObject): boolean => r.metadata?.annotations?.[ENGINE_MEMORY_ANNOTATION] !== undefined && (r.status?.conditions ?? []).length > 0;
const memoryOf = (r: RolloutObject): { version: number } => JSON.parse(r.metadata!.annotations![ENGINE_MEMORY_ANNOTATION]!) as { version: number };

const readRollout = async (c: Cluster): Promise<RolloutObject> => await c.custom.getNamespacedCustomObject({ ...argo, name: 'demo' }) as RolloutObject;
const pods = async (c: Cluster): Promise<V1Pod[]> => (await c.core.listNamespacedPod({ namespace: ns })).items;

/**
 * What Argo's controller leaves behind for a Rollout on its first revision: the Rollout with
 * Argo's status, its ReplicaSet named and labelled by Argo's hash with Argo's revision
 * annotation, ready pods, and the Services selecting that hash.
 */
async function leftByArgo(c: Cluster, strategy: Record<string, unknown>, services: string[]): Promise<{ podUids: string[] }> {
  const created = await c.custom.createNamespacedCustomObject({
    ...argo,
    body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'demo' }, spec: { replicas: 3, selector: { matchLabels: { app: 'demo' } }, template: podTemplate('nginx:1.27'), strategy } },
  }) as RolloutObject;
  const labels = { app: 'demo', [POD_TEMPLATE_HASH_LABEL]: ARGO_HASH };
  await c.apps.createNamespacedReplicaSet({
    namespace: ns,
    body: {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: `demo-${ARGO_HASH}`, labels, annotations: { 'rollout.argoproj.io/revision': '1' },
        ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'demo', uid: created.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: { replicas: 3, selector: { matchLabels: labels }, template: { ...podTemplate('nginx:1.27'), metadata: { labels } } },
    },
  });
  for (const name of services) {
    await c.core.createNamespacedService({ namespace: ns, body: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] } } });
  }
  await c.custom.replaceNamespacedCustomObjectStatus({
    ...argo, name: 'demo',
    body: {
      ...created,
      status: {
        phase: 'Healthy', currentPodHash: ARGO_HASH, stableRS: ARGO_HASH, observedGeneration: '1',
        replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, selector: `app=demo,${POD_TEMPLATE_HASH_LABEL}=${ARGO_HASH}`,
      },
    },
  });
  const ready = await until('Argo\'s pods ready', () => pods(c), (p) => p.filter(podReady).length === 3);
  return { podUids: ready.map((p) => p.metadata!.uid!).sort() };
}

async function run(c: Cluster): Promise<void> {
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log, argoRollouts: true });
}

describe('graylane controller --argo-rollouts', () => {
  it("adopts Argo's ReplicaSet with no pod deleted or created, Healthy in Argo's status shape; a template change rolls out blue-green through the Services' selectors", async () => {
    const c = (bed.cluster = await startArgoCluster());
    const { podUids } = await leftByArgo(c, { blueGreen: { activeService: 'demo-active', previewService: 'demo-preview', scaleDownDelaySeconds: 1 } }, ['demo-active', 'demo-preview']);
    const activeServes = async (): Promise<void> => {
      const svc = await c.core.readNamespacedService({ namespace: ns, name: 'demo-active' });
      if (!(await selectedPods(c, svc)).some(podReady)) throw new Error(`demo-active selects ${JSON.stringify(svc.spec?.selector)} and no ready pod`);
    };
    await run(c);

    const adopted = await until('the Rollout taken over', () => readRollout(c), (r) => takenOver(r) && r.status?.phase === 'Healthy', { invariant: activeServes });
    // Argo's CRD has no status.graylane: the memory is the annotation, and nothing was pruned from what graylane wrote.
    expect(adopted.status).not.toHaveProperty('graylane');
    expect(memoryOf(adopted).version).toBeGreaterThan(0);
    // Writing the memory is a metadata change: the generation (what observedGeneration is compared with) does not move.
    expect(adopted.metadata?.generation).toBe(1);
    expect(adopted.status).toMatchObject({
      phase: 'Healthy', currentPodHash: ARGO_HASH, stableRS: ARGO_HASH, observedGeneration: '1',
      replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, HPAReplicas: 3, blueGreen: { activeSelector: ARGO_HASH },
    });
    // `kubectl scale` and an HPA read Argo's scale subresource, whose replica count is HPAReplicas.
    const scale = await rawRequest({ server: c.server, method: 'GET', path: `/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts/demo/scale` });
    expect(scale.body).toMatchObject({ spec: { replicas: 3 }, status: { replicas: 3 } });
    expect(adopted.status?.conditions?.find((x) => x.type === 'Available')?.status).toBe('True');
    expect((await c.apps.listNamespacedReplicaSet({ namespace: ns })).items.map((rs) => rs.metadata?.name)).toEqual([`demo-${ARGO_HASH}`]);
    expect((await pods(c)).map((p) => p.metadata!.uid!).sort()).toEqual(podUids);
    // A pass later, still nothing restarted.
    await new Promise((r) => setTimeout(r, 500));
    expect((await pods(c)).map((p) => p.metadata!.uid!).sort()).toEqual(podUids);

    const template = podTemplate('nginx:1.28');
    await c.custom.patchNamespacedCustomObject({ ...argo, name: 'demo', body: { spec: { template } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const healthy = await until('Healthy on the new revision', () => readRollout(c), (r) => r.status?.phase === 'Healthy' && r.status.stableRS !== ARGO_HASH && r.status.stableRS !== undefined, { invariant: activeServes, timeoutMs: 20_000 });
    const v2 = healthy.status!.stableRS!;
    expect(healthy.status).toMatchObject({ currentPodHash: v2, observedGeneration: '2', blueGreen: { activeSelector: v2 }, updatedReplicas: 3, availableReplicas: 3 });
    expect((await c.core.readNamespacedService({ namespace: ns, name: 'demo-active' })).spec?.selector).toEqual({ app: 'demo', [POD_TEMPLATE_HASH_LABEL]: v2 });
    await until(`demo-${ARGO_HASH} scaled to 0 after scaleDownDelaySeconds`, () => c.apps.readNamespacedReplicaSet({ namespace: ns, name: `demo-${ARGO_HASH}` }), (rs) => rs.spec?.replicas === 0, { invariant: activeServes });
  });

  it('a template change rolls out canary: canaryService and stableService split by hash, the pause step shown as Argo shows it, then both on the new hash', async () => {
    const c = (bed.cluster = await startArgoCluster());
    const { podUids } = await leftByArgo(c, { canary: { canaryService: 'demo-canary', stableService: 'demo-stable', steps: [{ setWeight: 34 }, { pause: { duration: 2 } }] } }, ['demo-canary', 'demo-stable']);
    await run(c);
    await until('the Rollout taken over', () => readRollout(c), (r) => takenOver(r) && r.status?.phase === 'Healthy');
    expect((await pods(c)).map((p) => p.metadata!.uid!).sort()).toEqual(podUids);

    await c.custom.patchNamespacedCustomObject({ ...argo, name: 'demo', body: { spec: { template: podTemplate('nginx:1.28') } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const paused = await until('paused on the pause step', () => readRollout(c), (r) => r.status?.currentStepIndex === 1 && r.status.currentPodHash !== ARGO_HASH && (r.status.pauseConditions ?? []).length > 0);
    const v2 = paused.status!.currentPodHash!;
    expect(paused.status).toMatchObject({ phase: 'Paused', stableRS: ARGO_HASH, observedGeneration: '2', pauseConditions: [{ reason: 'CanaryPauseStep' }] });
    expect((await c.core.readNamespacedService({ namespace: ns, name: 'demo-canary' })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(v2);
    expect((await c.core.readNamespacedService({ namespace: ns, name: 'demo-stable' })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(ARGO_HASH);
    expect((await c.apps.readNamespacedReplicaSet({ namespace: ns, name: `demo-${v2}` })).spec?.replicas).toBe(1);

    const done = await until('Healthy on the new revision', () => readRollout(c), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2, { timeoutMs: 20_000 });
    expect(done.status).toMatchObject({ currentPodHash: v2, currentStepIndex: 2, updatedReplicas: 3, availableReplicas: 3 });
    for (const name of ['demo-canary', 'demo-stable']) {
      expect((await c.core.readNamespacedService({ namespace: ns, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(v2);
    }
  });

  it('a controller restarted mid-canary resumes at the same step, pause and weights, with no pod or ReplicaSet replaced, and finishes', async () => {
    const c = (bed.cluster = await startArgoCluster());
    await leftByArgo(c, { canary: { canaryService: 'demo-canary', stableService: 'demo-stable', steps: [{ setWeight: 34 }, { pause: { duration: 8 } }] } }, ['demo-canary', 'demo-stable']);
    await run(c);
    await until('the Rollout taken over', () => readRollout(c), (r) => takenOver(r) && r.status?.phase === 'Healthy');
    await c.custom.patchNamespacedCustomObject({ ...argo, name: 'demo', body: { spec: { template: podTemplate('nginx:1.28') } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const uids = async (): Promise<string[]> => [...(await pods(c)).map((p) => p.metadata!.uid!), ...(await c.apps.listNamespacedReplicaSet({ namespace: ns })).items.map((rs) => rs.metadata!.uid!)].sort();
    const paused = await until('paused on the pause step, the canary pod ready', async () => ({ r: await readRollout(c), p: await pods(c) }),
      ({ r, p }) => r.status?.currentStepIndex === 1 && r.status.currentPodHash !== ARGO_HASH && (r.status.pauseConditions ?? []).length > 0
        && p.some((x) => podReady(x) && x.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === r.status?.currentPodHash));
    const before = { status: paused.r.status!, uids: await uids(), version: memoryOf(paused.r).version };

    await bed.controller!.stop();
    await run(c);
    await until('the restarted controller reconciled', () => metric(bed.controller!, 'graylane_reconcile_duration_seconds_count{outcome="success"}'), (n) => n >= 1);
    await new Promise((r) => setTimeout(r, 500));
    const after = await readRollout(c);
    // The same step of the same rollout: not a new rollout from a forgotten place, not a restarted pause.
    expect(after.status).toMatchObject({
      phase: 'Paused', currentStepIndex: 1, currentPodHash: before.status.currentPodHash, stableRS: ARGO_HASH,
      pauseConditions: before.status.pauseConditions, canary: { weights: before.status.canary?.weights },
    });
    // With no traffic router the split is by pods: 1 canary pod of 3.
    expect(after.status?.canary?.weights?.canary.weight).toBe(33);
    expect(memoryOf(after).version).toBeGreaterThanOrEqual(before.version);
    expect(await uids()).toEqual(before.uids);

    const v2 = before.status.currentPodHash!;
    const done = await until('Healthy on the new revision after the pause', () => readRollout(c), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2, { timeoutMs: 20_000 });
    expect(done.status).toMatchObject({ currentPodHash: v2, currentStepIndex: 2, updatedReplicas: 3, availableReplicas: 3 });
    for (const name of ['demo-canary', 'demo-stable']) {
      expect((await c.core.readNamespacedService({ namespace: ns, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(v2);
    }
  });

  it('an Argo field graylane does not run is InvalidSpec with its sentence, and nothing is touched', async () => {
    const c = (bed.cluster = await startArgoCluster());
    const { podUids } = await leftByArgo(c, { canary: { steps: [{ setWeight: 50 }, { experiment: { templates: [] } }] } }, []);
    await run(c);
    const invalid = await until('InvalidSpec', () => readRollout(c), (r) => (r.status?.conditions ?? []).some((x) => x.type === 'InvalidSpec'));
    expect(invalid.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toMatch(/^spec\.strategy\.canary\.steps\[1\]\.experiment: /);
    expect((await pods(c)).map((p) => p.metadata!.uid!).sort()).toEqual(podUids);
    expect((await c.apps.readNamespacedReplicaSet({ namespace: ns, name: `demo-${ARGO_HASH}` })).spec?.replicas).toBe(3);
  });

  it('an analysis step on a cluster without Argo\'s AnalysisRun CRDs is refused as InvalidSpec, as for graylane Rollouts: never promoted unjudged', async () => {
    const c = (bed.cluster = await startArgoCluster());
    await leftByArgo(c, { canary: { steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'success-rate' }] } }] } }, []);
    await run(c);
    const invalid = await until('InvalidSpec', () => readRollout(c), (r) => (r.status?.conditions ?? []).some((x) => x.type === 'InvalidSpec'));
    expect(invalid.status?.phase).toBe('Degraded');
    expect(invalid.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toBe('spec.strategy.canary.steps[1].analysis: this cluster serves no AnalysisRun API (the AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate CRDs are not installed; install them and restart the controller), or remove the analysis to roll out without it');
  });
});
