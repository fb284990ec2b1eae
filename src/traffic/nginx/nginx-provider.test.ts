/**
 * The ingress-nginx provider against the fake API server, through the real client: the canary
 * Ingress a user would find after each decision (its annotations, rules, TLS, class and owner),
 * what ingress-nginx would route from it (test/fixtures/kube/nginx-ingress-simulator.ts), what the
 * provider refuses, the traffic conformance suite, and Argo Rollouts' own nginx manifests. Every
 * Ingress written is validated by the fake against the official schema. Caches are list caches
 * refreshed around each call, as an informer that has caught up would be.
 */
import { readFile } from 'node:fs/promises';
import { ApiException, NetworkingV1Api, type V1Ingress, type V1OwnerReference } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startCluster, type Cluster } from '../../../test/fixtures/kube/controller-harness.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { nginxBackend } from '../../../test/fixtures/kube/nginx-ingress-simulator.js';
import { loadDocuments } from '../../documents/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { MANAGED_BY_ANNOTATION } from '../../kube/names.js';
import { describeTrafficProviderConformance } from '../traffic-provider.case.test.js';
import { validationRegistry } from '../registry.js';
import type { TrafficDecision, TrafficProvider } from '../traffic-provider.js';
import { canaryIngressName } from './canary-ingress.js';
import { validateNginx } from './nginx-config.js';
import { NginxIngressError } from './nginx-ingress-error.js';
import { NginxTrafficProvider } from './nginx-provider.js';

const NS = 'default';
const A = 'nginx.ingress.kubernetes.io';

/** A fake cluster with Argo's Rollout CRD (the owner of canary Ingresses), an Ingress cache and a provider. */
class Harness {
  readonly net: NetworkingV1Api;
  readonly ingresses: ListCache<V1Ingress>;
  readonly provider: NginxTrafficProvider;
  /** Rollouts created, by name: what the composition root would look up in its Rollout cache. */
  readonly owners = new Map<string, V1OwnerReference>();

  private constructor(readonly cluster: Cluster) {
    this.net = cluster.kc.makeApiClient(NetworkingV1Api);
    this.ingresses = new ListCache<V1Ingress>({ kubeConfig: cluster.kc, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: NS });
    this.provider = new NginxTrafficProvider({ kubeConfig: cluster.kc, ingresses: this.ingresses, ownerOf: ({ service }) => this.owners.get(service) });
  }

  static async start(): Promise<Harness> {
    return new Harness(await startCluster({ crds: ['argo'], simulateWorkloads: false }));
  }

