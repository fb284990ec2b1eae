/**
 * Release pinning on the cluster, end to end: the real KubernetesController against the fake API
 * server with graylane's Release CRD and Istio 1.30.3's own CRDs, a frontend and a backend that
 * each route through their VirtualService, and clients followed through an Istio sidecar in
 * miniature that keeps their cookies. A client the frontend's canary served is on the backend's
 * canary for every request, a stable one on stable, until the release ends.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { customResourceDefinition } from '../../src/documents/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { ReleaseObject } from '../../src/state/kubernetes/kubernetes-release-state.js';
import { apply, ClusterTestBed, operate, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { IstioDataPlane, type IstioRequest, type IstioResponse } from '../fixtures/kube/istio-data-plane.js';
import { CookieClient } from '../fixtures/kube/cookie-client.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { memberRollout, memberService, newMemberImages } from '../fixtures/kube/release-members.js';

const bed = new ClusterTestBed();
const { log } = bed;
afterEach(() => bed.tearDown());

const ns = 'default';
const service = memberService;
const rollout = (name: string, image: string) => memberRollout(name, image, { istio: { virtualService: { name: `${name}-vs`, routes: ['primary'] } } });
const virtualService = (name: string) => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `${name}-vs` },
  spec: { hosts: [name], http: [{ name: 'primary', route: [{ destination: { host: `${name}-stable` }, weight: 100 }, { destination: { host: `${name}-canary` }, weight: 0 }] }] },
});

type Http = { name?: string; route?: { headers?: unknown }[] }[];

async function start(): Promise<Cluster> {
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  await installIstioCrds(c.server);
  expect((await rawRequest({ server: c.server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') })).status).toBe(201);
  const custom = c.kc.makeApiClient(CustomObjectsApi);
  for (const name of ['web', 'api']) await custom.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', body: virtualService(name) });
  await apply(c, [service('web-stable', 'web'), service('web-canary', 'web'), service('api-stable', 'api'), service('api-canary', 'api'), rollout('web', 'web:1'), rollout('api', 'api:1')] as never);
  const created = await rawRequest({ server: c.server, method: 'POST', path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases`, body: {
    apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' },
    spec: { services: ['web', 'api'], pinning: { abortGrace: '6s' }, strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } },
  } });
  expect(created.status).toBe(201);
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
  return c;
}

const readRelease = async (c: Cluster): Promise<ReleaseObject> =>
  (await rawRequest({ server: c.server, path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases/shop` })).body as unknown as ReleaseObject;

/** A request to one of the two services. */
type MeshRequest = IstioRequest & { to: 'web' | 'api' };

/** A sidecar per service; a request "to" a service goes through its VirtualService. */
function mesh(c: Cluster): { send(request: MeshRequest): Promise<IstioResponse> } {
  const plane = (name: string) => new IstioDataPlane({
    kubeConfig: c.kc, namespace: ns, virtualService: `${name}-vs`,
    revisionOf: async (d) => (await c.core.readNamespacedService({ namespace: ns, name: String(d.host) })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL] ?? 'none',
  });
  const planes = { web: plane('web'), api: plane('api') };
  return { send: (request) => planes[request.to].send(request) };
}

describe('release pinning on the cluster (Istio)', () => {
  it('a client the frontend\'s canary served gets the backend\'s canary on every request, a stable one stable, until the release is aborted (the canary\'s pins kept through the abort grace)', async () => {
    const c = await start();
    const custom = c.kc.makeApiClient(CustomObjectsApi);
    const before: Record<string, string> = {};
    for (const name of ['web', 'api']) before[name] = (await until(`${name} Healthy`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
    await newMemberImages(c, ns, ['web', 'api']);
    const after: Record<string, string> = {};
    for (const name of ['web', 'api']) {
      after[name] = (await until(`${name} at the release gate`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1 && r.status.canary?.weights?.canary.weight === 50, { timeoutMs: 30_000 })).status!.currentPodHash!;
    }
    const generation = (await readRelease(c)).status?.graylane?.state as { generation: string };
    const http = async (name: string) => ((await custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', name: `${name}-vs` })) as { spec: { http: Http } }).spec.http;
    for (const name of ['web', 'api']) await until(`${name}'s pin routes`, () => http(name), (h) => h.map((r) => r.name).join() === 'graylane-pin-shop-canary,graylane-pin-shop-stable,primary');
    const m = mesh(c);
    const clients = Array.from({ length: 24 }, () => new CookieClient(m));
    const sides = new Map<CookieClient<MeshRequest, IstioResponse>, 'canary' | 'stable'>();
    for (const client of clients) {
      const page = await client.send({ to: 'web' });
      const side = page.revision === after.web ? 'canary' : 'stable';
      expect(client.cookies.get('graylane-release')).toBe(`shop.${generation.generation}.${side}`);
      sides.set(client, side);
    }
    expect(new Set(sides.values())).toEqual(new Set(['canary', 'stable']));
    for (const [client, side] of sides) {
      for (let i = 0; i < 4; i += 1) {
        expect((await client.send({ to: 'api' })).revision).toBe(side === 'canary' ? after.api : before.api);
        expect((await client.send({ to: 'web', path: `/app-${i}.js` })).revision).toBe(side === 'canary' ? after.web : before.web);
      }
    }
    await operate(c, ns, 'api', { type: 'abort' });
    await until('the release aborted', () => readRelease(c), (r) => r.status?.phase === 'aborted');
    // Through the abort's grace the canary's clients keep it; nobody new is pinned (no cookie on the split).
    const inGrace = await until('web in the abort grace', () => http('web'), (h) => h.map((r) => r.name).join() === 'graylane-pin-shop-canary,primary', { timeoutMs: 6_000 });
    expect(JSON.stringify(inGrace)).not.toMatch(/set-cookie/);
    for (const name of ['web', 'api']) {
      const routes = await until(`${name}'s pins gone`, () => http(name), (h) => h.map((r) => r.name).join() === 'primary');
      expect(JSON.stringify(routes)).not.toMatch(/set-cookie/);
    }
    const canaryClient = [...sides].find(([, s]) => s === 'canary')![0];
    for (let i = 0; i < 4; i += 1) expect((await canaryClient.send({ to: 'api' })).revision).toBe(before.api);
  }, 120_000);
});
