/**
 * Argo Rollouts' own example manifests, unmodified, run by `graylane controller --argo-rollouts`
 * against the fake API server: Istio's subset split (examples/istio/istio-subset-split.yaml, with
 * Istio's CRDs installed), ingress-nginx's getting-started (docs/getting-started/nginx) and the
 * Gateway API plugin's basic HTTPRoute (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi,
 * with the Gateway API CRDs installed). At each step the data plane's objects are read and, for
 * nginx and the Gateway API, what a user's requests would reach is worked out from them.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import { apply, ClusterTestBed, documents, operate, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { GatewayDataPlane } from '../fixtures/kube/gateway-api-data-plane.js';
import { installGatewayApiCrds } from '../fixtures/kube/gateway-api-crds.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { nginxBackend } from '../fixtures/kube/nginx-ingress-simulator.js';

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

const fixture = (file: string) => documents(readFileSync(resolve(import.meta.dirname, '../fixtures/kube', file), 'utf8'));
const readArgo = (c: Cluster, name: string) => async () => (await c.custom.getNamespacedCustomObject({ ...argo, name })) as RolloutObject;
const selectorOf = async (c: Cluster, name: string) => (await c.core.readNamespacedService({ namespace: ns, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];

/** A new image in the Rollout's first container, as `kubectl argo rollouts set image` writes it. */
async function setImage(c: Cluster, name: string, image: string): Promise<void> {
  await c.custom.patchNamespacedCustomObject(
    { ...argo, name, body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
}

describe('Argo Rollouts\' ingress-nginx example through the controller', () => {
  it('getting-started: at setWeight 5 a canary Ingress cloned from rollouts-demo-stable sends 5% of rollouts-demo.local to the canary; promoted, the weight is 0 and both Services select the new pods', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50, crds: ['graylane', 'argo'] }));
    const docs = fixture('nginx-argo-getting-started.yaml');
    const net = c.kc.makeApiClient(NetworkingV1Api);
    await apply(c, docs.filter((d) => d.kind === 'Service'));
    for (const ingress of docs.filter((d) => d.kind === 'Ingress')) await net.createNamespacedIngress({ namespace: ns, body: ingress });
    await c.custom.createNamespacedCustomObject({ ...argo, body: docs.find((d) => d.kind === 'Rollout') });
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log, argoRollouts: true });
    const read = readArgo(c, 'rollouts-demo');
    const v1 = (await until('Healthy', read, (r) => r.status?.phase === 'Healthy')).status!.stableRS!;
    // What 1000 users of rollouts-demo.local reach, spread evenly over ingress-nginx's random draw.
    const users = async () => {
      const ingresses = (await net.listNamespacedIngress({ namespace: ns })).items;
      const counts: Record<string, number> = {};
      for (let i = 0; i < 1000; i += 1) {
        const to = nginxBackend({ ingresses, random: () => i / 1000 }, { host: 'rollouts-demo.local', path: '/' }) ?? 'none';
        counts[to] = (counts[to] ?? 0) + 1;
      }
      return counts;
    };

    await setImage(c, 'rollouts-demo', 'argoproj/rollouts-demo:yellow');
    const v2 = (await until('paused at 5%', read, (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1)).status!.currentPodHash!;
    const canary = await until('the canary Ingress at weight 5', () => net.readNamespacedIngress({ namespace: ns, name: 'rollouts-demo-rollouts-demo-stable-canary' }).catch(() => undefined),
      (i) => i?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'] === '5');
    expect(canary?.metadata?.annotations).toMatchObject({ 'nginx.ingress.kubernetes.io/canary': 'true', 'kubernetes.io/ingress.class': 'nginx' });
    expect(canary?.spec?.rules?.map((r) => `${r.host} ${r.http?.paths.map((p) => `${p.path} -> ${p.backend.service?.name}:${p.backend.service?.port?.number}`).join()}`)).toEqual(['rollouts-demo.local / -> rollouts-demo-canary:80']);
    const owner = canary?.metadata?.ownerReferences?.[0];
    expect([owner?.apiVersion, owner?.kind, owner?.uid]).toEqual(['argoproj.io/v1alpha1', 'Rollout', (await read()).metadata?.uid]);
    expect([await selectorOf(c, 'rollouts-demo-stable'), await selectorOf(c, 'rollouts-demo-canary')]).toEqual([v1, v2]);
    expect(await users()).toEqual({ 'rollouts-demo-stable': 950, 'rollouts-demo-canary': 50 });
    // The user's Ingress is left as written.
    expect((await net.readNamespacedIngress({ namespace: ns, name: 'rollouts-demo-stable' })).metadata?.annotations).toEqual({ 'kubernetes.io/ingress.class': 'nginx' });

    await operate(c, ns, 'rollouts-demo', { type: 'promote' }, { flavour: 'argo' });
    await until('promoted to the new revision', read, (r) => r.status?.stableRS === v2);
    await until('the canary weight back to 0', () => net.readNamespacedIngress({ namespace: ns, name: 'rollouts-demo-rollouts-demo-stable-canary' }),
      (i) => i.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'] === '0');
    expect([await selectorOf(c, 'rollouts-demo-stable'), await selectorOf(c, 'rollouts-demo-canary')]).toEqual([v2, v2]);
    expect(await users()).toEqual({ 'rollouts-demo-stable': 1000 });
  });
});

