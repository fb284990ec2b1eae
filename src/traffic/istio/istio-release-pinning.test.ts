/**
 * Release pinning through Istio, against the fake API server with Istio 1.30.3's own CRDs (every
 * write validated by them): the pin routes and pin cookies a user sees in their VirtualService,
 * and clients followed across requests through a sidecar in miniature that routes by the
 * VirtualService as written and hands back the Set-Cookie its destination adds.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { IstioDataPlane, type IstioRequest, type IstioResponse } from '../../../test/fixtures/kube/istio-data-plane.js';
import { CookieClient } from '../../../test/fixtures/kube/cookie-client.js';
import { installIstioCrds } from '../../../test/fixtures/kube/istio-crds.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import type { ReleasePin } from '../release-pin.js';
import type { TrafficDecision } from '../traffic-provider.js';
import { ISTIO_MANAGED_ROUTES_ANNOTATION, IstioTrafficProvider, type IstioObject } from './istio-provider.js';
import { IstioRoutingError } from './istio-routing-error.js';

const NS = 'default';
type Json = Record<string, unknown>;

class Harness {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly virtualServices: ListCache<IstioObject>;
  readonly destinationRules: ListCache<IstioObject>;
  provider: IstioTrafficProvider;
  readonly plane: IstioDataPlane;

  private constructor(readonly server: FakeApiServer, readonly kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.virtualServices = new ListCache<IstioObject>({ kubeConfig, apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: NS });
    this.destinationRules = new ListCache<IstioObject>({ kubeConfig, apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', namespace: NS });
    this.provider = this.newProvider();
    this.plane = new IstioDataPlane({
      kubeConfig, namespace: NS, virtualService: 'shop-vsvc',
      revisionOf: async (d) => (await this.core.readNamespacedService({ namespace: NS, name: String(d.host).split('.')[0]! }).catch(() => undefined))?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] ?? 'none',
    });
  }

  static async start(vs: Json = hostVs()): Promise<Harness> {
    const server = await FakeApiServer.start();
    await installIstioCrds(server);
    const h = new Harness(server, kubeConfigFor({ server }));
    for (const [name, hash] of [['shop-stable', 'v1'], ['shop-canary', 'v2']] as const) {
      await h.core.createNamespacedService({ namespace: NS, body: { metadata: { name }, spec: { selector: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: hash }, ports: [{ port: 80 }] } } });
    }
    await h.custom.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: NS, plural: 'virtualservices', body: vs });
    return h;
  }

  newProvider(): IstioTrafficProvider {
    return new IstioTrafficProvider({ kubeConfig: this.kubeConfig, virtualServices: this.virtualServices, destinationRules: this.destinationRules });
  }

  async refresh(): Promise<void> {
    await Promise.all([this.virtualServices.refresh(), this.destinationRules.refresh()]);
  }

  async apply(d: TrafficDecision): Promise<void> {
    await this.refresh();
    try { await this.provider.apply(d); } finally { await this.refresh(); }
  }

  /** The VirtualService as a user reads it, in `version`. */
  async vs(version = 'v1'): Promise<IstioObject> {
    return await this.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version, namespace: NS, plural: 'virtualservices', name: 'shop-vsvc' }) as IstioObject;
  }

  async http(): Promise<Json[]> {
    return ((await this.vs()).spec?.http ?? []) as Json[];
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

const hostVs = (primaryMatch?: Json[]): Json => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vsvc' },
  spec: {
    hosts: ['shop'],
    http: [
      { name: 'other', match: [{ uri: { prefix: '/legacy' } }], route: [{ destination: { host: 'legacy' } }] },
      { name: 'primary', ...(primaryMatch ? { match: primaryMatch } : {}), route: [{ destination: { host: 'shop-stable', port: { number: 80 } }, weight: 100 }, { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 0 }] },
    ],
  },
});

const spec: RolloutSpec = {
  strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', steps: [{ setWeight: 30 }], trafficRouting: { istio: { virtualService: { name: 'shop-vsvc', routes: ['primary'] } } } } },
};
const pin: ReleasePin = { release: 'shop', generation: 'g1', cookie: 'graylane-release', header: 'x-graylane-release', allowForceHeader: false, phase: 'progressing' };
const decision = (canaryWeight: number, release: ReleasePin | 'unpinned' = pin, t: Partial<TrafficInForce> = {}): TrafficDecision => ({
  namespace: NS, service: 'shop', spec, endpoints: [],
  traffic: { stableRevision: 'v1', canaryRevision: 'v2', canaryWeight, headerRoutes: [], mirrorRoutes: [], ...t },
  ...(release === 'unpinned' ? {} : { release }),
});

