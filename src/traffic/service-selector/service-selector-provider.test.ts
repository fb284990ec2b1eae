/**
 * The Service-selector provider against the fake API server, through the real client: what a
 * Kubernetes user sees on their Services (selectors, annotations), what the provider refuses, and
 * the traffic conformance suite where its cases apply. Caches are list caches refreshed before
 * each call, as an informer that has caught up would be.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { Service } from 'kubernetes-models/v1';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import { retryAfterMsOf } from '../../lib/retry-after.js';
import { describeTrafficProviderConformance } from '../traffic-provider.case.test.js';
import { TrafficCapabilityError, type TrafficDecision, type TrafficProvider } from '../traffic-provider.js';
import { checkServices } from './check-services.js';
import { ServiceRoutingError, ServiceWriteThrottledError } from './service-routing-error.js';
import { ServiceSelectorTrafficProvider } from './service-selector-provider.js';

const NS = 'default';

/** A fake cluster with caches, a provider and helpers to seed Services and Pods. */
class Harness {
  readonly core: CoreV1Api;
  readonly services: ListCache<V1Service>;
  readonly pods: ListCache<V1Pod>;
  readonly provider: ServiceSelectorTrafficProvider;

  constructor(readonly server: FakeApiServer, readonly kubeConfig: KubeConfig, options: { maxConflictRetries?: number } = {}) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.services = new ListCache<V1Service>({ kubeConfig, apiVersion: 'v1', kind: 'Service', namespace: NS });
    this.pods = new ListCache<V1Pod>({ kubeConfig, apiVersion: 'v1', kind: 'Pod', namespace: NS });
    this.provider = new ServiceSelectorTrafficProvider({ kubeConfig, services: this.services, pods: this.pods, ...options });
  }

  static async start(options: { maxConflictRetries?: number } = {}): Promise<Harness> {
    const server = await FakeApiServer.start();
    return new Harness(server, kubeConfigFor({ server }), options);
  }

  async refresh(): Promise<void> {
    await Promise.all([this.services.refresh(), this.pods.refresh()]);
  }

  async service(name: string, options: { selector?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<void> {
    await this.core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name, ...(options.annotations ? { annotations: options.annotations } : {}) }, spec: { selector: options.selector ?? { app: 'shop' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
  }

  /** A pod of `revision` labelled as the runtime labels them, ready or not. */
  async pod(name: string, revision: string, ready: boolean): Promise<void> {
    const created = await this.core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name, labels: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: revision } }, spec: { containers: [{ name: 'app', image: `shop:${revision}` }] } },
    });
    await this.setReady(name, ready, created);
  }

  async setReady(name: string, ready: boolean, pod?: V1Pod): Promise<void> {
    const current = pod ?? await this.core.readNamespacedPod({ namespace: NS, name });
    const status = ready ? 'True' : 'False';
    await this.core.replaceNamespacedPodStatus({ namespace: NS, name, body: { ...current, status: { phase: 'Running', conditions: [{ type: 'Ready', status }, { type: 'ContainersReady', status }] } } });
  }

  async read(name: string): Promise<V1Service> {
    return this.core.readNamespacedService({ namespace: NS, name });
  }

  /**
   * Requests to Service `name` as kube-proxy spreads them: each goes to a random ready pod the
   * selector picks; counted by the revision of the pod that answered (`none`: no such pod).
   */
  async send(name: string, count: number): Promise<Record<string, number>> {
    const svc = await this.read(name).catch(() => undefined);
    const selector = Object.entries(svc?.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = svc && selector !== '' ? (await this.core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items : [];
    const ready = pods.filter((p) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
    const out: Record<string, number> = {};
    for (let i = 0; i < count; i += 1) {
      const pod = ready[Math.floor(Math.random() * ready.length)];
      const revision = pod?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? 'none';
      out[revision] = (out[revision] ?? 0) + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

const blueGreen: RolloutSpec = { strategy: { blueGreen: { activeService: 'shop', previewService: 'shop-preview' } } };
const canary: RolloutSpec = { strategy: { canary: { stableService: 'shop', canaryService: 'shop-canary', steps: [{ setWeight: 20 }, { pause: {} }] } } };
const traffic = (t: Partial<TrafficInForce>): TrafficInForce => ({ stableRevision: 'v1', canaryWeight: 0, headerRoutes: [], mirrorRoutes: [], ...t });
const decision = (spec: RolloutSpec, t: Partial<TrafficInForce>, rollout = 'shop'): TrafficDecision =>
  ({ namespace: NS, service: rollout, spec, traffic: traffic(t), endpoints: [] });

/** The Service as last written, read from the fake cluster's store, with its kind for the schema. */
function withKind(h: Harness, name: string): Record<string, unknown> {
  const svc = h.server.cluster.get({ type: h.server.cluster.type('', 'v1', 'services'), namespace: NS, name });
  return { ...svc, apiVersion: 'v1', kind: 'Service' };
}

const REPLICA_SPLIT = 'a Service selector names one revision: the canary\'s share is its share of ready replicas, sized by the runtime, not a route';

describeTrafficProviderConformance('service-selector', async () => {
  const h = await Harness.start();
  await h.service('shop');
  await h.service('shop-canary');
  await h.service('shop-preview');
  await h.pod('shop-v1', 'v1', true);
  await h.pod('shop-v2', 'v2', true);
  const p = h.provider;
  // Caches refreshed around each call: an informer that has caught up.
  const provider: TrafficProvider = {
    type: p.type,
    capabilities: p.capabilities,
    validate: (spec) => p.validate(spec),
    apply: async (d) => { await h.refresh(); try { await p.apply(d); } finally { await h.refresh(); } },
    verify: async (d) => { await h.refresh(); return p.verify(d); },
    removeManagedRoutes: async (k) => { await h.refresh(); await p.removeManagedRoutes(k); },
  };
  return {
    provider,
    endpoints: [],
    previewHeaders: {},
    send: async ({ count }) => h.send('shop', count),
    received: () => Promise.reject(new Error('not used: mirroring is refused')),
    teardown: () => h.close(),
  };
}, {
  spec: (spec) => {
    if (spec.strategy.blueGreen) return { strategy: { blueGreen: { ...spec.strategy.blueGreen, activeService: 'shop', previewService: 'shop-preview' } } };
    return { strategy: { canary: { ...spec.strategy.canary, stableService: 'shop', canaryService: 'shop-canary' } } };
  },
  skip: {
    weight: REPLICA_SPLIT,
    weightBounds: REPLICA_SPLIT,
    pending: 'decisions that differ only in weight point the Services alike (pending is tested below with revisions)',
    idempotent: `${REPLICA_SPLIT} (idempotence is tested below)`,
    preview: 'allowPreviewHeader is refused (a selector cannot route by header); the preview through previewService is tested below',
    remove: 'a Service given back keeps selecting the pods of every revision, as Argo leaves it (tested below)',
  },
});

describe('service-selector provider', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  async function bgCluster(options: { v2Ready: boolean }): Promise<void> {
    h = await Harness.start();
    await h.service('shop');
    await h.service('shop-preview');
    await h.pod('shop-v1', 'v1', true);
    await h.pod('shop-v2', 'v2', options.v2Ready);
    await h.refresh();
  }

  it('blue-green: activeService selects the stable hash, previewService the preview hash, both annotated; verified', async () => {
    await bgCluster({ v2Ready: true });
    const d = decision(blueGreen, { previewRevision: 'v2' });
    await h.provider.apply(d);
    const active = await h.read('shop');
    const preview = await h.read('shop-preview');
    expect(active.spec?.selector).toEqual({ app: 'shop', [POD_TEMPLATE_HASH_LABEL]: 'v1' });
    expect(preview.spec?.selector).toEqual({ app: 'shop', [POD_TEMPLATE_HASH_LABEL]: 'v2' });
    expect(active.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('shop');
    expect(preview.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('shop');
    expect(await h.send('shop', 20)).toEqual({ v1: 20 });
    expect(await h.send('shop-preview', 20)).toEqual({ v2: 20 });
    expect(await h.provider.verify(d)).toBe('pending'); // the cache has not seen the writes yet
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('verified');
    expect(await h.provider.verify(decision(blueGreen, { stableRevision: 'v2', previewRevision: 'v2' }))).toBe('pending');
  });

  it('without a preview revision previewService follows the active one; the switch moves activeService', async () => {
    await bgCluster({ v2Ready: true });
    await h.provider.apply(decision(blueGreen, { stableRevision: 'v2' }));
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v2');
    expect((await h.read('shop-preview')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v2');
  });

  it('applying the same decision again writes nothing', async () => {
    await bgCluster({ v2Ready: true });
    const d = decision(blueGreen, { previewRevision: 'v2' });
    await h.provider.apply(d);
    await h.refresh();
    const writes = h.server.requests.filter((r) => r.method === 'PATCH').length;
    await h.provider.apply(structuredClone(d));
    expect(h.server.requests.filter((r) => r.method === 'PATCH').length).toBe(writes);
  });

  it('canary: stableService selects stable and canaryService the canary while one exists, else stable', async () => {
    h = await Harness.start();
    await h.service('shop');
    await h.service('shop-canary');
    await h.pod('shop-v1', 'v1', true);
    await h.pod('shop-v2', 'v2', true);
    await h.refresh();
    await h.provider.apply(decision(canary, { canaryRevision: 'v2', canaryWeight: 20 }));
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
    expect((await h.read('shop-canary')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v2');
    await h.refresh();
    await h.provider.apply(decision(canary, { canaryRevision: undefined }));
    expect((await h.read('shop-canary')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
  });

  it('never points a Service at a revision with no ready pod: it is left as it is, the others are written, the error names it and verify is pending', async () => {
    await bgCluster({ v2Ready: false });
    const d = decision(blueGreen, { previewRevision: 'v2' });
    const err = await h.provider.apply(d).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceRoutingError);
    expect(err).toMatchObject({ code: 'ServiceRoutingRefused', refusals: [{ service: 'shop-preview', reason: 'no-ready-pod' }] });
    expect((err as Error).message).toBe('Service "shop-preview" (previewService) left as it is: revision v2 has no ready pod it would select');
    expect((await h.read('shop-preview')).spec?.selector).toEqual({ app: 'shop' });
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('pending');
    await h.setReady('shop-v2', true);
    await h.refresh();
    await h.provider.apply(d);
    await h.refresh();
    expect(await h.provider.verify(d)).toBe('verified');
  });

  it('refuses to switch an active Service to a revision whose pods are all unready, even when the decision says so', async () => {
    await bgCluster({ v2Ready: true });
    await h.provider.apply(decision(blueGreen, {}));
    await h.setReady('shop-v2', false);
    await h.refresh();
    await expect(h.provider.apply(decision(blueGreen, { stableRevision: 'v2' }))).rejects.toThrow('Service "shop" (activeService) left as it is');
    expect(await h.send('shop', 10)).toEqual({ v1: 10 });
  });

  it('before the pod cache has listed, the decision\'s ready endpoints speak for a revision', async () => {
    h = await Harness.start();
    await h.service('shop');
    await h.services.refresh();
    const d = (ready: boolean): TrafficDecision => ({ ...decision(blueGreen, {}), spec: { strategy: { blueGreen: { activeService: 'shop' } } }, endpoints: [{ id: 'a', revision: 'v1', address: '', ready, draining: false }] });
    await expect(h.provider.apply(d(false))).rejects.toThrow(ServiceRoutingError);
    await h.provider.apply(d(true));
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
  });

  it('refuses a Service managed by another Rollout and leaves it as it is', async () => {
    h = await Harness.start();
    await h.service('shop', { annotations: { [MANAGED_BY_ANNOTATION]: 'other' } });
    await h.pod('shop-v1', 'v1', true);
    await h.refresh();
    await expect(h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop' } } }, {}))).rejects.toMatchObject({
      code: 'ServiceRoutingRefused', refusals: [{ service: 'shop', reason: 'managed-elsewhere', message: 'Service "shop" is managed by Rollout "other"' }],
    });
    const svc = await h.read('shop');
    expect(svc.spec?.selector).toEqual({ app: 'shop' });
    expect(svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBe('other');
  });

  it('a Service that does not exist (or was deleted after the cache saw it) is refused by name', async () => {
    await bgCluster({ v2Ready: true });
    await h.core.deleteNamespacedService({ namespace: NS, name: 'shop-preview' });
    await expect(h.provider.apply(decision(blueGreen, { previewRevision: 'v2' }))).rejects.toMatchObject({
      refusals: [{ service: 'shop-preview', reason: 'not-found', message: 'Service "shop-preview" (previewService) does not exist' }],
    });
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
  });

  it('survives a 409: a Service changed since the cache saw it is read again and decided afresh, keeping the other change', async () => {
    await bgCluster({ v2Ready: true });
    const before = await h.read('shop');
    await h.core.replaceNamespacedService({ namespace: NS, name: 'shop', body: { ...before, metadata: { ...before.metadata, labels: { team: 'web' } } } });
    await h.provider.apply(decision(blueGreen, { previewRevision: 'v2' }));
    const after = await h.read('shop');
    expect(after.metadata?.labels).toEqual({ team: 'web' });
    expect(after.spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
    const shopWrites = h.server.requests.filter((r) => r.path.startsWith('/api/v1/namespaces/default/services/shop?') || r.path === '/api/v1/namespaces/default/services/shop');
    expect(shopWrites.map((r) => r.method)).toEqual(['GET', 'PUT', 'PATCH', 'GET', 'PATCH', 'GET']);
  });

  it('after its retries a conflict is thrown, for the pass to try again', async () => {
    h = await Harness.start({ maxConflictRetries: 0 });
    await h.service('shop');
    await h.pod('shop-v1', 'v1', true);
    await h.refresh();
    const before = await h.read('shop');
    await h.core.replaceNamespacedService({ namespace: NS, name: 'shop', body: { ...before, metadata: { ...before.metadata, labels: { team: 'web' } } } });
    const err = await h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop' } } }, {})).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<unknown>).code).toBe(409);
  });

  it('a write the server sheds (429 with Retry-After) is thrown with the delay it asked for, the Service left as it was', async () => {
    h = await Harness.start();
    await h.service('shop');
    await h.pod('shop-v1', 'v1', true);
    await h.refresh();
    h.server.injectFault({ status: 429, method: 'PATCH', pathIncludes: '/services/shop', retryAfterSeconds: 2 });
    const err = await h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop' } } }, {})).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceWriteThrottledError);
    expect(err).toMatchObject({ code: 'ServiceWriteThrottled', retryAfterMs: 2000, message: expect.stringContaining('Service default/shop was not patched') });
    expect(retryAfterMsOf(err)).toBe(2000);
    expect((await h.read('shop')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBeUndefined();
    // Not retried at once against a server that asked for time.
    expect(h.server.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/services/shop'))).toHaveLength(1);
    // A 503 without Retry-After is the server's error as before: no delay is made up.
    h.server.injectFault({ status: 503, method: 'PATCH', pathIncludes: '/services/shop' });
    const plain = await h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop' } } }, {})).then(() => undefined, (e: unknown) => e);
    expect(plain).toBeInstanceOf(ApiException);
    expect(retryAfterMsOf(plain)).toBeUndefined();
  });

  it('every Service written and given back passes the official Service schema (kubernetes-models)', async () => {
    await bgCluster({ v2Ready: true });
    await h.provider.apply(decision(blueGreen, { previewRevision: 'v2' }));
    for (const name of ['shop', 'shop-preview']) expect(() => new Service(withKind(h, name)).validate()).not.toThrow();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    for (const name of ['shop', 'shop-preview']) expect(() => new Service(withKind(h, name)).validate()).not.toThrow();
    // The check can fail: a Service the schema refuses is caught.
    expect(() => new Service({ metadata: { name: 'x' }, spec: { selector: { app: 1 } } } as never).validate()).toThrow();
  });

  it('a Service the spec no longer names is given back on apply: hash key and annotation removed', async () => {
    h = await Harness.start();
    await h.service('shop');
    await h.service('shop-next');
    await h.pod('shop-v1', 'v1', true);
    await h.refresh();
    await h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop' } } }, {}));
    await h.refresh();
    await h.provider.apply(decision({ strategy: { blueGreen: { activeService: 'shop-next' } } }, {}));
    const old = await h.read('shop');
    expect(old.spec?.selector).toEqual({ app: 'shop' });
    expect(old.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBeUndefined();
    expect((await h.read('shop-next')).spec?.selector?.[POD_TEMPLATE_HASH_LABEL]).toBe('v1');
  });

  it('removeManagedRoutes gives back every Service of the Rollout, twice without harm, and leaves other Rollouts\' Services alone', async () => {
    await bgCluster({ v2Ready: true });
    await h.service('other', { annotations: { [MANAGED_BY_ANNOTATION]: 'other' }, selector: { app: 'other', [POD_TEMPLATE_HASH_LABEL]: 'x' } });
    await h.provider.apply(decision(blueGreen, { previewRevision: 'v2' }));
    // Not refreshed: the provider remembers what it wrote before the cache shows it.
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    await h.refresh();
    await h.provider.removeManagedRoutes({ namespace: NS, service: 'shop' });
    for (const name of ['shop', 'shop-preview']) {
      const svc = await h.read(name);
      expect(svc.spec?.selector).toEqual({ app: 'shop' });
      expect(svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION]).toBeUndefined();
    }
    expect(await h.send('shop', 40)).toMatchObject({ v1: expect.any(Number) as number, v2: expect.any(Number) as number });
    expect((await h.read('other')).spec?.selector).toEqual({ app: 'other', [POD_TEMPLATE_HASH_LABEL]: 'x' });
    await h.refresh();
    expect(await h.provider.verify(decision(blueGreen, { previewRevision: 'v2' }))).toBe('pending');
  });

  it('refuses a preview by header at apply time as at validate time', async () => {
    await bgCluster({ v2Ready: true });
    const spec: RolloutSpec = { strategy: { blueGreen: { activeService: 'shop', allowPreviewHeader: true } } };
    expect(h.provider.validate(spec).map((i) => i.path)).toEqual([['strategy', 'blueGreen', 'allowPreviewHeader']]);
    await expect(h.provider.apply(decision(spec, { previewRevision: 'v2' }))).rejects.toThrow(TrafficCapabilityError);
    expect(h.provider.validate(blueGreen)).toEqual([]);
    expect(h.provider.validate(canary)).toEqual([]);
  });
});

describe('checkServices', () => {
  let h: Harness;
  afterEach(async () => { await h?.close(); });

  it('names a missing Service, a selector the template does not match and a Service managed by another Rollout', async () => {
    h = await Harness.start();
    await h.service('shop', { selector: { app: 'shop', [POD_TEMPLATE_HASH_LABEL]: 'old' } });
    await h.service('shop-canary', { selector: { app: 'web', tier: 'front' } });
    await h.service('taken', { annotations: { [MANAGED_BY_ANNOTATION]: 'other' } });
    const input = { namespace: NS, rollout: 'shop', services: h.services, templateLabels: { app: 'shop' } };
    expect(checkServices({ ...input, spec: canary })).toEqual([]); // not listed yet: nothing known
    await h.refresh();
    expect(checkServices({ ...input, spec: canary })).toEqual(['canaryService "shop-canary" selects app=web, tier=front, which the pod template\'s labels do not carry']);
    expect(checkServices({ ...input, spec: { strategy: { blueGreen: { activeService: 'missing', previewService: 'taken' } } } })).toEqual([
      'activeService "missing" does not exist in namespace "default"',
      'previewService "taken" is managed by Rollout "other"',
    ]);
    expect(checkServices({ ...input, spec: { strategy: { blueGreen: { activeService: 'shop' } } } })).toEqual([]);
  });
});