describe('Argo Rollouts\' Gateway API plugin example through the controller', () => {
  it('the plugin\'s basic HTTPRoute: backendRef weights 70/30, 40/60, 0/100 at each promote, then 100/0 on the new stable', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50, crds: ['graylane', 'argo'] }));
    await installGatewayApiCrds(c.server);
    const docs = fixture('gateway-api-examples/weights-httproute.yaml');
    // The plugin's example keeps its two Services in a file of their own; these are the same.
    const services = ['argo-rollouts-stable-service', 'argo-rollouts-canary-service'].map((name) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: 'rollouts-demo' }, ports: [{ port: 80, targetPort: 'http', protocol: 'TCP', name: 'http' }] },
    }));
    await apply(c, [...services, ...docs.filter((d) => d.kind === 'HTTPRoute')]);
    await c.custom.createNamespacedCustomObject({ ...argo, body: docs.find((d) => d.kind === 'Rollout') });
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log, argoRollouts: true });
    const read = readArgo(c, 'rollouts-demo');
    const v1 = (await until('Healthy', read, (r) => r.status?.phase === 'Healthy')).status!.stableRS!;
    type Route = { spec: { rules: Array<{ backendRefs: Array<{ name: string; weight?: number }> }> } };
    const weights = async () => ((await c.custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: ns, plural: 'httproutes', name: 'argo-rollouts-http-route' })) as Route)
      .spec.rules[0]!.backendRefs.map((b) => `${b.name.replace('argo-rollouts-', '').replace('-service', '')}=${b.weight ?? 1}`).join();

    await setImage(c, 'rollouts-demo', 'kostiscodefresh/summer-of-k8s-app:v2');
    const v2 = (await until('paused at 30%', read, (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1)).status!.currentPodHash!;
    const plane = new GatewayDataPlane({ kubeConfig: c.kc, namespace: ns, route: 'argo-rollouts-http-route', backends: { 'argo-rollouts-stable-service': 'v1', 'argo-rollouts-canary-service': 'v2' } });
    for (const [step, expected] of [[0, 'stable=70,canary=30'], [2, 'stable=40,canary=60'], [4, 'stable=0,canary=100']] as const) {
      if (step > 0) await operate(c, ns, 'rollouts-demo', { type: 'promote' }, { flavour: 'argo' });
      await until(`paused at step ${step + 1}`, read, (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === step + 1);
      await until(expected, weights, (w) => w === expected);
      expect([await selectorOf(c, 'argo-rollouts-stable-service'), await selectorOf(c, 'argo-rollouts-canary-service')]).toEqual([v1, v2]);
      // 1000 requests through the route as a Gateway routes them: the weights' share, give or take.
      const canaryShare = ((await plane.send({ count: 1000 })).v2 ?? 0) / 10;
      expect(Math.abs(canaryShare - Number(expected.split('=')[2]))).toBeLessThan(8);
    }
    await operate(c, ns, 'rollouts-demo', { type: 'promote' }, { flavour: 'argo' });
    await until('the new revision stable', read, (r) => r.status?.stableRS === v2);
    await until('all on the stable Service', weights, (w) => w === 'stable=100,canary=0');
    expect([await selectorOf(c, 'argo-rollouts-stable-service'), await selectorOf(c, 'argo-rollouts-canary-service')]).toEqual([v2, v2]);
  });

  it('the plugin\'s header-based example (v1beta1 HTTPRoute, a Service as parent): X-Test: test reaches the new pods through an added rule while everyone else stays on stable; the rule is gone at the next step', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50, crds: ['graylane', 'argo'] }));
    await installGatewayApiCrds(c.server);
    const docs = fixture('gateway-api-examples/header-routes-v1beta1.yaml');
    // As in the other example, the Services are the plugin example's other file.
    const services = ['argo-rollouts-stable-service', 'argo-rollouts-canary-service'].map((name) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: 'rollouts-demo' }, ports: [{ port: 80, targetPort: 'http', protocol: 'TCP', name: 'http' }] },
    }));
    await apply(c, [...services, ...docs.filter((d) => d.kind === 'HTTPRoute')]);
    await c.custom.createNamespacedCustomObject({ ...argo, body: docs.find((d) => d.kind === 'Rollout') });
    bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log: bed.log, argoRollouts: true });
    const read = readArgo(c, 'rollouts-demo');
    const v1 = (await until('Healthy', read, (r) => r.status?.phase === 'Healthy')).status!.stableRS!;
    const rules = async () => ((await c.custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1beta1', namespace: ns, plural: 'httproutes', name: 'argo-rollouts-http-route' })) as { spec: { rules: unknown[] } }).spec.rules.length;
    const plane = new GatewayDataPlane({ kubeConfig: c.kc, namespace: ns, route: 'argo-rollouts-http-route', backends: { 'argo-rollouts-stable-service': 'stable', 'argo-rollouts-canary-service': 'canary' } });

    await setImage(c, 'rollouts-demo', 'hashicorp/http-echo:1.0.1');
    await until('paused at the first step', read, (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.currentStepIndex === 0);
    await operate(c, ns, 'rollouts-demo', { type: 'promote' }, { flavour: 'argo' });
    const v2 = (await until('paused after the header route', read, (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 3)).status!.currentPodHash!;
    await until('the header rule added', rules, (n) => n === 2);
    expect([await selectorOf(c, 'argo-rollouts-stable-service'), await selectorOf(c, 'argo-rollouts-canary-service')]).toEqual([v1, v2]);
    expect(await plane.send({ count: 200, headers: { 'X-Test': 'test' } })).toEqual({ canary: 200 });
    expect(await plane.send({ count: 200, headers: { 'X-Test': 'other' } })).toEqual({ stable: 200 });
    expect(await plane.send({ count: 200 })).toEqual({ stable: 200 });

    await operate(c, ns, 'rollouts-demo', { type: 'promote' }, { flavour: 'argo' });
    await until('the header rule removed', rules, (n) => n === 1);
    await until('the new revision stable', read, (r) => r.status?.stableRS === v2);
    expect(await plane.send({ count: 200, headers: { 'X-Test': 'test' } })).toEqual({ stable: 200 });
    expect(await selectorOf(c, 'argo-rollouts-stable-service')).toBe(v2);
  });
});