/** Share of the canary among `n` new clients' first requests. */
async function newClientsOnCanary(h: Harness, n: number): Promise<number> {
  let canary = 0;
  for (let i = 0; i < n; i += 1) if ((await new CookieClient<IstioRequest, IstioResponse>(h.plane).send({})).revision === 'v2') canary += 1;
  return canary / n;
}

describe('release pinning through Istio', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('writes the pin routes first (cookie or header, each side) and the pin cookie on both split destinations; all of it valid for Istio\'s CRD in v1 and v1beta1', async () => {
    h = await Harness.start();
    await h.apply(decision(30));
    const vs = await h.vs();
    const http = vs.spec?.http as Json[];
    expect(http.map((r) => r.name)).toEqual(['graylane-pin-shop-canary', 'graylane-pin-shop-stable', 'other', 'primary']);
    expect(http[0]).toEqual({
      name: 'graylane-pin-shop-canary',
      match: [
        { headers: { cookie: { regex: '^(.*?;\\s*)?graylane-release=shop\\.g1\\.canary(;.*)?$' } } },
        { headers: { 'x-graylane-release': { exact: 'shop.g1.canary' } } },
      ],
      route: [{ destination: { host: 'shop-canary', port: { number: 80 } } }],
    });
    expect((http[1]!.route as Json[])[0]).toEqual({ destination: { host: 'shop-stable', port: { number: 80 } } });
    expect(http[3]!.route).toEqual([
      { destination: { host: 'shop-stable', port: { number: 80 } }, weight: 70, headers: { response: { add: { 'set-cookie': 'graylane-release=shop.g1.stable; Path=/; SameSite=Lax; HttpOnly' } } } },
      { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 30, headers: { response: { add: { 'set-cookie': 'graylane-release=shop.g1.canary; Path=/; SameSite=Lax; HttpOnly' } } } },
    ]);
    expect(JSON.parse(vs.metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION] ?? '{}')).toEqual({ shop: ['graylane-pin-shop-canary', 'graylane-pin-shop-stable'] });
    // The same object read through v1beta1 is the same routes.
    expect((await h.vs('v1beta1')).spec?.http).toEqual(http);
    expect(await h.provider.verify(decision(30))).toBe('verified');
    expect(await h.provider.verify(decision(30, 'unpinned'))).toBe('pending');
  });

  it('a client served by the canary keeps the canary for every request while the split moves, a stable one keeps stable, new clients are split by weight; promotion takes pins away', async () => {
    h = await Harness.start();
    await h.apply(decision(30));
    // Find one client of each side: each new client is pinned by the side that first served it.
    const clients = Array.from({ length: 40 }, () => new CookieClient<IstioRequest, IstioResponse>(h.plane));
    for (const c of clients) await c.send({});
    const onCanary = clients.filter((c) => c.cookies.get('graylane-release') === 'shop.g1.canary');
    const onStable = clients.filter((c) => c.cookies.get('graylane-release') === 'shop.g1.stable');
    expect(onCanary.length).toBeGreaterThan(0);
    expect(onStable.length).toBeGreaterThan(0);
    expect(onCanary.length + onStable.length).toBe(40);
    for (const weight of [60, 10, 90]) {
      await h.apply(decision(weight));
      for (let i = 0; i < 5; i += 1) {
        for (const c of onCanary) expect((await c.send({ path: `/asset-${i}.js` })).revision).toBe('v2');
        for (const c of onStable) expect((await c.send({})).revision).toBe('v1');
      }
      // The pin route does not set the cookie again: a pinned response adds nothing.
      expect((await onCanary[0]!.send({})).headers['set-cookie']).toBeUndefined();
    }
    // New clients follow the weight in force (90 %), tolerant of chance.
    const share = await newClientsOnCanary(h, 200);
    expect(share).toBeGreaterThan(0.8);
    // An API client pins by the header; a pin of another attempt pins nothing.
    expect((await h.plane.send({ headers: { 'x-graylane-release': 'shop.g1.stable' } })).revision).toBe('v1');
    const stale = await Promise.all(Array.from({ length: 40 }, () => h.plane.send({ headers: { cookie: 'graylane-release=shop.g0.stable' } })));
    expect(stale.filter((r) => r.revision === 'v2').length).toBeGreaterThan(20);
    // Promotion: the decision carries no pin; the routes and the cookies are gone, the split is all the user's again.
    await h.apply(decision(100, 'unpinned'));
    const http = await h.http();
    expect(http.map((r) => r.name)).toEqual(['other', 'primary']);
    expect(http[1]!.route).toEqual([{ destination: { host: 'shop-stable', port: { number: 80 } }, weight: 0 }, { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 100 }]);
    for (const c of onStable) expect((await c.send({})).revision).toBe('v2');
    expect((await h.vs()).metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION]).toBeUndefined();
  });

  it('pin routes repeat the split route\'s own matches: requests it does not route are not captured', async () => {
    h = await Harness.start(hostVs([{ uri: { prefix: '/shop' } }]));
    await h.apply(decision(50));
    const http = await h.http();
    expect((http[0]!.match as Json[])).toEqual([
      { uri: { prefix: '/shop' }, headers: { cookie: { regex: '^(.*?;\\s*)?graylane-release=shop\\.g1\\.canary(;.*)?$' } } },
      { uri: { prefix: '/shop' }, headers: { 'x-graylane-release': { exact: 'shop.g1.canary' } } },
    ]);
    const legacy = await h.plane.send({ path: '/legacy/x', headers: { cookie: 'graylane-release=shop.g1.canary' } });
    expect(legacy.route).toBe('other');
    expect((await h.plane.send({ path: '/shop/cart', headers: { cookie: 'a=1; graylane-release=shop.g1.canary; b=2' } })).revision).toBe('v2');
  });

  it('an aborted pin (the abort grace) keeps the canary\'s pin route only and pins nobody new', async () => {
    h = await Harness.start();
    await h.apply(decision(30));
    await h.apply(decision(0, { ...pin, phase: 'aborted' }));
    const http = await h.http();
    expect(http.map((r) => r.name)).toEqual(['graylane-pin-shop-canary', 'other', 'primary']);
    expect(JSON.stringify(http)).not.toMatch(/set-cookie/);
    expect((await h.plane.send({ headers: { cookie: 'graylane-release=shop.g1.canary' } })).revision).toBe('v2');
    expect((await h.plane.send({ headers: { cookie: 'graylane-release=shop.g1.stable' } })).revision).toBe('v1');
  });

  it('a promoted pin (the skew window) keeps the stable pin route only, pins nobody new, and sends everyone else to the new revision', async () => {
    h = await Harness.start();
    await h.apply(decision(30));
    await h.apply(decision(100, { ...pin, phase: 'promoted' }));
    const http = await h.http();
    expect(http.map((r) => r.name)).toEqual(['graylane-pin-shop-stable', 'other', 'primary']);
    expect(JSON.stringify(http)).not.toMatch(/set-cookie/);
    expect((await h.plane.send({ headers: { cookie: 'graylane-release=shop.g1.stable' } })).revision).toBe('v1');
    expect((await h.plane.send({ headers: { cookie: 'graylane-release=shop.g1.canary' } })).revision).toBe('v2');
    expect((await h.plane.send({})).revision).toBe('v2');
  });

  it('allowForceHeader: the header value "canary" or "stable" alone picks the side', async () => {
    h = await Harness.start();
    await h.apply(decision(50, { ...pin, allowForceHeader: true }));
    for (let i = 0; i < 10; i += 1) {
      expect((await h.plane.send({ headers: { 'X-Graylane-Release': 'canary' } })).revision).toBe('v2');
      expect((await h.plane.send({ headers: { 'x-graylane-release': 'stable' } })).revision).toBe('v1');
    }
  });

  it('a destination that adds a Set-Cookie of its own is refused with a sentence and nothing is written', async () => {
    const vs = hostVs();
    ((vs.spec as { http: Json[] }).http[1]!.route as Json[])[1]!.headers = { response: { add: { 'set-cookie': 'session=1' } } };
    h = await Harness.start(vs);
    const before = await h.vs();
    const error = await h.apply(decision(30)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(IstioRoutingError);
    expect((error as IstioRoutingError).reason).toBe('pin-conflict');
    expect((error as Error).message).toMatch(/canary destination already adds a Set-Cookie header of its own/);
    expect((await h.vs()).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('the user\'s own response headers of a side serve its pinned clients too; removeManagedRoutes after a restart takes the pin routes and the pin cookies away, keeping the weights and those headers', async () => {
    const vs = hostVs();
    ((vs.spec as { http: Json[] }).http[1]!.route as Json[])[0]!.headers = { response: { set: { 'x-served-by': 'stable' } } };
    h = await Harness.start(vs);
    await h.apply(decision(30));
    // Pinned clients get the user's own response headers of their side too, and no cookie again.
    expect(((await h.http())[1]!.route as Json[])[0]).toEqual({ destination: { host: 'shop-stable', port: { number: 80 } }, headers: { response: { set: { 'x-served-by': 'stable' } } } });
    h.provider = h.newProvider();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    const http = await h.http();
    expect(http.map((r) => r.name)).toEqual(['other', 'primary']);
    expect(http[1]!.route).toEqual([
      { destination: { host: 'shop-stable', port: { number: 80 } }, weight: 70, headers: { response: { set: { 'x-served-by': 'stable' } } } },
      { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 30 },
    ]);
  });
});
