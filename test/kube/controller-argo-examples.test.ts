/**
 * Argo Rollouts' own Istio example (examples/istio/istio-subset-split.yaml, unmodified, with
 * Istio's CRDs installed) run by `graylane controller --argo-rollouts` against the fake API server:
 * the Argo Rollout as its users apply it reaches the VirtualService's weights and the
 * DestinationRule's subsets. (The nginx and Gateway API plugin examples run through their
 * providers: src/traffic/nginx and src/traffic/gateway-api.)
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { apply, ClusterTestBed, documents, runController, startCluster, until } from '../fixtures/kube/controller-harness.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';

const bed = new ClusterTestBed();
afterEach(() => bed.tearDown());
const ns = 'default';
const argo = { group: 'argoproj.io', version: 'v1alpha1', namespace: ns, plural: 'rollouts' };

describe('Argo Rollouts\' Istio example through the controller', () => {
  it('istio-subset-split.yaml: a new template is 90/10 between the subsets, each labelled with its revision\'s hash', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50, crds: ['graylane', 'argo'] }));
    await installIstioCrds(c.server);
    const docs = documents(readFileSync(resolve(import.meta.dirname, '../fixtures/kube/istio-argo-subset-split.yaml'), 'utf8'));
    await apply(c, docs.filter((d) => d.kind !== 'Rollout'));
    await c.custom.createNamespacedCustomObject({ ...argo, body: docs.find((d) => d.kind === 'Rollout') });
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log, argoRollouts: true });
    const read = async () => (await c.custom.getNamespacedCustomObject({ ...argo, name: 'istio-subset-split' })) as RolloutObject;
    const v1 = (await until('Healthy', read, (r) => r.status?.phase === 'Healthy')).status!.stableRS!;

    await c.custom.patchNamespacedCustomObject(
      { ...argo, name: 'istio-subset-split', body: { spec: { template: { metadata: { labels: { app: 'istio-subset-split' } }, spec: { containers: [{ name: 'istio-subset-split', image: 'nginx:1.20-alpine' }] } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const v2 = (await until('paused at 10%', read, (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1)).status!.currentPodHash!;
    const istio = (plural: string, name: string) => c.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1alpha3', namespace: ns, plural, name });
    type Vs = { spec: { http: Array<{ route: Array<{ destination: { subset: string }; weight: number }> }> } };
    await until('90/10 in the VirtualService', async () => ((await istio('virtualservices', 'istio-subset-split-vsvc')) as Vs).spec.http[0]!.route.map((r) => `${r.destination.subset}=${r.weight}`).join(),
      (w) => w === 'stable=90,canary=10');
    const dr = (await istio('destinationrules', 'istio-subset-split-destrule')) as { spec: { subsets: Array<{ name: string; labels: Record<string, string> }> } };
    expect(dr.spec.subsets.map((s) => `${s.name}=${s.labels['rollouts-pod-template-hash']}`)).toEqual([`stable=${v1}`, `canary=${v2}`]);
  });
});
