/**
 * The Istio provider against the fake API server with Istio 1.30.3's own CRDs installed, through
 * the real client: what a user sees in their VirtualServices and DestinationRules after each
 * decision, what is refused (with a sentence, nothing written), and the traffic conformance suite,
 * where requests are routed the way Envoy follows a VirtualService (first matching route, weighted
 * destination, mirror) to the revision each Service or subset selects.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { installIstioCrds } from '../../../test/fixtures/kube/istio-crds.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { loadDocuments } from '../../documents/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import { trafficLoadChecks } from '../load-checks.js';
import { validationRegistry } from '../registry.js';
import { describeTrafficProviderConformance } from '../traffic-provider.case.test.js';
import type { TrafficDecision, TrafficProvider } from '../traffic-provider.js';
import { validateIstio } from './istio-config.js';
import { ISTIO_MANAGED_ROUTES_ANNOTATION, IstioTrafficProvider, type IstioObject } from './istio-provider.js';
import { IstioRoutingError } from './istio-routing-error.js';

const NS = 'default';
type Json = Record<string, unknown>;
type Destination = { host?: string; subset?: string; port?: Json };
type Route = { name?: string; match?: Json[]; route?: { destination: Destination; weight?: number }[]; mirror?: Destination; mirrorPercentage?: { value: number } };

/** A fake cluster with Istio's CRDs, caches and a provider. */
class Harness {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly virtualServices: ListCache<IstioObject>;
  readonly destinationRules: ListCache<IstioObject>;
  provider: IstioTrafficProvider;

  private constructor(readonly server: FakeApiServer, readonly kubeConfig: KubeConfig, options: { maxConflictRetries?: number }) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.virtualServices = new ListCache<IstioObject>({ kubeConfig, apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: NS });
    this.destinationRules = new ListCache<IstioObject>({ kubeConfig, apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', namespace: NS });
    this.provider = this.newProvider(options);
  }

  static async start(options: { maxConflictRetries?: number } = {}): Promise<Harness> {
    const server = await FakeApiServer.start();
    await installIstioCrds(server);
    return new Harness(server, kubeConfigFor({ server }), options);
  }

  /** A provider with no memory (a restarted controller). */
  newProvider(options: { maxConflictRetries?: number } = {}): IstioTrafficProvider {
    return new IstioTrafficProvider({ kubeConfig: this.kubeConfig, virtualServices: this.virtualServices, destinationRules: this.destinationRules, ...options });
  }

  async refresh(): Promise<void> {
    await Promise.all([this.virtualServices.refresh(), this.destinationRules.refresh()]);
  }

  /** Creates a manifest's object as `kubectl apply` would, in the version it names. */
  async create(doc: Json): Promise<void> {
    const [group, version] = String(doc.apiVersion).split('/') as [string, string];
    const plural = doc.kind === 'VirtualService' ? 'virtualservices' : 'destinationrules';
    await this.custom.createNamespacedCustomObject({ group, version, namespace: NS, plural, body: doc });
  }

  async service(name: string, hash: string): Promise<void> {
    await this.core.createNamespacedService({ namespace: NS, body: { metadata: { name }, spec: { selector: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: hash }, ports: [{ port: 80 }] } } });
  }

