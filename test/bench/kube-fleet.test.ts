import { afterEach, describe, expect, it } from 'vitest';
import { KubeFleet, type KubeFleetOptions } from '../../bench/lib-kube-fleet.js';
import type { KubeObject } from '../fixtures/kube/object-store.js';

let fleet: KubeFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

const OPTIONS: KubeFleetOptions = { size: 5, namespaces: 2, strategy: 'mixed', podReadyMs: 10, scaleDownDelaySeconds: 0 };

async function start(options: Partial<KubeFleetOptions> = {}): Promise<KubeFleet> {
  fleet = await KubeFleet.start({ ...OPTIONS, ...options });
  return fleet;
}

function list(f: KubeFleet, group: string, version: string, plural: string): KubeObject[] {
  return f.server.cluster.list({ type: f.server.cluster.type(group, version, plural) }).items;
}

/** Writes a Rollout's status as a controller would, through the status subresource. */
function writeStatus(f: KubeFleet, namespace: string, name: string, status: Record<string, unknown>): void {
  const type = f.server.cluster.type('graylane.dev', 'v1alpha1', 'rollouts');
  const current = f.server.cluster.get({ type, namespace, name });
  f.server.cluster.update({ type, namespace, name, subresource: 'status', body: { ...current, status } });
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the Kubernetes benchmark’s fleet in the fake API server', () => {
  it('serves graylane’s CRDs and holds N Rollouts spread over the namespaces, a Service for each blue-green one', async () => {
    const f = await start();
    f.fill();
    const rollouts = list(f, 'graylane.dev', 'v1alpha1', 'rollouts');
    expect(rollouts.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual(['bench-0/app-0', 'bench-0/app-2', 'bench-0/app-4', 'bench-1/app-1', 'bench-1/app-3']);
    const strategies = Object.fromEntries(rollouts.map((r) => [r.metadata.name, Object.keys((r.spec as { strategy: object }).strategy)[0]]));
    expect(strategies).toEqual({ 'app-0': 'blueGreen', 'app-1': 'canary', 'app-2': 'blueGreen', 'app-3': 'canary', 'app-4': 'blueGreen' });
    const app0 = rollouts.find((r) => r.metadata.name === 'app-0')!;
    expect(app0.spec).toMatchObject({ replicas: 1, strategy: { blueGreen: { activeService: 'app-0', autoPromotionEnabled: true, scaleDownDelaySeconds: 0 } } });
    expect(rollouts.find((r) => r.metadata.name === 'app-1')!.spec).toMatchObject({ strategy: { canary: { steps: [{ setWeight: 100 }] } } });
    const services = list(f, '', 'v1', 'services').filter((s) => s.metadata.namespace!.startsWith('bench-'));
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['app-0', 'app-2', 'app-4']);
    expect(services[0]!.spec).toMatchObject({ selector: { app: services[0]!.metadata.name }, ports: [{ port: 80, targetPort: 8080 }] });
    expect(f.phases()).toEqual({ none: 5 });
    expect(f.converged()).toBe(0);
  });

  it('counts a Rollout converged once Healthy on a revision decided on its generation, and after a template change only on a new one', async () => {
    const f = await start({ size: 2, namespaces: 1, strategy: 'canary' });
    f.fill();
    writeStatus(f, 'bench-0', 'app-0', { phase: 'Healthy', observedGeneration: 1, currentPodHash: 'aaa', stableRS: 'aaa' });
    writeStatus(f, 'bench-0', 'app-1', { phase: 'Progressing', observedGeneration: 1, currentPodHash: 'bbb', stableRS: 'aaa' });
    expect(f.converged()).toBe(1);
    expect(f.phases()).toEqual({ Healthy: 1, Progressing: 1 });
    writeStatus(f, 'bench-0', 'app-1', { phase: 'Healthy', observedGeneration: 1, currentPodHash: 'bbb', stableRS: 'bbb' });
    expect(f.converged()).toBe(2);

    f.changeTemplates();
    const r0 = f.server.cluster.get({ type: f.server.cluster.type('graylane.dev', 'v1alpha1', 'rollouts'), namespace: 'bench-0', name: 'app-0' });
    expect(r0.metadata.generation).toBe(2);
    expect(r0.spec).toMatchObject({ template: { spec: { containers: [{ name: 'app', image: 'registry.example/bench-app:v2' }] } } });
    // Still Healthy on the old revision: not converged on the new template.
    expect(f.converged()).toBe(0);
    // A status decided on the old generation does not count, even on another hash.
    writeStatus(f, 'bench-0', 'app-0', { phase: 'Healthy', observedGeneration: 1, currentPodHash: 'ccc', stableRS: 'ccc' });
    expect(f.converged()).toBe(0);
    writeStatus(f, 'bench-0', 'app-0', { phase: 'Healthy', observedGeneration: 2, currentPodHash: 'ccc', stableRS: 'ccc' });
    // The same hash as before the change, even on the new generation, is not the new revision.
    writeStatus(f, 'bench-0', 'app-1', { phase: 'Healthy', observedGeneration: 2, currentPodHash: 'bbb', stableRS: 'bbb' });
    expect(f.converged()).toBe(1);
  });

  it('checks a claimed Healthy against the cluster: a ready ReplicaSet of that hash, and the blue-green Service selecting it', async () => {
    const f = await start({ size: 2, namespaces: 1, strategy: 'blue-green' });
    f.fill();
    const cluster = f.server.cluster;
    const labels = { app: 'app-0', 'rollouts-pod-template-hash': 'h0' };
    cluster.create({ type: cluster.type('apps', 'v1', 'replicasets'), namespace: 'bench-0', body: { metadata: { name: 'app-0-h0', labels }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'x' }] } } } } });
    const services = cluster.type('', 'v1', 'services');
    const svc = cluster.get({ type: services, namespace: 'bench-0', name: 'app-0' });
    cluster.update({ type: services, namespace: 'bench-0', name: 'app-0', body: { ...svc, spec: { ...(svc.spec as object), selector: labels } } });
    writeStatus(f, 'bench-0', 'app-0', { phase: 'Healthy', currentPodHash: 'h0', stableRS: 'h0' });
    writeStatus(f, 'bench-0', 'app-1', { phase: 'Healthy', currentPodHash: 'h1', stableRS: 'h1' });
    // The simulated kubelet makes app-0's pod ready; app-1 claims a revision that has no ReplicaSet.
    await until(() => f.verify().length === 2, 'app-0 verified');
    expect(f.verify()).toEqual([
      'bench-0/app-1: Healthy on h1, but no ReplicaSet with that hash has a ready pod',
      'bench-0/app-1: Healthy on h1, but its Service selects no pod-template hash',
    ]);
    expect(f.objectCounts()).toMatchObject({ 'apps/replicasets': 1, '/pods': 1, 'graylane.dev/rollouts': 2 });
  });

  it('refuses impossible options and a second fill', async () => {
    await expect(KubeFleet.start({ ...OPTIONS, size: 0 })).rejects.toMatchObject({ code: 'FleetOptionsInvalid', message: 'size must be a whole number ≥ 1, not 0' });
    await expect(KubeFleet.start({ ...OPTIONS, namespaces: 1.5 })).rejects.toMatchObject({ code: 'FleetOptionsInvalid' });
    const f = await start({ size: 1 });
    f.fill();
    expect(() => f.fill()).toThrow(expect.objectContaining({ code: 'FleetAlreadyFilled' }));
  });
});
