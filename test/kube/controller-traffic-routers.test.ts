/**
 * The controller routing a canary through the traffic routers of issue 15, end to end against the
 * fake API server: ingress-nginx (a canary Ingress beside the user's), Istio (the user's
 * VirtualService weights, with the real CRDs installed) and a router whose API the cluster does not
 * serve (InvalidSpec with a sentence, nothing touched). The Services still select each revision.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CustomObjectsApi, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import { apply, ClusterTestBed, operate, patchRolloutSpec, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installGatewayApiCrds } from '../fixtures/kube/gateway-api-crds.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';

const bed = new ClusterTestBed();
const { log } = bed;
afterEach(() => bed.tearDown());

const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({ metadata: { labels }, spec: { containers: [{ name: 'shop', image, ports: [{ containerPort: 8080 }] }] } });
const services = ['shop-stable', 'shop-canary'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const rollout = (trafficRouting: Record<string, unknown>) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
  spec: {
    replicas: 2, selector: { matchLabels: labels }, template: template('shop:1'),
    strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', trafficRouting, steps: [{ setWeight: 20 }, { pause: {} }] } },
  },
});
const selectorOf = async (c: Cluster, name: string) => (await c.core.readNamespacedService({ namespace: ns, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];

async function run(c: Cluster): Promise<void> {
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
}

async function toPausedCanary(c: Cluster): Promise<{ v1: string; v2: string }> {
  const first = await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy');
  const v1 = first.status!.stableRS!;
  await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
  const paused = await until('paused at 20%', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1);
  return { v1, v2: paused.status!.currentPodHash! };
}

describe('the controller through traffic routers', () => {
  it('ingress-nginx: a canary Ingress cloned from the stable one carries the step\'s weight, the Services select their revisions, promotion takes the weight to 0', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    const stableIngress: V1Ingress = {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'shop', namespace: ns },
      spec: { ingressClassName: 'nginx', rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop-stable', port: { number: 80 } } } }] } }] },
    };
    await c.kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({ namespace: ns, body: stableIngress });
    await apply(c, [...services, rollout({ nginx: { stableIngress: 'shop' } })] as never);
    await run(c);
    const { v1, v2 } = await toPausedCanary(c);
    const net = c.kc.makeApiClient(NetworkingV1Api);
    const canary = await until('the canary Ingress at weight 20', () => net.readNamespacedIngress({ namespace: ns, name: 'shop-shop-canary' }).catch(() => undefined),
      (i) => i?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'] === '20');
    expect(canary?.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary']).toBe('true');
    expect(canary?.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('shop-canary');
    expect([await selectorOf(c, 'shop-stable'), await selectorOf(c, 'shop-canary')]).toEqual([v1, v2]);
    // The user's Ingress is theirs: untouched.
    expect((await net.readNamespacedIngress({ namespace: ns, name: 'shop' })).spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('shop-stable');

    await operate(c, ns, 'shop', { type: 'promoteFull' });
    // Completed first: with a traffic router the old revision is kept scaleDownDelaySeconds (30 s, Argo's default) before Healthy.
    await until('promoted to the new revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.stableRS === v2 && (r.status.phase === 'Completed' || r.status.phase === 'Healthy'));
    await until('the canary weight back to 0', () => net.readNamespacedIngress({ namespace: ns, name: 'shop-shop-canary' }),
      (i) => i.metadata?.annotations?.['nginx.ingress.kubernetes.io/canary-weight'] === '0');
    expect([await selectorOf(c, 'shop-stable'), await selectorOf(c, 'shop-canary')]).toEqual([v2, v2]);
  });

  it('Istio: the user\'s VirtualService gets the step\'s weights (validated against Istio\'s own CRD), back to all-stable after promotion', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await installIstioCrds(c.server);
    const custom = c.kc.makeApiClient(CustomObjectsApi);
    const vs = { group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices' };
    await custom.createNamespacedCustomObject({ ...vs, body: {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vs' },
      spec: { hosts: ['shop'], http: [{ name: 'primary', route: [{ destination: { host: 'shop-stable' }, weight: 100 }, { destination: { host: 'shop-canary' }, weight: 0 }] }] },
    } });
    await apply(c, [...services, rollout({ istio: { virtualService: { name: 'shop-vs', routes: ['primary'] } } })] as never);
    await run(c);
    const { v2 } = await toPausedCanary(c);
    type Vs = { spec: { http: Array<{ route: Array<{ destination: { host: string }; weight: number }> }> } };
    const weights = async () => ((await custom.getNamespacedCustomObject({ ...vs, name: 'shop-vs' })) as Vs).spec.http[0]!.route.map((r) => `${r.destination.host}=${r.weight}`);
    await until('80/20 in the VirtualService', weights, (w) => w.join() === 'shop-stable=80,shop-canary=20');
    await operate(c, ns, 'shop', { type: 'promoteFull' });
    // Completed first: with a traffic router the old revision is kept scaleDownDelaySeconds (30 s, Argo's default) before Healthy.
    await until('promoted to the new revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.stableRS === v2 && (r.status.phase === 'Completed' || r.status.phase === 'Healthy'));
    await until('100/0 in the VirtualService', weights, (w) => w.join() === 'shop-stable=100,shop-canary=0');
  });

  it.each([
    ['Argo\'s plugin config', { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'shop-route', namespace: ns } } }],
    ['graylane\'s trafficRouting.gatewayAPI', { gatewayAPI: { httpRoute: 'shop-route', namespace: ns } }],
  ])('Gateway API (%s): the HTTPRoute\'s backendRef weights follow the step (validated against the Gateway API CRD), back to all-stable after promotion', async (_spelling, trafficRouting) => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await installGatewayApiCrds(c.server);
    const custom = c.kc.makeApiClient(CustomObjectsApi);
    const route = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: ns, plural: 'httproutes' };
    await custom.createNamespacedCustomObject({ ...route, body: {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop-route' },
      spec: { parentRefs: [{ name: 'gateway' }], rules: [{ backendRefs: [{ name: 'shop-stable', port: 80, weight: 100 }, { name: 'shop-canary', port: 80, weight: 0 }] }] },
    } });
    await apply(c, [...services, rollout(trafficRouting)] as never);
    await run(c);
    const { v2 } = await toPausedCanary(c);
    type Route = { spec: { rules: Array<{ backendRefs: Array<{ name: string; weight: number }> }> } };
    const weights = async () => ((await custom.getNamespacedCustomObject({ ...route, name: 'shop-route' })) as Route).spec.rules[0]!.backendRefs.map((b) => `${b.name}=${b.weight}`);
    await until('80/20 in the HTTPRoute', weights, (w) => w.join() === 'shop-stable=80,shop-canary=20');
    await operate(c, ns, 'shop', { type: 'promoteFull' });
    await until('promoted to the new revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.stableRS === v2 && (r.status.phase === 'Completed' || r.status.phase === 'Healthy'));
    await until('100/0 in the HTTPRoute', weights, (w) => w.join() === 'shop-stable=100,shop-canary=0');
  });

  it('maxTrafficWeight 1000: setWeight 200 is 800/200 in the VirtualService and the Rollout\'s status weights, and a fifth of the pods', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await installIstioCrds(c.server);
    const custom = c.kc.makeApiClient(CustomObjectsApi);
    const vs = { group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices' };
    await custom.createNamespacedCustomObject({ ...vs, body: {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vs' },
      spec: { hosts: ['shop'], http: [{ name: 'primary', route: [{ destination: { host: 'shop-stable' }, weight: 1000 }, { destination: { host: 'shop-canary' }, weight: 0 }] }] },
    } });
    const doc = rollout({ istio: { virtualService: { name: 'shop-vs', routes: ['primary'] } }, maxTrafficWeight: 1000 });
    Object.assign(doc.spec, { replicas: 5 });
    Object.assign(doc.spec.strategy.canary, { steps: [{ setWeight: 200 }, { pause: {} }] });
    await apply(c, [...services, doc] as never);
    await run(c);
    const { v2 } = await toPausedCanary(c);
    type Vs = { spec: { http: Array<{ route: Array<{ destination: { host: string }; weight: number }> }> } };
    const weights = async () => ((await custom.getNamespacedCustomObject({ ...vs, name: 'shop-vs' })) as Vs).spec.http[0]!.route.map((r) => `${r.destination.host}=${r.weight}`);
    await until('800/200 in the VirtualService', weights, (w) => w.join() === 'shop-stable=800,shop-canary=200');
    const paused = await readRollout(c, ns, 'shop');
    expect(paused.status?.canary?.weights).toMatchObject({ canary: { weight: 200 }, stable: { weight: 800 } });
    const canaryRs = (await c.apps.listNamespacedReplicaSet({ namespace: ns })).items.find((r) => r.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === v2);
    expect(canaryRs?.spec?.replicas).toBe(1);
  });

  it('a router whose API this cluster does not serve (no Istio CRDs) is InvalidSpec with a sentence, and no ReplicaSet is created', async () => {
    const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
    await apply(c, [...services, rollout({ istio: { virtualService: { name: 'shop-vs' } } })] as never);
    await run(c);
    const invalid = await until('InvalidSpec', () => readRollout(c, ns, 'shop'), (r) => (r.status?.conditions ?? []).some((x) => x.type === 'InvalidSpec'));
    expect(invalid.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toMatch(/trafficRouting\.istio: this controller cannot route through "istio" \(its API is not served by this cluster/);
    expect((await c.apps.listNamespacedReplicaSet({ namespace: ns })).items).toEqual([]);
  });
});