  /** Creates an Argo Rollout object (the spec is not read here) and remembers it as the owner. */
  async rollout(name: string, spec: Record<string, unknown> = { replicas: 1 }): Promise<void> {
    const created = await this.cluster.custom.createNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'rollouts', body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name }, spec } }) as { metadata: { uid: string } };
    this.owners.set(name, { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name, uid: created.metadata.uid });
  }

  /** A user's stable Ingress routing `host` `/` to `service` (and `/other` to `other`). */
  async stableIngress(name: string, options: { host?: string; service?: string; tlsSecret?: string; withOther?: boolean } = {}): Promise<V1Ingress> {
    const backend = (service: string) => ({ service: { name: service, port: { number: 80 } } });
    return this.net.createNamespacedIngress({
      namespace: NS,
      body: {
        metadata: { name, annotations: { 'kubernetes.io/ingress.class': 'nginx', 'example.com/team': 'shop' } },
        spec: {
          ingressClassName: 'nginx',
          ...(options.tlsSecret ? { tls: [{ hosts: [options.host ?? 'shop.example.com'], secretName: options.tlsSecret }] } : {}),
          rules: [
            {
              host: options.host ?? 'shop.example.com',
              http: { paths: [
                { path: '/', pathType: 'Prefix', backend: backend(options.service ?? 'shop') },
                ...(options.withOther ? [{ path: '/other', pathType: 'Prefix', backend: backend('other') }] : []),
              ] },
            },
            ...(options.withOther ? [{ host: 'other.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('other') }] } }] : []),
          ],
        },
      },
    });
  }

  async read(name: string): Promise<V1Ingress | undefined> {
    return this.net.readNamespacedIngress({ namespace: NS, name }).catch(() => undefined);
  }

  async apply(d: TrafficDecision): Promise<void> {
    await this.ingresses.refresh();
    try { await this.provider.apply(d); } finally { await this.ingresses.refresh(); }
  }

  /** `count` requests to `host` through ingress-nginx, counted by the Service that answered (`none`: no route). */
  async send(count: number, options: { host?: string; headers?: Record<string, string> } = {}): Promise<Record<string, number>> {
    const ingresses = (await this.net.listNamespacedIngress({ namespace: NS })).items;
    const out: Record<string, number> = {};
    for (let i = 0; i < count; i += 1) {
      const svc = nginxBackend({ ingresses }, { host: options.host ?? 'shop.example.com', path: '/', headers: options.headers }) ?? 'none';
      out[svc] = (out[svc] ?? 0) + 1;
    }
    return out;
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}

const spec = (nginx: Record<string, unknown> = { stableIngress: 'shop-ingress' }, extra: Record<string, unknown> = {}): RolloutSpec => ({
  strategy: { canary: { stableService: 'shop', canaryService: 'shop-canary', trafficRouting: { nginx, ...extra }, steps: [{ setWeight: 10 }, { pause: {} }] } },
});
const traffic = (t: Partial<TrafficInForce>): TrafficInForce => ({ stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], ...t });
const decision = (s: RolloutSpec, t: Partial<TrafficInForce>, rollout = 'shop'): TrafficDecision => ({ namespace: NS, service: rollout, spec: s, traffic: traffic(t), endpoints: [] });
/** The annotations graylane writes (the prefix's and managed-by), as a user reads them with kubectl. */
const routing = (ing: V1Ingress | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(ing?.metadata?.annotations ?? {}).filter(([k]) => k.startsWith(`${A}/`)));

/** Revisions by Service: the Service-selector provider points `shop` at v1 and `shop-canary` at v2. */
const REVISION: Record<string, string> = { shop: 'v1', 'shop-canary': 'v2', none: 'none' };

describeTrafficProviderConformance('nginx', async () => {
  const h = await Harness.start();
  await h.rollout('shop');
  await h.stableIngress('shop-ingress');
  const p = h.provider;
  const provider: TrafficProvider = {
    type: p.type,
    capabilities: p.capabilities,
    validate: (s) => p.validate(s),
    apply: (d) => h.apply(d),
    verify: async (d) => { await h.ingresses.refresh(); return p.verify(d); },
    removeManagedRoutes: async (k) => { await h.ingresses.refresh(); await p.removeManagedRoutes(k); },
  };
  return {
    provider,
    endpoints: [],
    previewHeaders: {},
    send: async ({ count, headers }) => {
      const bySvc = await h.send(count, { headers: headers ?? {} });
      return Object.fromEntries(Object.entries(bySvc).map(([svc, n]) => [REVISION[svc] ?? svc, n]));
    },
    received: () => Promise.reject(new Error('not used: mirroring is refused')),
    teardown: () => h.close(),
  };
}, {
  spec: (s) => {
    if (s.strategy.blueGreen) return s;
    const { builtin: _builtin, ...rest } = s.strategy.canary?.trafficRouting ?? {};
    return { strategy: { canary: { ...s.strategy.canary, stableService: 'shop', canaryService: 'shop-canary', trafficRouting: { ...rest, nginx: { stableIngress: 'shop-ingress' } } } } };
  },
  skip: {
    cookieRoute: 'ingress-nginx\'s canary-by-cookie sends a client to the canary only when the cookie says "always", so a route on beta=on is refused at validate time (the cookie route on "always" is tested below)',
    remove: 'the user\'s stable Ingress keeps routing to stable once the canary Ingress is deleted, as it should (tested below)',
  },
});

describe('nginx provider', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  async function cluster(options: Parameters<Harness['stableIngress']>[1] = {}): Promise<V1Ingress> {
    h = await Harness.start();
    await h.rollout('shop');
    return h.stableIngress('shop-ingress', options);
  }

  it('clones the stable Ingress into <rollout>-<stableIngress>-canary at weights 0, 10, 50 and 100, leaving the stable Ingress untouched', async () => {
    const stable = await cluster({ tlsSecret: 'shop-tls', withOther: true });
    for (const weight of [0, 10, 50, 100]) {
      const d = decision(spec(), { canaryWeight: weight });
      await h.apply(d);
      const canary = await h.read('shop-shop-ingress-canary');
      expect(routing(canary)).toEqual({ [`${A}/canary`]: 'true', [`${A}/canary-weight`]: String(weight) });
      expect(await h.provider.verify(d)).toBe('verified');
    }
    const canary = await h.read('shop-shop-ingress-canary');
    expect(canary?.metadata?.annotations?.['kubernetes.io/ingress.class']).toBe('nginx');
    expect(canary?.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('shop');
    expect(canary?.metadata?.annotations?.['example.com/team']).toBeUndefined();
    expect(canary?.metadata?.ownerReferences).toEqual([{ ...h.owners.get('shop'), controller: true, blockOwnerDeletion: true }]);
    expect(canary?.spec).toEqual({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }],
      // Only the stable Service's path, pointed at the canary Service; /other and other.example.com stay off it.
      rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop-canary', port: { number: 80 } } } }] } }],
    });
    const after = await h.read('shop-ingress');
    expect(after?.metadata?.resourceVersion).toBe(stable.metadata?.resourceVersion);
    expect(after?.spec).toEqual(stable.spec);
    // At 100 every request reaches the canary; other.example.com is not touched by it.
    expect(await h.send(20)).toEqual({ 'shop-canary': 20 });
    expect(await h.send(5, { host: 'other.example.com' })).toEqual({ other: 5 });
  });

  it('a weight routes about its share of requests through ingress-nginx, and a decision not written yet is pending', async () => {
    await cluster();
    await h.apply(decision(spec(), { canaryWeight: 50 }));
    const counts = await h.send(400);
    expect(counts['shop-canary']).toBeGreaterThan(160);
    expect(counts['shop-canary']).toBeLessThan(240);
    expect(await h.provider.verify(decision(spec(), { canaryWeight: 60 }))).toBe('pending');
  });

  it('maxTrafficWeight adds canary-weight-total; the weight is on that scale', async () => {
    await cluster();
    await h.apply(decision(spec(undefined, { maxTrafficWeight: 1000 }), { canaryWeight: 250 }));
    expect(routing(await h.read('shop-shop-ingress-canary'))).toEqual({ [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '250', [`${A}/canary-weight-total`]: '1000' });
    const counts = await h.send(400);
    expect(counts['shop-canary']).toBeGreaterThan(60);
    expect(counts['shop-canary']).toBeLessThan(140);
  });

  it('a header route: canary-by-header with -value (exact) or -pattern (regex, prefix, present); gone again with the route', async () => {
    await cluster();
    const header = (headerValue?: Record<string, string>) => decision(spec(), { canaryWeight: 0, headerRoutes: [{ name: 'h', match: [{ headerName: 'x-canary', ...(headerValue ? { headerValue } : {}) }] }] });
    await h.apply(header({ exact: 'yes' }));
    expect(routing(await h.read('shop-shop-ingress-canary'))).toMatchObject({ [`${A}/canary-by-header`]: 'x-canary', [`${A}/canary-by-header-value`]: 'yes' });
    expect(await h.send(10, { headers: { 'X-Canary': 'yes' } })).toEqual({ 'shop-canary': 10 });
    expect(await h.send(10, { headers: { 'X-Canary': 'no' } })).toEqual({ shop: 10 });
    await h.apply(header({ regex: '^(beta|qa)$' }));
    const regex = routing(await h.read('shop-shop-ingress-canary'));
    expect(regex[`${A}/canary-by-header-pattern`]).toBe('^(beta|qa)$');
    expect(regex[`${A}/canary-by-header-value`]).toBeUndefined();
    expect(await h.send(10, { headers: { 'x-canary': 'qa' } })).toEqual({ 'shop-canary': 10 });
    await h.apply(header({ prefix: 'v2.' }));
    expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-by-header-pattern`]).toBe('^v2\\.');
    expect(await h.send(10, { headers: { 'x-canary': 'v2.1' } })).toEqual({ 'shop-canary': 10 });
    expect(await h.send(10, { headers: { 'x-canary': 'v2x1' } })).toEqual({ shop: 10 });
    await h.apply(header());
    expect(await h.send(10, { headers: { 'x-canary': 'anything' } })).toEqual({ 'shop-canary': 10 });
    // Promotion: weight 0, no routes. The canary Ingress stays, at weight 0, as Argo leaves it.
    const done = decision(spec(), { canaryRevision: undefined, canaryWeight: 0 });
    await h.apply(done);
    expect(routing(await h.read('shop-shop-ingress-canary'))).toEqual({ [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '0' });
    expect(await h.provider.verify(done)).toBe('verified');
    expect(await h.send(10, { headers: { 'x-canary': 'yes' } })).toEqual({ shop: 10 });
  });

  it('a cookie route: canary-by-cookie sends clients whose cookie says "always" to the canary', async () => {
    await cluster();
    const d = decision(spec(), { canaryWeight: 0, headerRoutes: [{ name: 'c', match: [{ cookieName: 'beta', cookieValue: { exact: 'always' } }] }] });
    await h.apply(d);
    expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-by-cookie`]).toBe('beta');
    expect(await h.provider.verify(d)).toBe('verified');
    expect(await h.send(10, { headers: { cookie: 'theme=dark; beta=always' } })).toEqual({ 'shop-canary': 10 });
    expect(await h.send(10, { headers: { cookie: 'beta=never' } })).toEqual({ shop: 10 });
  });

  it('annotationPrefix and additionalIngressAnnotations (the decision\'s header route wins over one written there)', async () => {
    await cluster();
    const s = spec({ stableIngress: 'shop-ingress', annotationPrefix: 'custom.nginx.org', additionalIngressAnnotations: { 'canary-by-header': 'X-Old', 'load-balance': 'ewma' } });
    const d = decision(s, { canaryWeight: 20, headerRoutes: [{ name: 'h', match: [{ headerName: 'x-new', headerValue: { exact: '1' } }] }] });
    await h.apply(d);
    const annotations = (await h.read('shop-shop-ingress-canary'))?.metadata?.annotations ?? {};
    expect(Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith('custom.nginx.org/')))).toEqual({
      'custom.nginx.org/canary': 'true', 'custom.nginx.org/canary-weight': '20', 'custom.nginx.org/load-balance': 'ewma',
      'custom.nginx.org/canary-by-header': 'x-new', 'custom.nginx.org/canary-by-header-value': '1',
    });
    expect(Object.keys(annotations).filter((k) => k.startsWith(`${A}/`))).toEqual([]);
    expect(await h.provider.verify(d)).toBe('verified');
  });

  it('stableIngresses: one canary Ingress each; one no longer named is deleted, the user\'s Ingresses stay', async () => {
    await cluster();
    await h.stableIngress('shop-internal', { host: 'shop.internal' });
    const both = decision(spec({ stableIngresses: ['shop-ingress', 'shop-internal'] }), { canaryWeight: 30 });
    await h.apply(both);
    expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-weight`]).toBe('30');
    expect((await h.read('shop-shop-internal-canary'))?.spec?.rules?.[0]?.host).toBe('shop.internal');
    expect(await h.provider.verify(both)).toBe('verified');
    await h.apply(decision(spec({ stableIngresses: ['shop-internal'] }), { canaryWeight: 40 }));
    expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
    expect(routing(await h.read('shop-shop-internal-canary'))[`${A}/canary-weight`]).toBe('40');
    expect(await h.read('shop-ingress')).toBeDefined();
  });

  it('re-clones when the stable Ingress changes (a new host and TLS secret), and the cluster deletes the canary Ingress with its Rollout', async () => {
    const stable = await cluster({ tlsSecret: 'old-tls' });
    await h.apply(decision(spec(), { canaryWeight: 10 }));
    await h.net.replaceNamespacedIngress({ namespace: NS, name: 'shop-ingress', body: { ...stable, spec: { ...stable.spec, tls: [{ hosts: ['shop.example.org'], secretName: 'new-tls' }], rules: [{ ...stable.spec?.rules?.[0], host: 'shop.example.org' }] } } });
    await h.apply(decision(spec(), { canaryWeight: 10 }));
    const canary = await h.read('shop-shop-ingress-canary');
    expect(canary?.spec?.tls).toEqual([{ hosts: ['shop.example.org'], secretName: 'new-tls' }]);
    expect(canary?.spec?.rules?.map((r) => r.host)).toEqual(['shop.example.org']);
    await h.cluster.custom.deleteNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'rollouts', name: 'shop' });
    expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
  });

  it('writes over a canary Ingress changed since the cache saw it (409: read again, decided afresh; thrown once the retries are spent)', async () => {
    await cluster();
    await h.apply(decision(spec(), { canaryWeight: 10 }));
    const current = await h.read('shop-shop-ingress-canary');
    await h.net.replaceNamespacedIngress({ namespace: NS, name: 'shop-shop-ingress-canary', body: { ...current, metadata: { ...current?.metadata, annotations: { ...current?.metadata?.annotations, [`${A}/canary-weight`]: '99' } } } });
    // The cache still shows the version before that edit. With no retries allowed, the 409 is thrown.
    const impatient = new NginxTrafficProvider({ kubeConfig: h.cluster.kc, ingresses: h.ingresses, ownerOf: ({ service }) => h.owners.get(service), maxConflictRetries: 0 });
    expect((await impatient.apply(decision(spec(), { canaryWeight: 20 })).then(() => undefined, (e: unknown) => e) as ApiException<unknown> | undefined)?.code).toBe(409);
    expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-weight`]).toBe('99');
    await h.provider.apply(decision(spec(), { canaryWeight: 20 }));
    expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-weight`]).toBe('20');
  });

  it('removeManagedRoutes deletes the canary Ingress, twice without harm; the stable Ingress keeps routing to stable', async () => {
    await cluster();
    const d = decision(spec(), { canaryWeight: 50 });
    await h.apply(d);
    await h.ingresses.refresh();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    // The cache still shows the canary Ingress: the second delete meets a 404, which is success.
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    await h.ingresses.refresh();
    expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
    expect(await h.provider.verify(d)).toBe('pending');
    expect(await h.send(10)).toEqual({ shop: 10 });
  });

  it('an API server error (500) on a read, a write or a delete is thrown as the client raised it', async () => {
    await cluster();
    const rejected = async (p: Promise<unknown>): Promise<number | undefined> => (await p.then(() => undefined, (e: unknown) => e) as ApiException<unknown> | undefined)?.code;
    // The cache has not listed: the stable Ingress is read from the server.
    h.cluster.server.injectFault({ status: 500, method: 'GET', pathIncludes: '/ingresses/shop-ingress' });
    expect(await rejected(h.provider.apply(decision(spec(), { canaryWeight: 10 })))).toBe(500);
    h.cluster.server.injectFault({ status: 500, method: 'POST', pathIncludes: '/ingresses' });
    expect(await rejected(h.provider.apply(decision(spec(), { canaryWeight: 10 })))).toBe(500);
    expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
    await h.apply(decision(spec(), { canaryWeight: 10 }));
    h.cluster.server.injectFault({ status: 500, method: 'DELETE', pathIncludes: '/ingresses' });
    expect(await rejected(h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' }))).toBe(500);
    expect(await h.read('shop-shop-ingress-canary')).toBeDefined();
  });

  describe('refusals', () => {
    const refusal = async (d: TrafficDecision): Promise<NginxIngressError> => {
      const err: unknown = await h.apply(d).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(NginxIngressError);
      return err as NginxIngressError;
    };

    it('a missing stable Ingress is StableIngressNotFound naming it; the other stable Ingress still gets its canary', async () => {
      await cluster();
      const err = await refusal(decision(spec({ stableIngresses: ['shop-gone', 'shop-ingress'] }), { canaryWeight: 10 }));
      expect(err.code).toBe('StableIngressNotFound');
      expect(err.message).toContain('"shop-gone"');
      expect(routing(await h.read('shop-shop-ingress-canary'))[`${A}/canary-weight`]).toBe('10');
    });

    it('a stable Ingress with no rule for the stable Service is NoStableServiceRule, and no canary Ingress is written', async () => {
      await cluster({ service: 'someone-else' });
      const err = await refusal(decision(spec(), { canaryWeight: 10 }));
      expect(err.code).toBe('NoStableServiceRule');
      expect(err.message).toBe('Ingress "shop-ingress" has no rule whose backend is the stable Service "shop": there is nothing to send to the canary');
      expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
    });

    it('an unknown owner is RolloutOwnerUnknown, and nothing is written', async () => {
      await cluster();
      const err = await refusal(decision(spec(), { canaryWeight: 10 }, 'unknown'));
      expect(err.code).toBe('RolloutOwnerUnknown');
      expect(await h.read('unknown-shop-ingress-canary')).toBeUndefined();
    });

    it('an Ingress of the canary name that is not this Rollout\'s is CanaryIngressTaken, and left as it was', async () => {
      await cluster();
      const theirs = await h.stableIngress('shop-shop-ingress-canary', { service: 'theirs' });
      const err = await refusal(decision(spec(), { canaryWeight: 10 }));
      expect(err.code).toBe('CanaryIngressTaken');
      expect((await h.read('shop-shop-ingress-canary'))?.metadata?.resourceVersion).toBe(theirs.metadata?.resourceVersion);
    });

    it('two header routes in force, two conditions in one route, or a cookie value other than "always" is UnrepresentableRoutes', async () => {
      await cluster();
      const cases: TrafficInForce['headerRoutes'][] = [
        [{ name: 'a', match: [{ headerName: 'x-a' }] }, { name: 'b', match: [{ headerName: 'x-b' }] }],
        [{ name: 'a', match: [{ headerName: 'x-a' }, { cookieName: 'c', cookieValue: { exact: 'always' } }] }],
        [{ name: 'a', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] }],
      ];
      for (const headerRoutes of cases) {
        const d = decision(spec(), { canaryWeight: 10, headerRoutes });
        expect((await refusal(d)).code).toBe('UnrepresentableRoutes');
        expect(await h.provider.verify(d)).toBe('pending');
      }
      expect(await h.read('shop-shop-ingress-canary')).toBeUndefined();
    });

    it('a spec without trafficRouting.nginx is NginxNotConfigured', async () => {
      await cluster();
      expect((await refusal(decision({ strategy: { canary: { stableService: 'shop', canaryService: 'shop-canary' } } }, { canaryWeight: 10 }))).code).toBe('NginxNotConfigured');
    });
  });

  it('the fake refuses an Ingress the official schema refuses, so every canary Ingress above was checked against it', async () => {
    await cluster();
    const bad = { metadata: { name: 'bad' }, spec: { rules: [{ http: { paths: [{ path: '/', backend: { service: { name: 's', port: { number: 'eighty' } } } }] } }] } };
    const err: unknown = await h.net.createNamespacedIngress({ namespace: NS, body: bad as never }).then(() => undefined, (e: unknown) => e);
    expect(String((err as Error | undefined)?.message)).toMatch(/HTTP-Code: 422[\s\S]*pathType: Required value[\s\S]*port\.number: Invalid value/);
  });

  it('validate refuses a second header condition in one step and a cookie value other than "always", each with a sentence', () => {
    const s: RolloutSpec = { strategy: { canary: { ...spec().strategy.canary, steps: [
      { setHeaderRoute: { name: 'two', match: [{ headerName: 'x-a', headerValue: { exact: '1' } }, { headerName: 'x-b', headerValue: { exact: '2' } }] } },
      { setHeaderRoute: { name: 'cookie', match: [{ cookieName: 'beta', cookieValue: { exact: 'on' } }] } },
      { setHeaderRoute: { name: 'ok', match: [{ headerName: 'x-a', headerValue: { regex: '^1' } }] } },
    ] } } };
    expect(validateNginx(s)).toEqual([
      { path: ['strategy', 'canary', 'steps', 0, 'setHeaderRoute'], reason: expect.stringMatching(/one header \(canary-by-header\) or one cookie .*a second condition in one setHeaderRoute cannot be carried out/) as unknown },
      { path: ['strategy', 'canary', 'steps', 1, 'setHeaderRoute', 'match', 0, 'cookieValue'], reason: expect.stringContaining('only when the cookie\'s value is "always"') as unknown },
    ]);
  });

  describe('Argo Rollouts\' nginx manifests', () => {
    const files = [
      'test/fixtures/kube/nginx-argo-getting-started.yaml',
      'test/fixtures/documents/valid/argo-canary-nginx.yaml',
    ];
    for (const file of files) {
      it(`${file}: loads through the Argo import, runs through the fake, and its canary Ingress is produced at the first step's weight`, async () => {
        const text = await readFile(file, 'utf8');
        const loaded = loadDocuments({ file, text }, { traffic: ({ spec: s, place }) => validationRegistry().validate(s, place) });
        expect(loaded.errors).toEqual([]);
        const rollout = loaded.documents.find((d) => d.kind === 'Rollout');
        if (rollout?.kind !== 'Rollout') throw new Error('no Rollout loaded');
        h = await Harness.start();
        for (const doc of parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> })) {
          if (doc.kind === 'Ingress') await h.net.createNamespacedIngress({ namespace: NS, body: doc });
          if (doc.kind === 'Service') await h.cluster.core.createNamespacedService({ namespace: NS, body: doc });
          if (doc.kind === 'Rollout') await h.rollout(doc.metadata.name, doc.spec);
        }
        const s = rollout.doc.spec;
        const first = s.strategy.canary?.steps?.[0];
        const weight = first && 'setWeight' in first ? first.setWeight : -1;
        const d = decision(s, { canaryWeight: weight }, rollout.name);
        await h.apply(d);
        const canary = await h.read(canaryIngressName('rollouts-demo', 'rollouts-demo-stable'));
        expect(canary?.metadata?.name).toBe('rollouts-demo-rollouts-demo-stable-canary');
        expect(routing(canary)).toMatchObject({ [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '5' });
        expect(canary?.spec?.rules?.[0]?.host).toBe('rollouts-demo.local');
        expect(canary?.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('rollouts-demo-canary');
        expect(canary?.metadata?.annotations?.['kubernetes.io/ingress.class']).toBe('nginx');
        expect(canary?.metadata?.ownerReferences?.[0]?.uid).toBe(h.owners.get('rollouts-demo')?.uid);
        expect(await h.provider.verify(d)).toBe('verified');
        const counts = await h.send(400, { host: 'rollouts-demo.local' });
        expect(counts['rollouts-demo-canary'] ?? 0).toBeLessThan(60);
        expect(counts['rollouts-demo-stable']).toBeGreaterThan(340);
      });
    }
  });
});
