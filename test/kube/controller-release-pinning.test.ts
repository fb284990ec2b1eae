/**
 * Release pinning on the cluster, end to end: the real KubernetesController against the fake API
 * server with graylane's Release CRD and Istio 1.30.3's own CRDs, a frontend and a backend that
 * each route through their VirtualService, and clients followed through an Istio sidecar in
 * miniature that keeps their cookies. A client the frontend's canary served is on the backend's
 * canary for every request, a stable one on stable, until the release ends: also while the
 * backend's canary is not ready yet at the start, while the frontend is done before the
 * backend at the end (each member's routes are written by its own pass), and through the skew
 * window after promotion.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ClusterApiBackend } from '../../src/cli/cluster/cluster-api-backend.js';
import { afterEach, describe, expect, it } from 'vitest';
import { customResourceDefinition } from '../../src/documents/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { ReleaseObject } from '../../src/state/kubernetes/kubernetes-release-state.js';
import { apply, ClusterTestBed, operate, readRollout, runController, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { IstioDataPlane, type IstioRequest, type IstioResponse } from '../fixtures/kube/istio-data-plane.js';
import { CookieClient } from '../fixtures/kube/cookie-client.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import type { KubeObject } from '../fixtures/kube/object-store.js';
import type { PodBehaviour } from '../fixtures/kube/simulated-workloads.js';
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

/** The release's steps unless a test gives its own; pods of the image `slow()` names when they start ready after its delay, the others after 50 ms. */
async function start(options: { steps?: unknown[]; slow?: () => { image: string; afterMs: number } | undefined } = {}): Promise<Cluster> {
  const podBehaviour = (pod: KubeObject): PodBehaviour => {
    const image = (pod.spec as { containers?: { image?: string }[] } | undefined)?.containers?.[0]?.image;
    const slow = options.slow?.();
    return { kind: 'ready', afterMs: slow !== undefined && image === slow.image ? slow.afterMs : 50 };
  };
  const c = (bed.cluster = await startCluster({ podBehaviour }));
  await installIstioCrds(c.server);
  expect((await rawRequest({ server: c.server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: customResourceDefinition('Release') })).status).toBe(201);
  const custom = c.kc.makeApiClient(CustomObjectsApi);
  for (const name of ['web', 'api']) await custom.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices', body: virtualService(name) });
  await apply(c, [service('web-stable', 'web'), service('web-canary', 'web'), service('api-stable', 'api'), service('api-canary', 'api'), rollout('web', 'web:1'), rollout('api', 'api:1')] as never);
  const created = await rawRequest({ server: c.server, method: 'POST', path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases`, body: {
    apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' },
    spec: { services: ['web', 'api'], pinning: { abortGrace: '6s', skewWindow: '12s' }, strategy: { canary: { steps: options.steps ?? [{ setWeight: 50 }, { pause: {} }] } } },
  } });
  expect(created.status).toBe(201);
  bed.controller = await runController({ kubeConfig: c.kc, namespace: ns, log });
  return c;
}

const readRelease = async (c: Cluster): Promise<ReleaseObject> =>
  (await rawRequest({ server: c.server, path: `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases/shop` })).body as unknown as ReleaseObject;

/** A request to one of the two services. */
type MeshRequest = IstioRequest & { to: 'web' | 'api' };

/**
 * The revision a Service's endpoints serve: the one its selector names, `unavailable` while that
 * revision has no ready pod (a real Service has no endpoint then, and the client gets a 503).
 */
async function servingRevision(c: Cluster, service: string): Promise<string> {
  const hash = (await c.core.readNamespacedService({ namespace: ns, name: service })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];
  if (hash === undefined) return 'none';
  const pods = (await c.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === hash);
  return pods.some((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')) ? hash : 'unavailable';
}

/** A sidecar per service; a request "to" a service goes through its VirtualService. */
function mesh(c: Cluster): { send(request: MeshRequest): Promise<IstioResponse> } {
  const plane = (name: string) => new IstioDataPlane({
    kubeConfig: c.kc, namespace: ns, virtualService: `${name}-vs`,
    revisionOf: (d) => servingRevision(c, String(d.host)),
  });
  const planes = { web: plane('web'), api: plane('api') };
  return { send: (request) => planes[request.to].send(request) };
}

type Client = CookieClient<MeshRequest, IstioResponse>;

/** What one client's page and the API call it makes were served by: `page→api`, revisions. */
async function visit(client: Client): Promise<string> {
  const page = await client.send({ to: 'web' });
  const call = await client.send({ to: 'api' });
  return `${page.revision}→${call.revision}`;
}

/** Every visit pairs a page with the API of its own version: the old with the old, the new with the new. */
const consistent = (before: Record<string, string>, after: Record<string, string>) => [`${before.web}→${before.api}`, `${after.web}→${after.api}`];

/**
 * Both members past the release's gate with `clients` pinned (their first visits in `pinned`), then
 * web done while api's last new pod takes `apiSlowMs` to be ready: the window where one member
 * finished before the other.
 */
async function webDoneBeforeApi(options: { apiSlowMs: number; clients: number }): Promise<{ c: Cluster; before: Record<string, string>; after: Record<string, string>; m: ReturnType<typeof mesh>; clients: Client[]; pinned: string[] }> {
  let slowApi = false;
  const c = await start({ steps: [{ setWeight: 50 }, { pause: { duration: '2s' } }], slow: () => (slowApi ? { image: 'api:2', afterMs: options.apiSlowMs } : undefined) });
  const before: Record<string, string> = {};
  for (const name of ['web', 'api']) before[name] = (await until(`${name} Healthy`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
  await newMemberImages(c, ns, ['web', 'api']);
  const after: Record<string, string> = {};
  for (const name of ['web', 'api']) {
    after[name] = (await until(`${name} at the release gate`, () => readRollout(c, ns, name), (r) => r.status?.currentStepIndex === 1 && r.status.canary?.weights?.canary.weight === 50, { timeoutMs: 30_000 })).status!.currentPodHash!;
  }
  // api's last new pod will be slow: web finishes well before it.
  slowApi = true;
  const m = mesh(c);
  const clients = Array.from({ length: options.clients }, () => new CookieClient(m));
  const pinned = await Promise.all(clients.map((client) => visit(client)));
  await until('web done', () => readRollout(c, ns, 'web'), (r) => r.status?.stableRS === after.web, { timeoutMs: 20_000 });
  expect((await readRollout(c, ns, 'api')).status?.stableRS).toBe(before.api);
  return { c, before, after, m, clients, pinned };
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
  it('at the start, the frontend sends nobody to its canary (nor pins anyone there) before the backend\'s canary serves: every page meets the API of its version', async () => {
    const c = await start({ slow: () => ({ image: 'api:2', afterMs: 8_000 }) });
    const before: Record<string, string> = {};
    for (const name of ['web', 'api']) before[name] = (await until(`${name} Healthy`, () => readRollout(c, ns, name), (r) => r.status?.phase === 'Healthy', { timeoutMs: 30_000 })).status!.stableRS!;
    await newMemberImages(c, ns, ['web', 'api']);
    const after: Record<string, string> = {};
    // web's own engine is at the gate's 50%.
    const web = await until('web at the release gate', () => readRollout(c, ns, 'web'), (r) => r.status?.currentStepIndex === 1 && (r.status.graylane?.engine as { weights: { canary: number } } | undefined)?.weights.canary === 50, { timeoutMs: 30_000 });
    after.web = web.status!.currentPodHash!;
    const api = await readRollout(c, ns, 'api');
    after.api = api.status!.currentPodHash!;
    // The window under test: api's new pods are not ready, so its canary serves nobody yet, and
    // web's routes hold its canary at 0: its status shows the 0 its routes carry, not the 50.
    expect(api.status?.canary?.weights?.canary.weight).toBe(0);
    expect(web.status?.canary?.weights).toMatchObject({ canary: { weight: 0, podTemplateHash: after.web }, stable: { weight: 100, podTemplateHash: before.web } });
    const m = mesh(c);
    const early = await Promise.all(Array.from({ length: 16 }, () => visit(new CookieClient(m))));
    for (const v of early) expect(consistent(before, after)).toContain(v);
    // Once api's canary serves, new clients are split again, each page with the API of its version.
    await until('api at the release gate', () => readRollout(c, ns, 'api'), (r) => r.status?.currentStepIndex === 1 && r.status.canary?.weights?.canary.weight === 50, { timeoutMs: 30_000 });
    await until('web\'s status at 50%', () => readRollout(c, ns, 'web'), (r) => r.status?.canary?.weights?.canary.weight === 50, { timeoutMs: 10_000 });
    const later = await until('new clients on both sides', () => Promise.all(Array.from({ length: 24 }, () => visit(new CookieClient(m)))), (vs) => new Set(vs).size === 2);
    expect(new Set(later)).toEqual(new Set(consistent(before, after)));
  }, 120_000);

  it('at the end, a member done before the others keeps its old revision for the clients pinned to stable, and splits new clients by the release\'s weight: no page meets the other version\'s API', async () => {
    const { c, before, after, m, clients, pinned } = await webDoneBeforeApi({ apiSlowMs: 12_000, clients: 16 });
    expect(new Set(pinned)).toEqual(new Set(consistent(before, after)));
    // The window under test: web is done, api is not.
    expect((await readRollout(c, ns, 'api')).status?.stableRS).toBe(before.api);
    const again = await Promise.all(clients.map((client) => visit(client)));
    expect(again).toEqual(pinned);
    const fresh = await Promise.all(Array.from({ length: 16 }, () => visit(new CookieClient(m))));
    for (const v of fresh) expect(consistent(before, after)).toContain(v);
    // Promoted: through the skew window (12 s) a client whose page the old version served keeps the
    // old version on every member, whatever order the members' passes come in; every other client,
    // new or pinned to the canary, gets the new one everywhere.
    const promoted = await until('the release promoted', () => readRelease(c), (r) => r.status?.phase === 'promoted', { timeoutMs: 30_000 });
    expect(await Promise.all(clients.map((client) => visit(client)))).toEqual(pinned);
    // `graylane status shop` against the cluster says until when old pages stay on the old version.
    const backend = await ClusterApiBackend.start({ target: { kubeConfig: c.kc, namespace: ns, context: 'test', server: c.server.url } });
    try {
      expect((await backend.get('shop')).skewWindowEndsAtMs).toBe((promoted.status?.graylane?.state as { skewUntilMs: number }).skewUntilMs);
    } finally {
      await backend.stop();
    }
    const newcomers = await Promise.all(Array.from({ length: 8 }, () => visit(new CookieClient(m))));
    expect(new Set(newcomers)).toEqual(new Set([`${after.web}→${after.api}`]));
    // After it, the stable pins go and the old revisions are let go: every client is on the new version.
    await until('every client on the new version', () => Promise.all(clients.map((client) => visit(client))), (vs) => vs.every((v) => v === `${after.web}→${after.api}`), { timeoutMs: 30_000 });
  }, 120_000);

  it('a release aborted after the frontend finished takes the frontend back to its old revision: every client, pinned or new, gets the old page with the old API', async () => {
    const { c, before, after, m, clients } = await webDoneBeforeApi({ apiSlowMs: 60_000, clients: 8 });
    // api fails (here: a person aborts it): the release aborts, and web goes back with it.
    await operate(c, ns, 'api', { type: 'abort' });
    await until('the release aborted', () => readRelease(c), (r) => r.status?.phase === 'aborted');
    const web = await until('web back on its old revision', () => readRollout(c, ns, 'web'), (r) => r.status?.stableRS === before.web, { timeoutMs: 20_000 });
    expect({ abort: web.status?.abort, phase: web.status?.phase, currentPodHash: web.status?.currentPodHash }).toEqual({ abort: true, phase: 'Degraded', currentPodHash: after.web });
    expect(await servingRevision(c, 'web-stable')).toBe(before.web);
    // After the abort grace (6 s) no pin route is left: every client meets the old version on both.
    const old = `${before.web}→${before.api}`;
    await until('every client on the old version', () => Promise.all([...clients, ...Array.from({ length: 8 }, () => new CookieClient(m))].map((client) => visit(client))), (vs) => vs.every((v) => v === old), { timeoutMs: 20_000 });
  }, 120_000);
});
