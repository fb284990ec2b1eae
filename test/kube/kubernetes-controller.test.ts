/**
 * The Kubernetes controller in-process (KubernetesController) against the fake API server, the
 * simulated ReplicaSet controller and kubelet, and graylane's real Rollout CRD: the seeds in
 * examples/kubernetes/ rolled out as a person would see them with kubectl.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { CoreV1Event, V1ReplicaSet } from '@kubernetes/client-node';
import { formatMicroTime } from '../../src/kube/micro-time.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import type { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { ORIGINAL_REPLICAS_ANNOTATION } from '../../src/controller/kubernetes/workload-ref.js';
import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import {
  apply, ClusterTestBed, documents, operate, patchRolloutSpec, podReady, readRollout, runController, selectedPods, startCluster, until, type Cluster,
} from '../fixtures/kube/controller-harness.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/kubernetes');
const seed = (file: string): string => readFileSync(join(EXAMPLES, file), 'utf8');
const kubectlPath = '/usr/bin/kubectl';

const bed = new ClusterTestBed();
const { lines, log } = bed;
afterEach(() => bed.tearDown());

async function run(c: Cluster, namespace: string | undefined): Promise<KubernetesController> {
  bed.controller = await runController({ kubeConfig: c.kc, namespace, log });
  return bed.controller;
}

const shorter = (seconds: number) => (d: ReturnType<typeof documents>[number]) => {
  if (d.kind !== 'Rollout') return d;
  const strategy = d.spec!.strategy as { blueGreen?: Record<string, unknown> };
  if (strategy.blueGreen) strategy.blueGreen.scaleDownDelaySeconds = seconds;
  return d;
};

const replicaSets = async (c: Cluster, namespace: string): Promise<V1ReplicaSet[]> => (await c.apps.listNamespacedReplicaSet({ namespace })).items;
const service = (c: Cluster, namespace: string, name: string) => c.core.readNamespacedService({ name, namespace });
const events = async (c: Cluster, namespace: string, name: string): Promise<CoreV1Event[]> =>
  (await c.core.listNamespacedEvent({ namespace })).items.filter((e) => e.involvedObject.name === name && e.involvedObject.kind === 'Rollout');

describe('KubernetesController against the fake API server', () => {
  it('seed 001 blue-green: Healthy on its first revision, a new one previewed, switched on promote, the old scaled down; the active Service always has ready endpoints', async () => {
    const c = (bed.cluster = await startCluster());
    await apply(c, documents(seed('001-blue-green.yaml'), shorter(1)));
    await run(c, 'default');
    // At every moment the test observes, the active Service selects at least one ready pod once it selects a revision.
    const activeServes = async (): Promise<void> => {
      const svc = await service(c, 'default', 'demo-service');
      if (svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === undefined) return;
      const pods = await selectedPods(c, svc);
      if (!pods.some(podReady)) throw new Error(`demo-service selects ${JSON.stringify(svc.spec.selector)} and no ready pod`);
    };
    const first = await until('the first revision Healthy', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3, { invariant: activeServes });
    const v1 = first.status!.stableRS!;
    expect((await service(c, 'default', 'demo-service')).spec?.selector).toEqual({ app: 'demo', [POD_TEMPLATE_HASH_LABEL]: v1 });
    expect((await service(c, 'default', 'demo-service')).metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('demo');
    expect(first.status).toMatchObject({ replicas: 3, readyReplicas: 3, availableReplicas: 3, currentPodHash: v1 });

    const template = structuredClone(first.spec.template) as { spec: { containers: { image: string }[] } };
    template.spec.containers[0]!.image = 'bebullish/demo:v2';
    await patchRolloutSpec(c, 'default', 'demo', { template });
    const paused = await until('v2 previewed and paused', () => readRollout(c, 'default', 'demo'),
      (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.blueGreen?.previewSelector === r.status.currentPodHash, { invariant: activeServes });
    const v2 = paused.status!.currentPodHash!;
    expect((await replicaSets(c, 'default')).map((rs) => rs.metadata?.name).sort()).toEqual([`demo-${v1}`, `demo-${v2}`].sort());
    const preview = await service(c, 'default', 'demo-preview');
    expect(preview.spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(v2);
    expect((await selectedPods(c, preview)).filter(podReady)).toHaveLength(3);
    expect((await service(c, 'default', 'demo-service')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe(v1);

    await operate(c, 'default', 'demo', { type: 'promote' });
    await until('demo-service on v2', () => service(c, 'default', 'demo-service'), (s) => s.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === v2, { invariant: activeServes });
    await until('the old ReplicaSet scaled to 0 after scaleDownDelaySeconds', () => c.apps.readNamespacedReplicaSet({ namespace: 'default', name: `demo-${v1}` }),
      (rs) => rs.spec?.replicas === 0, { invariant: activeServes });
    const healthy = await until('Healthy on v2', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2, { invariant: activeServes });
    expect(healthy.status?.conditions?.find((x) => x.type === 'Healthy')?.status).toBe('True');
    await activeServes();

    if (existsSync(kubectlPath)) {
      const dir = await mkdtemp(join(tmpdir(), 'graylane-wire-'));
      try {
        const kubeconfig = await writeKubeconfig({ server: c.server, dir });
        const { stdout } = await promisify(execFile)(kubectlPath, ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Healthy', 'rollouts.graylane.dev/demo', '--timeout=20s'], { timeout: 25_000 });
        expect(stdout.trim()).toBe('rollout.graylane.dev/demo condition met');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const reasons = (await events(c, 'default', 'demo')).map((e) => e.reason);
    expect(reasons.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.msg === 'leading: reconciling')).toBe(true);
  });

  it('seed 002 canary: setWeight 25 of 4 replicas runs 1 canary pod beside the stable ones, Paused, each Service on its hash; promoted to the end, both on the new hash', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 100 }));
    await apply(c, documents(seed('002-canary-paused.yaml')));
    await run(c, undefined);
    const first = await until('Healthy on the first revision', () => readRollout(c, 'wyq', 'nginx01'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 4);
    const v1 = first.status!.stableRS!;
    const template = structuredClone(first.spec.template) as { spec: { containers: { image: string }[] } };
    template.spec.containers[0]!.image = 'nginx:1.15';
    await patchRolloutSpec(c, 'wyq', 'nginx01', { template });
    const paused = await until('paused at 25%', () => readRollout(c, 'wyq', 'nginx01'),
      (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.readyReplicas === r.status.replicas);
    const v2 = paused.status!.currentPodHash!;
    const ready = async (hash: string) => (await c.core.listNamespacedPod({ namespace: 'wyq', labelSelector: `${POD_TEMPLATE_HASH_LABEL}=${hash}` })).items.filter(podReady).length;
    await until('nginx01 on stable, nginx02 on the canary', async () => [
      (await service(c, 'wyq', 'nginx01')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL], (await service(c, 'wyq', 'nginx02')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL],
    ], (s) => s[0] === v1 && s[1] === v2);
    // The engine's replica math without a traffic router, as Argo's: the canary takes 25% of 4 = 1 pod, stable the other 3.
    await until('1 canary and 3 stable pods ready', async () => [await ready(v2), await ready(v1)], (n) => n[0] === 1 && n[1] === 3);
    expect(paused.status?.currentStepIndex).toBe(1);

    await operate(c, 'wyq', 'nginx01', { type: 'promoteFull' });
    const done = await until('Healthy on the new revision', () => readRollout(c, 'wyq', 'nginx01'), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2 && r.status.availableReplicas === 4);
    expect(done.status).toMatchObject({ currentPodHash: v2, availableReplicas: 4 });
    await until('both Services on the new hash', async () => [
      (await service(c, 'wyq', 'nginx01')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL], (await service(c, 'wyq', 'nginx02')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL],
    ], (s) => s[0] === v2 && s[1] === v2);
  });

  it('InvalidSpec: a Rollout naming a missing Service gets the condition with the sentence and a Warning, and no ReplicaSet; once the Service exists it proceeds', async () => {
    const c = (bed.cluster = await startCluster());
    const docs = documents(seed('001-blue-green.yaml')).filter((d) => d.metadata.name !== 'demo-preview');
    await apply(c, docs);
    await run(c, 'default');
    const sentence = 'previewService "demo-preview" does not exist in namespace "default"';
    const invalid = await until('InvalidSpec', () => readRollout(c, 'default', 'demo'), (r) => r.status?.conditions?.some((x) => x.type === 'InvalidSpec' && x.status === 'True') === true);
    expect(invalid.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toBe(sentence);
    expect(invalid.status?.phase).toBe('Degraded');
    await until('the Warning', () => events(c, 'default', 'demo'), (es) => es.some((e) => e.reason === 'InvalidSpec' && e.type === 'Warning' && e.message === sentence));
    // Passes come and go meanwhile (the status write is a change); the condition is written once.
    await new Promise((r) => setTimeout(r, 500));
    expect((await events(c, 'default', 'demo')).filter((e) => e.reason === 'InvalidSpec').map((e) => e.count ?? 1)).toEqual([1]);
    expect(await replicaSets(c, 'default')).toEqual([]);

    await apply(c, documents(seed('001-blue-green.yaml')).filter((d) => d.metadata.name === 'demo-preview'));
    const healthy = await until('Healthy once fixed', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy');
    expect(healthy.status?.conditions?.some((x) => x.type === 'InvalidSpec' && x.status === 'True')).toBe(false);
    expect(await replicaSets(c, 'default')).toHaveLength(1);
  });

  it('InvalidSpec: analysis on a cluster without the AnalysisRun CRDs is refused with a sentence, never skipped', async () => {
    const c = (bed.cluster = await startCluster());
    await apply(c, documents(seed('002-canary-paused.yaml'), (d) => {
      if (d.kind === 'Rollout') (d.spec!.strategy as { canary: { steps: unknown[] } }).canary.steps.splice(1, 0, { analysis: { templates: [{ templateName: 'success-rate' }] } });
      return d;
    }));
    await run(c, 'wyq');
    const invalid = await until('InvalidSpec', () => readRollout(c, 'wyq', 'nginx01'), (r) => r.status?.conditions?.some((x) => x.type === 'InvalidSpec' && x.status === 'True') === true);
    expect(invalid.status?.message).toBe('spec.strategy.canary.steps[1].analysis: this cluster serves no AnalysisRun API (the AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate CRDs are not installed; install them and restart the controller), or remove the analysis to roll out without it');
    expect(await replicaSets(c, 'wyq')).toEqual([]);
  });

  it('workloadRef: the Deployment is scaled to 0 once the Rollout is Healthy; deleting the Rollout gives its replicas and the Service back', async () => {
    const c = (bed.cluster = await startCluster());
    await apply(c, documents(seed('001-blue-green-workload-ref.yaml')));
    await run(c, 'default');
    await until('Healthy', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy');
    const scaled = await until('the Deployment at 0', () => c.apps.readNamespacedDeployment({ namespace: 'default', name: 'demo-dp' }), (d) => d.spec?.replicas === 0);
    expect(scaled.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION]).toBe('3');
    expect((await service(c, 'default', 'demo-service')).metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('demo');

    await c.custom.deleteNamespacedCustomObject({ group: 'graylane.dev', version: 'v1alpha1', namespace: 'default', plural: 'rollouts', name: 'demo' });
    const back = await until('the Deployment given back', () => c.apps.readNamespacedDeployment({ namespace: 'default', name: 'demo-dp' }), (d) => d.spec?.replicas === 3);
    expect(back.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION]).toBeUndefined();
    const svc = await until('the Service given back', () => service(c, 'default', 'demo-service'), (s) => s.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === undefined);
    expect(svc.spec?.selector).toEqual({ app: 'demo' });
    await until('the ReplicaSets gone by the owner cascade', () => replicaSets(c, 'default'), (l) => l.length === 0);
  });

  it('leader election: a standby is ready but does not reconcile; the leader that loses its Lease stops its queue and ends with lease-lost', async () => {
    const c = (bed.cluster = await startCluster());
    const path = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    type Lease = { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    const read = async (): Promise<Lease> => (await rawRequest({ server: c.server, path: `${path}/graylane-controller` })).body as Lease;
    // Read, change, write, as a real holder does: a write that loses to the controller's own
    // renewal in between (409, the Lease's resourceVersion moved on) reads again (seen in CI).
    const update = async (spec: Record<string, unknown>): Promise<void> => {
      let status = 0;
      for (let attempt = 0; attempt < 5 && status !== 200; attempt += 1) {
        const lease = await read();
        status = (await rawRequest({ server: c.server, method: 'PUT', path: `${path}/graylane-controller`, body: { ...lease, spec: { ...lease.spec, ...spec } } })).status;
        expect([200, 409]).toContain(status);
      }
      expect(status).toBe(200);
    };
    const now = () => formatMicroTime(Date.now());
    expect((await rawRequest({ server: c.server, method: 'POST', path, body: {
      metadata: { name: 'graylane-controller' }, spec: { holderIdentity: 'other', leaseDurationSeconds: 2, acquireTime: now(), renewTime: now(), leaseTransitions: 0 },
    } })).status).toBe(201);
    await apply(c, documents(seed('001-blue-green.yaml')));
    const controller = (bed.controller = await runController({
      kubeConfig: c.kc, namespace: 'default', workers: 1, log,
      leaderElection: { namespace: 'default', name: 'graylane-controller', identity: 'me', durations: { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 } },
    }));
    const urls = controller.urls!;
    await until('a standby is ready', () => fetch(`${urls.health}/readyz`).then((r) => r.status), (s) => s === 200);
    // The other holder keeps renewing: this one stands by.
    for (let i = 0; i < 5; i += 1) {
      await update({ renewTime: now() });
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(controller.isLeading).toBe(false);
    expect(await replicaSets(c, 'default')).toEqual([]);
    expect(await (await fetch(`${urls.metrics}/metrics`)).text()).toContain('graylane_leader 0');

    // The other holder stops renewing: this one takes over once the Lease expires, and works.
    await until('leading', () => Promise.resolve(controller.isLeading), (l) => l, { timeoutMs: 10_000 });
    await until('Healthy', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy');

    // Someone else takes the Lease (as after a partition): renewals fail; the queue stops before the renew deadline ends.
    await update({ holderIdentity: 'thief', leaseDurationSeconds: 60, acquireTime: now(), renewTime: now() });
    expect(await controller.done).toBe('lease-lost');
    expect(controller.isLeading).toBe(false);
    expect(await (await fetch(`${urls.metrics}/metrics`)).text()).toContain('graylane_leader 0');
    expect(lines.some((l) => l.msg === 'leader election: the lease is lost; the queue stops and this controller ends')).toBe(true);
  });
});