  async vs(name: string, version = 'v1'): Promise<IstioObject> {
    return await this.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version, namespace: NS, plural: 'virtualservices', name }) as IstioObject;
  }

  async dr(name: string): Promise<IstioObject> {
    return await this.custom.getNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: NS, plural: 'destinationrules', name }) as IstioObject;
  }

  async http(name: string): Promise<Route[]> {
    return ((await this.vs(name)).spec?.http ?? []) as Route[];
  }

  /** Merge-patches a VirtualService's spec as a user would (`kubectl edit`), in `version`. */
  async edit(name: string, spec: Json, version = 'v1'): Promise<void> {
    await this.custom.patchNamespacedCustomObject({ group: 'networking.istio.io', version, namespace: NS, plural: 'virtualservices', name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  patches(): number {
    return this.server.requests.filter((r) => r.method === 'PATCH').length;
  }

  /** Apply with caches that have caught up before and after. */
  async apply(d: TrafficDecision): Promise<void> {
    await this.refresh();
    try { await this.provider.apply(d); } finally { await this.refresh(); }
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** Weights by destination (`host` or `host/subset`) of a route. */
const weights = (route: Route | undefined): Record<string, number | undefined> =>
  Object.fromEntries((route?.route ?? []).map((d) => [d.destination.subset ? `${d.destination.host ?? ''}/${d.destination.subset}` : d.destination.host ?? "", d.weight]));

const hostVs = (name = 'shop-vsvc', extra: Json = {}): Json => ({
  apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name },
  spec: {
    hosts: ['shop'],
    http: [
      { name: 'primary', route: [{ destination: { host: 'shop-stable', port: { number: 80 } }, weight: 100 }, { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 0 }] },
      { name: 'other', match: [{ uri: { prefix: '/legacy' } }], route: [{ destination: { host: 'legacy' } }] },
    ],
    ...extra,
  },
});

const canarySpec = (istio: Json, routing: Json = {}): RolloutSpec => ({
  strategy: { canary: { stableService: 'shop-stable', canaryService: 'shop-canary', steps: [{ setWeight: 30 }], trafficRouting: { istio, ...routing } } },
});
const hostSpec = canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary'] } }, { managedRoutes: [{ name: 'mirror' }, { name: 'beta' }] });
const traffic = (t: Partial<TrafficInForce>): TrafficInForce => ({ stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], ...t });
const decision = (spec: RolloutSpec, t: Partial<TrafficInForce>, rollout = 'shop'): TrafficDecision => ({ namespace: NS, service: rollout, spec, traffic: traffic(t), endpoints: [] });

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

// ---------------------------------------------------------------------------------------------
// Conformance: requests routed as Envoy follows the VirtualService.

function stringMatches(value: string | undefined, m: Json): boolean {
  if (value === undefined) return false;
  if (typeof m.exact === 'string') return value === m.exact;
  if (typeof m.prefix === 'string') return value.startsWith(m.prefix);
  if (typeof m.regex === 'string') return new RegExp(`^(?:${m.regex})$`).test(value);
  return false;
}

function routeMatches(route: Route, req: { path: string; method: string; headers: Record<string, string> }): boolean {
  if (!route.match || route.match.length === 0) return true;
  return route.match.some((m) => Object.entries((m.headers ?? {}) as Record<string, Json>).every(([k, sm]) => stringMatches(req.headers[k.toLowerCase()], sm))
    && (m.uri === undefined || stringMatches(req.path, m.uri as Json))
    && (m.method === undefined || stringMatches(req.method, m.method as Json)));
}

describeTrafficProviderConformance('istio', async () => {
  const h = await Harness.start();
  await h.service('shop-stable', 'v1');
  await h.service('shop-canary', 'v2');
  await h.create(hostVs());
  const received: Record<string, number> = {};
  const revisionOf = async (destination: Json | undefined): Promise<string> => {
    if (!destination) return 'none';
    const svc = await h.core.readNamespacedService({ namespace: NS, name: String(destination.host).split('.')[0]! }).catch(() => undefined);
    return svc?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] ?? 'none';
  };
  const p = h.provider;
  const provider: TrafficProvider = {
    type: p.type,
    capabilities: p.capabilities,
    validate: (spec) => p.validate(spec),
    apply: (d) => h.apply(d),
    verify: async (d) => { await h.refresh(); return p.verify(d); },
    removeManagedRoutes: async (k) => { await h.refresh(); await p.removeManagedRoutes(k); },
  };
  return {
    provider,
    endpoints: [],
    previewHeaders: {},
    async send({ count, headers = {} }) {
      const http = await h.http('shop-vsvc');
      const req = { path: '/', method: 'GET', headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) };
      const out: Record<string, number> = {};
      for (let i = 0; i < count; i += 1) {
        const route = http.find((r) => routeMatches(r, req));
        const dests = route?.route ?? [];
        const total = dests.reduce((s, d) => s + (d.weight ?? (dests.length === 1 ? 100 : 0)), 0);
        let pick = Math.random() * total;
        const chosen = dests.find((d) => (pick -= d.weight ?? (dests.length === 1 ? 100 : 0)) < 0);
        const revision = await revisionOf(chosen?.destination);
        out[revision] = (out[revision] ?? 0) + 1;
        received[revision] = (received[revision] ?? 0) + 1;
        if (route?.mirror && Math.random() * 100 < (route.mirrorPercentage?.value ?? 100)) {
          const mirrored = await revisionOf(route.mirror);
          received[mirrored] = (received[mirrored] ?? 0) + 1;
        }
      }
      return out;
    },
    received: (revision) => Promise.resolve(received[revision] ?? 0),
    teardown: () => h.close(),
  };
}, {
  spec: (spec) => {
    if (spec.strategy.blueGreen) return spec;
    const c = spec.strategy.canary!;
    return { strategy: { canary: { ...c, stableService: 'shop-stable', canaryService: 'shop-canary', trafficRouting: { managedRoutes: c.trafficRouting?.managedRoutes, istio: { virtualService: { name: 'shop-vsvc', routes: ['primary'] } } } } } };
  },
  skip: {
    remove: 'a VirtualService is the user\'s and is never deleted: removal takes graylane\'s routes out and leaves the split in place (tested below)',
  },
});

