/**
 * Release pinning through ingress-nginx, against the fake API server: the canary Ingress's
 * `canary-by-header` and `canary-by-cookie` carry the release's header and cookie names while a
 * pin is in force, and clients the application pinned (`always`: canary, `never`: stable) keep
 * their side whatever the weight, as ingress-nginx's balancer reads the annotations (simulated).
 */
import { NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../../test/fixtures/kube/controller-harness.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { nginxBackend } from '../../../test/fixtures/kube/nginx-ingress-simulator.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import type { ReleasePin } from '../release-pin.js';
import type { TrafficDecision } from '../traffic-provider.js';
import { nginxPinningIssue } from './nginx-config.js';
import { NginxIngressError } from './nginx-ingress-error.js';
import { NginxTrafficProvider } from './nginx-provider.js';

const NS = 'default';
const A = 'nginx.ingress.kubernetes.io';

class Harness {
  readonly net: NetworkingV1Api;
  readonly ingresses: ListCache<V1Ingress>;
  readonly provider: NginxTrafficProvider;

  private constructor(readonly cluster: Cluster, uid: string) {
    this.net = cluster.kc.makeApiClient(NetworkingV1Api);
    this.ingresses = new ListCache<V1Ingress>({ kubeConfig: cluster.kc, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: NS });
    this.provider = new NginxTrafficProvider({ kubeConfig: cluster.kc, ingresses: this.ingresses, ownerOf: () => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'shop', uid }) });
  }

  static async start(): Promise<Harness> {
    const cluster = await startCluster({ crds: ['argo'], simulateWorkloads: false });
    const created = await cluster.custom.createNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'rollouts', body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'shop' }, spec: { replicas: 1 } } }) as { metadata: { uid: string } };
    const h = new Harness(cluster, created.metadata.uid);
    await h.net.createNamespacedIngress({ namespace: NS, body: {
      metadata: { name: 'shop-ingress' },
      spec: { ingressClassName: 'nginx', rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop', port: { number: 80 } } } }] } }] },
    } });
    return h;
  }

  async apply(d: TrafficDecision): Promise<void> {
    await this.ingresses.refresh();
    try { await this.provider.apply(d); } finally { await this.ingresses.refresh(); }
  }

  async canary(): Promise<V1Ingress> {
    return this.net.readNamespacedIngress({ namespace: NS, name: 'shop-shop-ingress-canary' });
  }

  /** `count` requests with `headers`, by the Service that answered. */
  async send(count: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
    const ingresses = (await this.net.listNamespacedIngress({ namespace: NS })).items;
    const out: Record<string, number> = {};
    for (let i = 0; i < count; i += 1) {
      const svc = nginxBackend({ ingresses }, { host: 'shop.example.com', path: '/', headers }) ?? 'none';
      out[svc] = (out[svc] ?? 0) + 1;
    }
    return out;
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}

const spec = (extra: Record<string, unknown> = {}): RolloutSpec => ({
  strategy: { canary: { stableService: 'shop', canaryService: 'shop-canary', trafficRouting: { nginx: { stableIngress: 'shop-ingress', ...extra } }, steps: [{ setWeight: 10 }, { pause: {} }] } },
});
const pin: ReleasePin = { release: 'shop', generation: 'g1', cookie: 'graylane-release', header: 'x-graylane-release', allowForceHeader: false, phase: 'progressing' };
const decision = (s: RolloutSpec, t: Partial<TrafficInForce>, release?: ReleasePin): TrafficDecision => ({
  namespace: NS, service: 'shop', spec: s, endpoints: [],
  traffic: { stableRevision: 'v1', canaryRevision: 'v2', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], ...t },
  ...(release ? { release } : {}),
});
const routing = (ing: V1Ingress): Record<string, string> => Object.fromEntries(Object.entries(ing.metadata?.annotations ?? {}).filter(([k]) => k.startsWith(`${A}/canary`)));

describe('release pinning through ingress-nginx', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('the canary Ingress matches the pin header and cookie by name (replacing the user\'s own canary-by-cookie); pinned clients keep their side while the weight moves; the pin goes with it', async () => {
    h = await Harness.start();
    const s = spec({ additionalIngressAnnotations: { 'canary-by-cookie': 'beta' } });
    await h.apply(decision(s, { canaryWeight: 30 }, pin));
    expect(routing(await h.canary())).toEqual({
      [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '30', [`${A}/canary-by-header`]: 'x-graylane-release', [`${A}/canary-by-cookie`]: 'graylane-release',
    });
    expect(await h.provider.verify(decision(s, { canaryWeight: 30 }, pin))).toBe('verified');
    expect(await h.provider.verify(decision(s, { canaryWeight: 30 }))).toBe('pending');
    for (const weight of [0, 90]) {
      await h.apply(decision(s, { canaryWeight: weight }, pin));
      expect(await h.send(20, { cookie: 'a=1; graylane-release=always' })).toEqual({ 'shop-canary': 20 });
      expect(await h.send(20, { cookie: 'graylane-release=never' })).toEqual({ shop: 20 });
      expect(await h.send(20, { 'x-graylane-release': 'always' })).toEqual({ 'shop-canary': 20 });
    }
    // New clients follow the weight (90 %).
    expect((await h.send(200))['shop-canary'] ?? 0).toBeGreaterThan(150);
    // Promoted or aborted: no pin; the user's annotation is back, pinned clients follow the weight.
    await h.apply(decision(s, { canaryWeight: 0 }));
    expect(routing(await h.canary())).toEqual({ [`${A}/canary`]: 'true', [`${A}/canary-weight`]: '0', [`${A}/canary-by-cookie`]: 'beta' });
    expect(await h.send(20, { cookie: 'graylane-release=always' })).toEqual({ shop: 20 });
  });

  it('a header route in force with a pin is refused with a sentence and nothing is written; at validate time the release\'s header route step is the issue', async () => {
    h = await Harness.start();
    const s = spec();
    await h.apply(decision(s, { canaryWeight: 10 }, pin));
    const before = (await h.canary()).metadata?.resourceVersion;
    const error = await h.apply(decision(s, { canaryWeight: 10, headerRoutes: [{ name: 'beta', match: [{ headerName: 'x-beta', headerValue: { exact: 'yes' } }] }] }, pin)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(NginxIngressError);
    expect((error as NginxIngressError).code).toBe('UnrepresentableRoutes');
    expect((error as Error).message).toMatch(/header route "beta" is in force while release "shop" pins clients/);
    expect((await h.canary()).metadata?.resourceVersion).toBe(before);
    const withHeaderRoute: RolloutSpec = { strategy: { canary: { ...spec().strategy.canary, steps: [{ setWeight: 10 }, { setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta' }] } }] } } };
    expect(nginxPinningIssue(withHeaderRoute)).toMatch(/^spec\.strategy\.canary\.steps\[1\]\.setHeaderRoute: with pinning, ingress-nginx keeps pinned clients/);
    expect(nginxPinningIssue(spec())).toBeUndefined();
    expect(nginxPinningIssue({ strategy: { canary: { steps: [{ setHeaderRoute: { name: 'beta', match: [{ headerName: 'x-beta' }] } }], trafficRouting: { istio: { virtualService: { name: 'vs' } } } } } })).toBeUndefined();
  });
});