// ---------------------------------------------------------------------------------------------

describe('istio provider', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('host-level: sets the stable and canary weights of the named route, keeps other routes and fields; verified once the cache shows it', async () => {
    h = await Harness.start();
    await h.create(hostVs('shop-vsvc', { gateways: ['mesh'] }));
    const d = decision(hostSpec, { canaryWeight: 30 });
    await h.refresh();
    await h.provider.apply(d);
    const vs = await h.vs('shop-vsvc');
    const http = vs.spec?.http as Route[];
    expect(http.map((r) => r.name)).toEqual(['primary', 'other']);
    expect(weights(http[0])).toEqual({ 'shop-stable': 70, 'shop-canary': 30 });
    expect(http[0]?.route?.[0]?.destination).toEqual({ host: 'shop-stable', port: { number: 80 } });
    expect(http[1]).toEqual({ name: 'other', match: [{ uri: { prefix: '/legacy' } }], route: [{ destination: { host: 'legacy' } }] });
    expect(vs.spec?.gateways).toEqual(['mesh']);
    expect(await h.provider.verify(d)).toBe('pending'); // the cache has not seen the write
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('verified');
    expect(await h.provider.verify(decision(hostSpec, { canaryWeight: 40 }))).toBe('pending');
    // Without a canary revision every request goes to stable.
    await h.apply(decision(hostSpec, { canaryRevision: undefined, canaryWeight: 30 }));
    expect(weights((await h.http('shop-vsvc'))[0])).toEqual({ 'shop-stable': 100, 'shop-canary': 0 });
  });

  it('applying an equal decision again writes nothing; a destination it does not manage keeps its share, taken from stable', async () => {
    h = await Harness.start();
    const vs = hostVs();
    ((vs.spec as { http: Route[] }).http[0]!.route!).push({ destination: { host: 'shop-experiment' }, weight: 10 });
    await h.create(vs);
    await h.apply(decision(hostSpec, { canaryWeight: 30 }));
    expect(weights((await h.http('shop-vsvc'))[0])).toEqual({ 'shop-stable': 60, 'shop-canary': 30, 'shop-experiment': 10 });
    const before = h.patches();
    await h.apply(decision(hostSpec, { canaryWeight: 30 }));
    expect(h.patches()).toBe(before);
  });

  it('re-asserts its weights when someone edits the VirtualService (the edit made through v1beta1)', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    const d = decision(hostSpec, { canaryWeight: 30 });
    await h.apply(d);
    const edited = structuredClone(await h.http('shop-vsvc'));
    edited[0]!.route![0]!.weight = 50;
    edited[0]!.route![1]!.weight = 50;
    await h.edit('shop-vsvc', { http: edited }, 'v1beta1');
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('pending');
    await h.apply(d);
    expect(weights((await h.http('shop-vsvc'))[0])).toEqual({ 'shop-stable': 70, 'shop-canary': 30 });
    expect(await h.provider.verify(d)).toBe('verified');
  });

  it('the fake holds objects in v1beta1 to the v1beta1 schema too: a weight that is not an integer is refused there, and what graylane wrote in v1 reads back valid', async () => {
    h = await Harness.start();
    await h.create({ ...hostVs(), apiVersion: 'networking.istio.io/v1beta1' });
    await h.apply(decision(hostSpec, { canaryWeight: 30 }));
    const http = structuredClone((await h.vs('shop-vsvc', 'v1beta1')).spec?.http) as Route[];
    expect(weights(http[0])).toEqual({ 'shop-stable': 70, 'shop-canary': 30 });
    (http[0]!.route![0] as Json).weight = 'seventy';
    expect(await failure(h.edit('shop-vsvc', { http }, 'v1beta1'))).toMatchObject({ code: 422 });
  });

  it('writes with the resourceVersion it read: an edit made after the cache was filled is read again and kept, not overwritten', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    await h.refresh();
    await h.edit('shop-vsvc', { hosts: ['shop', 'shop.example.com'], http: [...(hostVs().spec as { http: Route[] }).http, { name: 'late', route: [{ destination: { host: 'late' } }] }] });
    await h.provider.apply(decision(hostSpec, { canaryWeight: 20 })); // decided on the stale cache first
    const vs = await h.vs('shop-vsvc');
    expect(vs.spec?.hosts).toEqual(['shop', 'shop.example.com']);
    expect((vs.spec?.http as Route[]).map((r) => r.name)).toEqual(['primary', 'other', 'late']);
    expect(weights((vs.spec?.http as Route[])[0])).toEqual({ 'shop-stable': 80, 'shop-canary': 20 });
    expect(h.server.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([200, 409, 200]);
  });

  it('gives up after maxConflictRetries conflicts with the API server\'s error', async () => {
    h = await Harness.start({ maxConflictRetries: 0 });
    await h.create(hostVs());
    await h.refresh();
    await h.edit('shop-vsvc', { hosts: ['shop', 'other'] });
    expect(await failure(h.provider.apply(decision(hostSpec, { canaryWeight: 20 })))).toMatchObject({ code: 409 });
  });

  it('passes on a server error other than a conflict', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    await h.refresh();
    h.server.injectFault({ status: 500, method: 'PATCH', pathIncludes: 'virtualservices' });
    expect(await failure(h.provider.apply(decision(hostSpec, { canaryWeight: 20 })))).toMatchObject({ code: 500 });
  });

  it('honours maxTrafficWeight: the engine\'s weight is on that scale and the split sums to it', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    await h.apply(decision(canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary'] } }, { maxTrafficWeight: 1000 }), { canaryWeight: 300 }));
    expect(weights((await h.http('shop-vsvc'))[0])).toEqual({ 'shop-stable': 700, 'shop-canary': 300 });
  });

  it('several VirtualServices: each named route of each is split', async () => {
    h = await Harness.start();
    await h.create(hostVs('shop-a'));
    const b = hostVs('shop-b');
    (b.spec as { http: Route[] }).http[0]!.name = 'secondary';
    await h.create(b);
    const spec = canarySpec({ virtualServices: [{ name: 'shop-a', routes: ['primary'] }, { name: 'shop-b', routes: ['secondary'] }] });
    await h.apply(decision(spec, { canaryWeight: 40 }));
    expect(weights((await h.http('shop-a'))[0])).toEqual({ 'shop-stable': 60, 'shop-canary': 40 });
    expect(weights((await h.http('shop-b'))[0])).toEqual({ 'shop-stable': 60, 'shop-canary': 40 });
  });

  it('TLS routes by port and SNI hosts and TCP routes by port; other TLS and TCP routes kept', async () => {
    h = await Harness.start();
    const split = (weight: number): Json[] => [{ destination: { host: 'shop-stable' }, weight: 100 - weight }, { destination: { host: 'shop-canary' }, weight }];
    await h.create(hostVs('shop-vsvc', {
      tls: [
        { match: [{ port: 3000, sniHosts: ['shop'] }], route: split(0) },
        { match: [{ port: 3000, sniHosts: ['other'] }], route: [{ destination: { host: 'other' } }] },
      ],
      tcp: [{ match: [{ port: 5432 }], route: split(0) }, { match: [{ port: 6379 }], route: [{ destination: { host: 'redis' } }] }],
    }));
    const spec = canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary'], tlsRoutes: [{ port: 3000, sniHosts: ['shop'] }], tcpRoutes: [{ port: 5432 }] } });
    await h.apply(decision(spec, { canaryWeight: 25 }));
    const vs = await h.vs('shop-vsvc');
    const [tls0, tls1] = vs.spec?.tls as Route[];
    const [tcp0, tcp1] = vs.spec?.tcp as Route[];
    expect(weights(tls0)).toEqual({ 'shop-stable': 75, 'shop-canary': 25 });
    expect(tls1?.route).toEqual([{ destination: { host: 'other' } }]);
    expect(weights(tcp0)).toEqual({ 'shop-stable': 75, 'shop-canary': 25 });
    expect(tcp1?.route).toEqual([{ destination: { host: 'redis' } }]);
    expect(weights((vs.spec?.http as Route[])[0])).toEqual({ 'shop-stable': 75, 'shop-canary': 25 });
  });

  it('header, cookie and mirror routes: first, in managedRoutes order; gone when the decision drops them; removeManagedRoutes takes them out even after a restart', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    const d = decision(hostSpec, {
      canaryWeight: 10,
      headerRoutes: [{ name: 'beta', match: [{ headerName: 'X-Beta', headerValue: { exact: 'yes' } }, { cookieName: 'tier', cookieValue: { prefix: 'gold' } }] }],
      mirrorRoutes: [{ name: 'mirror', percentage: 40, match: [{ method: { exact: 'POST' }, path: { prefix: '/color' } }] }],
    });
    await h.apply(d);
    const http = await h.http('shop-vsvc');
    expect(http.map((r) => r.name)).toEqual(['mirror', 'beta', 'primary', 'other']);
    expect(http[0]).toEqual({
      name: 'mirror', match: [{ method: { exact: 'POST' }, uri: { prefix: '/color' } }],
      route: [{ destination: { host: 'shop-stable', port: { number: 80 } }, weight: 90 }, { destination: { host: 'shop-canary', port: { number: 80 } }, weight: 10 }],
      mirror: { host: 'shop-canary', port: { number: 80 } }, mirrorPercentage: { value: 40 },
    });
    expect(http[1]).toEqual({
      name: 'beta', match: [{ headers: { 'x-beta': { exact: 'yes' }, cookie: { regex: '^(.*?;\\s*)?tier=gold[^;]*(;.*)?$' } } }],
      route: [{ destination: { host: 'shop-canary', port: { number: 80 } }, weight: 100 }],
    });
    expect(await h.provider.verify(d)).toBe('verified');
    // The next step drops the header route: it goes, the mirror stays.
    await h.apply(decision(hostSpec, { canaryWeight: 10, mirrorRoutes: d.traffic.mirrorRoutes }));
    expect((await h.http('shop-vsvc')).map((r) => r.name)).toEqual(['mirror', 'primary', 'other']);
    // A controller restarted (no memory) removes what it wrote, from the record on the object.
    h.provider = h.newProvider();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    const after = await h.vs('shop-vsvc');
    expect((after.spec?.http as Route[]).map((r) => r.name)).toEqual(['primary', 'other']);
    expect(weights((after.spec?.http as Route[])[0])).toEqual({ 'shop-stable': 90, 'shop-canary': 10 });
    expect(after.metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION]).toBeUndefined();
  });

  it('a record it cannot read is replaced, and another rollout\'s record on a shared VirtualService is kept', async () => {
    h = await Harness.start();
    const vs = hostVs();
    (vs.metadata as Json).annotations = { [ISTIO_MANAGED_ROUTES_ANNOTATION]: 'not json' };
    await h.create(vs);
    await h.apply(decision(hostSpec, { headerRoutes: [{ name: 'beta', match: [{ headerName: 'x-beta' }] }] }));
    expect((await h.vs('shop-vsvc')).metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION]).toBe('{"shop":["beta"]}');
    expect((await h.http('shop-vsvc'))[0]?.match).toEqual([{ headers: { 'x-beta': { regex: '.*' } } }]);
    await h.apply(decision(hostSpec, { headerRoutes: [{ name: 'mirror', match: [{ headerName: 'x-m', headerValue: { regex: 'a+' } }] }] }, 'web'));
    expect(JSON.parse((await h.vs('shop-vsvc')).metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION] ?? '')).toEqual({ shop: ['beta'], web: ['mirror'] });
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'web' });
    expect((await h.vs('shop-vsvc')).metadata?.annotations?.[ISTIO_MANAGED_ROUTES_ANNOTATION]).toBe('{"shop":["beta"]}');
  });

  it('removeManagedRoutes passes on a server error reading the VirtualService', async () => {
    h = await Harness.start();
    await h.create(hostVs());
    await h.apply(decision(hostSpec, { headerRoutes: [{ name: 'beta', match: [{ headerName: 'x-beta' }] }] }));
    h.server.injectFault({ status: 500, method: 'GET', pathIncludes: 'virtualservices/shop-vsvc' });
    expect(await failure(h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' }))).toMatchObject({ code: 500 });
  });

  it('subset-level: the DestinationRule\'s subsets get each revision\'s hash (other labels, subsets and trafficPolicy kept), then the weights', async () => {
    h = await Harness.start();
    await h.create({
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'shop-dr' },
      spec: { host: 'shop', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 } }, subsets: [{ name: 'stable', labels: { app: 'shop' } }, { name: 'canary', labels: { app: 'shop' } }, { name: 'debug', labels: { app: 'debug' } }] },
    });
    await h.create({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vsvc' }, spec: { hosts: ['shop'], http: [{ route: [{ destination: { host: 'shop', subset: 'stable' }, weight: 100 }, { destination: { host: 'shop', subset: 'canary' }, weight: 0 }] }] } });
    const spec = { strategy: { canary: { trafficRouting: { istio: { virtualService: { name: 'shop-vsvc' }, destinationRule: { name: 'shop-dr', canarySubsetName: 'canary', stableSubsetName: 'stable' } } } } } } as RolloutSpec;
    const d = decision(spec, { canaryWeight: 20 });
    await h.apply(d);
    const dr = await h.dr('shop-dr');
    expect(dr.spec?.subsets).toEqual([
      { name: 'stable', labels: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: 'v1' } },
      { name: 'canary', labels: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: 'v2' } },
      { name: 'debug', labels: { app: 'debug' } },
    ]);
    expect(dr.spec?.trafficPolicy).toEqual({ outlierDetection: { consecutive5xxErrors: 5 } });
    expect(weights((await h.http('shop-vsvc'))[0])).toEqual({ 'shop/stable': 80, 'shop/canary': 20 });
    expect(await h.provider.verify(d)).toBe('verified');
    // Promoted: both subsets select the new stable.
    await h.apply(decision(spec, { stableRevision: 'v2', canaryRevision: undefined }));
    expect(((await h.dr('shop-dr')).spec?.subsets as { labels: Json }[]).slice(0, 2).map((s) => s.labels[POD_TEMPLATE_HASH_LABEL])).toEqual(['v2', 'v2']);
    expect(await h.provider.verify(d)).toBe('pending');
  });

  describe('refusals: a typed error with a sentence, and nothing written', () => {
    const cases: { title: string; setup: (h: Harness) => Promise<void>; spec: RolloutSpec; traffic?: Partial<TrafficInForce>; reason: string; message: string }[] = [
      {
        title: 'a VirtualService that does not exist', setup: async () => {}, spec: hostSpec,
        reason: 'virtual-service-not-found', message: 'VirtualService "shop-vsvc" (trafficRouting.istio) does not exist in namespace "default"; graylane never creates one',
      },
      {
        title: 'a route name the VirtualService lacks', setup: (x) => x.create(hostVs()), spec: canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary', 'nope'] } }),
        reason: 'route-not-found', message: 'VirtualService "shop-vsvc" has no HTTP route named "nope" (named in virtualService.routes)',
      },
      {
        title: 'no route named and none unnamed among several', setup: (x) => x.create(hostVs()), spec: canarySpec({ virtualService: { name: 'shop-vsvc' } }),
        reason: 'route-not-found', message: 'VirtualService "shop-vsvc" has no unnamed HTTP route to split and the rollout names none in virtualService.routes',
      },
      {
        title: 'a TLS route with other SNI hosts', setup: (x) => x.create(hostVs('shop-vsvc', { tls: [{ match: [{ port: 3000, sniHosts: ['a'] }], route: [{ destination: { host: 'shop-stable' } }] }] })),
        spec: canarySpec({ virtualService: { name: 'shop-vsvc', tlsRoutes: [{ port: 3000, sniHosts: ['shop'] }] } }),
        reason: 'route-not-found', message: 'VirtualService "shop-vsvc" has no TLS route on port 3000 with SNI hosts [shop] (named in virtualService.tlsRoutes)',
      },
      {
        title: 'a TCP route on another port', setup: (x) => x.create(hostVs('shop-vsvc', { tcp: [{ match: [{ port: 1 }], route: [{ destination: { host: 'shop-stable' } }] }] })),
        spec: canarySpec({ virtualService: { name: 'shop-vsvc', tcpRoutes: [{ port: 5432 }] } }),
        reason: 'route-not-found', message: 'VirtualService "shop-vsvc" has no TCP route on port 5432 (named in virtualService.tcpRoutes)',
      },
      {
        title: 'header routes with only TLS routes named', setup: (x) => x.create(hostVs('shop-vsvc', { tls: [{ match: [{ port: 3000, sniHosts: ['shop'] }], route: [{ destination: { host: 'shop-stable' } }, { destination: { host: 'shop-canary' } }] }] })),
        spec: canarySpec({ virtualService: { name: 'shop-vsvc', tlsRoutes: [{ port: 3000, sniHosts: ['shop'] }] } }), traffic: { headerRoutes: [{ name: 'beta', match: [{ headerName: 'x' }] }] },
        reason: 'route-not-found', message: 'VirtualService "shop-vsvc": header and mirror routes need an HTTP route to split, and the rollout names none in virtualService.routes',
      },
      {
        title: 'a route with no canary destination', setup: (x) => x.create(hostVs()), spec: { strategy: { canary: { ...hostSpec.strategy.canary, canaryService: 'shop-preview' } } },
        reason: 'destination-not-found', message: 'HTTP route "primary" of VirtualService "shop-vsvc" has no destination for Service "shop-preview" (canaryService)',
      },
      {
        title: 'a DestinationRule that does not exist', setup: (x) => x.create(hostVs()), spec: canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary'] }, destinationRule: { name: 'dr', canarySubsetName: 'c', stableSubsetName: 's' } }),
        reason: 'destination-rule-not-found', message: 'DestinationRule "dr" (trafficRouting.istio.destinationRule) does not exist',
      },
      {
        title: 'a DestinationRule without the canary subset',
        setup: async (x) => { await x.create(hostVs()); await x.create({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'dr' }, spec: { host: 'shop', subsets: [{ name: 's', labels: { app: 'shop' } }] } }); },
        spec: canarySpec({ virtualService: { name: 'shop-vsvc', routes: ['primary'] }, destinationRule: { name: 'dr', canarySubsetName: 'c', stableSubsetName: 's' } }),
        reason: 'subset-not-found', message: 'DestinationRule "dr" has no subset named "c" (canarySubsetName)',
      },
      {
        title: 'a header route matching two cookies', setup: (x) => x.create(hostVs()), spec: hostSpec,
        traffic: { headerRoutes: [{ name: 'beta', match: [{ cookieName: 'a', cookieValue: { exact: '1' } }, { cookieName: 'b', cookieValue: { regex: '2' } }] }] },
        reason: 'cookie-conditions', message: 'header route "beta" matches 2 cookies; Istio matches the one Cookie header with one pattern, so a route can match one cookie',
      },
      {
        title: 'a spec with no Istio settings', setup: (x) => x.create(hostVs()), spec: { strategy: { canary: { steps: [] } } },
        reason: 'config-missing', message: 'Rollout "shop" names no VirtualService in strategy.canary.trafficRouting.istio',
      },
      {
        title: 'host-level without the Services', setup: (x) => x.create(hostVs()), spec: { strategy: { canary: { trafficRouting: { istio: { virtualService: { name: 'shop-vsvc' } } } } } },
        reason: 'config-missing', message: 'Rollout "shop" splits by host without strategy.canary.stableService and canaryService, and names no destinationRule',
      },
    ];
    it.each(cases)('$title', async ({ setup, spec, traffic: t, reason, message }) => {
      h = await Harness.start();
      await setup(h);
      await h.refresh();
      const d = decision(spec, { canaryWeight: 10, ...t });
      const err = await failure(h.provider.apply(d));
      expect(err).toBeInstanceOf(IstioRoutingError);
      expect(err).toMatchObject({ code: 'IstioRoutingRefused', reason, message });
      expect(h.patches()).toBe(0);
      expect(await h.provider.verify(d)).toBe('pending');
    });
  });

  it('validate: two cookies in one header route are an issue at load time', () => {
    const spec = { strategy: { canary: { ...hostSpec.strategy.canary, steps: [{ setHeaderRoute: { name: 'beta', match: [{ cookieName: 'a' }, { cookieName: 'b' }] } }] } } } as RolloutSpec;
    expect(validateIstio(spec)).toEqual([{ path: ['strategy', 'canary', 'steps', 0, 'setHeaderRoute', 'match'], reason: 'with trafficRouting.istio a header route can match one cookie' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Argo Rollouts' own Istio manifests: loaded by graylane's loader, their Istio objects created in
// the version they name (v1alpha3), and the Rollout's first setWeight applied.

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/kube/${name}`, import.meta.url)), 'utf8');

async function argoExample(file: string): Promise<{ spec: RolloutSpec; name: string }> {
  const text = fixture(file);
  // The checks a controller loads with: the Istio provider registered, the document placed on Kubernetes.
  const loaded = loadDocuments({ text, file }, trafficLoadChecks(validationRegistry([h2.provider])));
  expect(loaded.errors).toEqual([]);
  const rollout = loaded.documents.find((d) => d.kind === 'Rollout');
  if (rollout?.kind !== 'Rollout') throw new Error(`${file} has no Rollout`);
  for (const doc of parseAllDocuments(text).map((d) => d.toJS() as Json | null)) {
    if (doc && (doc.kind === 'VirtualService' || doc.kind === 'DestinationRule')) await h2.create(doc);
    if (doc?.kind === 'Service') await h2.core.createNamespacedService({ namespace: NS, body: doc });
  }
  return { spec: rollout.doc.spec, name: rollout.name };
}

let h2: Harness;

describe('Argo Rollouts\' Istio examples through the loader and the fake', () => {
  afterEach(async () => { await h2?.close(); });

  it('examples/istio/istio-subset-split.yaml: subsets labelled, route "primary" at 90/10', async () => {
    h2 = await Harness.start();
    const { spec, name } = await argoExample('istio-argo-subset-split.yaml');
    await h2.apply({ namespace: NS, service: name, spec, traffic: traffic({ canaryWeight: 10 }), endpoints: [] });
    expect(weights((await h2.http('istio-subset-split-vsvc'))[0])).toEqual({ 'istio-subset-split/stable': 90, 'istio-subset-split/canary': 10 });
    expect(((await h2.dr('istio-subset-split-destrule')).spec?.subsets as { name: string; labels: Json }[]).map((s) => [s.name, s.labels[POD_TEMPLATE_HASH_LABEL]])).toEqual([['stable', 'v1'], ['canary', 'v2']]);
    // The user's object is still readable, and valid, in the version they wrote it in.
    expect(((await h2.vs('istio-subset-split-vsvc', 'v1alpha3')).spec?.http as Route[])[0]?.route?.[1]?.weight).toBe(10);
  });

  it('test/e2e/istio/istio-host-http-tls-split.yaml: the HTTP route and the TLS route on 3000 for istio-host-split at 90/10', async () => {
    h2 = await Harness.start();
    const { spec, name } = await argoExample('istio-argo-host-http-tls-split.yaml');
    await h2.apply({ namespace: NS, service: name, spec, traffic: traffic({ canaryWeight: 10 }), endpoints: [] });
    const vs = await h2.vs('istio-host-split-vsvc', 'v1beta1');
    expect(weights((vs.spec?.http as Route[])[0])).toEqual({ 'istio-host-split-stable': 90, 'istio-host-split-canary': 10 });
    expect(weights((vs.spec?.tls as Route[])[0])).toEqual({ 'istio-host-split-stable': 90, 'istio-host-split-canary': 10 });
  });

  it('examples/istio/istio-mirror.yaml: its setMirrorRoute step becomes the "mirror-route" route first, POSTs to /color copied at 50 %', async () => {
    h2 = await Harness.start();
    const { spec, name } = await argoExample('istio-argo-mirror.yaml');
    const step = spec.strategy.canary?.steps?.find((s) => 'setMirrorRoute' in s);
    if (!step || !('setMirrorRoute' in step)) throw new Error('no setMirrorRoute step');
    const m = step.setMirrorRoute;
    await h2.apply({ namespace: NS, service: name, spec, traffic: traffic({ mirrorRoutes: [{ name: m.name, percentage: m.percentage ?? 100, match: m.match ?? [] }] }), endpoints: [] });
    const http = await h2.http('istio-host-split-vsvc');
    expect(http.map((r) => r.name)).toEqual(['mirror-route', 'primary']);
    expect(http[0]).toMatchObject({ match: [{ method: { exact: 'POST' }, uri: { prefix: '/color' } }], mirror: { host: 'istio-host-split-canary' }, mirrorPercentage: { value: 50 } });
  });
});
