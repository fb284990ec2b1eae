/**
 * The guard on the cluster, end to end: a real Prometheus (Debian `prometheus`, scraping every
 * second) scrapes a simulated Istio mesh on loopback (istio-mesh-exporter.ts) that splits its
 * requests by the VirtualService's weights and counts them in `istio_requests_total` per
 * `destination_canonical_revision`, the label graylane's pods carry; the controller runs against
 * the fake API server with Istio's CRDs. A canary whose requests start failing is aborted by the
 * guard in seconds and the VirtualService is back to 100/0. A Prometheus that is down makes the
 * guard say so (an Event) and judge nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { apply, ClusterTestBed, patchRolloutSpec, readRollout, startCluster, until, type Cluster } from '../fixtures/kube/controller-harness.js';
import { installIstioCrds } from '../fixtures/kube/istio-crds.js';
import { IstioMeshExporter } from '../fixtures/kube/istio-mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../fixtures/metrics/prometheus-server.js';

const bed = new ClusterTestBed();
let prometheus: TestPrometheus | undefined;
let mesh: IstioMeshExporter | undefined;
afterEach(async () => {
  await prometheus?.stop();
  prometheus = undefined;
  await mesh?.stop();
  mesh = undefined;
  await bed.tearDown();
});

const ns = 'default';
const labels = { app: 'shop' };
const template = (image: string) => ({ metadata: { labels }, spec: { containers: [{ name: 'shop', image, ports: [{ containerPort: 8080 }] }] } });
const services = ['shop-stable', 'shop-canary'].map((name) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } }));
const rollout = (guard: Record<string, unknown>) => ({
  apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'shop', namespace: ns },
  spec: {
    replicas: 2, selector: { matchLabels: labels }, template: template('shop:1'),
    strategy: { canary: {
      stableService: 'shop-stable', canaryService: 'shop-canary', guard,
      trafficRouting: { istio: { virtualService: { name: 'shop-vs', routes: ['primary'] } } }, steps: [{ setWeight: 20 }, { pause: {} }],
    } },
  },
});
const vs = { group: 'networking.istio.io', version: 'v1', namespace: ns, plural: 'virtualservices' };
type Vs = { spec: { http: Array<{ route: Array<{ destination: { host: string }; weight: number }> }> } };

async function istioCluster(): Promise<Cluster> {
  const c = (bed.cluster = await startCluster({ readyAfterMs: 50 }));
  await installIstioCrds(c.server);
  await c.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...vs, body: {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'shop-vs' },
    spec: { hosts: ['shop'], http: [{ name: 'primary', route: [{ destination: { host: 'shop-stable' }, weight: 100 }, { destination: { host: 'shop-canary' }, weight: 0 }] }] },
  } });
  return c;
}

async function run(c: Cluster, prometheusUrl: string): Promise<void> {
  bed.controller = new KubernetesController({
    kubeConfig: c.kc, namespace: ns, workers: 2, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', log: bed.log,
    informerBackoff: { initialMs: 50, maxMs: 500 }, prometheusUrl, guardIntervalMs: 1000,
  });
  await bed.controller.start();
}

const weights = async (c: Cluster) => ((await c.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...vs, name: 'shop-vs' })) as Vs).spec.http[0]!.route.map((r) => `${r.destination.host}=${r.weight}`);

describe('the guard on the cluster, from Prometheus', () => {
  it('aborts an Istio canary whose requests fail within seconds, and the VirtualService is back to 100/0', async () => {
    const c = await istioCluster();
    mesh = await IstioMeshExporter.start({ kubeConfig: c.kc, namespace: ns, virtualService: 'shop-vs', workload: 'shop' });
    prometheus = await startPrometheus({ extraTargets: [{ address: mesh.address }] });
    await apply(c, [...services, rollout({ restartEverySeconds: 5 })] as never);
    await run(c, prometheus.address);
    const first = await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy');
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    const paused = await until('paused at 20%', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== first.status!.stableRS);
    await until('80/20 in the VirtualService', () => weights(c), (w) => w.join() === 'shop-stable=80,shop-canary=20');
    // The pods carry the label Istio reports the revision by.
    const pods = (await c.core.listNamespacedPod({ namespace: ns })).items;
    expect(pods.some((p) => p.metadata?.labels?.['service.istio.io/canonical-revision'] === paused.status!.currentPodHash)).toBe(true);
    mesh.errorRates.set(paused.status!.currentPodHash!, 1);
    const failingSince = Date.now();
    const aborted = await until('aborted by the guard', () => readRollout(c, ns, 'shop'), (r) => r.status?.abort === true, { timeoutMs: 30_000 });
    expect(Date.now() - failingSince).toBeLessThan(20_000);
    expect(aborted.status?.phase).toBe('Degraded');
    expect((aborted.status as { message?: string }).message).toMatch(/aborted by the guard/);
    await until('100/0 in the VirtualService', () => weights(c), (w) => w.join() === 'shop-stable=100,shop-canary=0', { timeoutMs: 10_000 });
  }, 90_000);

  it('a Prometheus that does not answer: the guard judges nothing and says why in an Event', async () => {
    const c = await istioCluster();
    await apply(c, [...services, rollout({})] as never);
    // Nothing listens on port 9 of loopback.
    await run(c, 'http://127.0.0.1:9');
    await until('Healthy on the first revision', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Healthy');
    await patchRolloutSpec(c, ns, 'shop', { template: template('shop:2') });
    await until('paused at 20%', () => readRollout(c, ns, 'shop'), (r) => r.status?.phase === 'Paused');
    const events = await until('a GuardNoData Event', async () => (await c.core.listNamespacedEvent({ namespace: ns })).items, (items) => items.some((e) => e.reason === 'GuardNoData'), { timeoutMs: 15_000 });
    expect(events.find((e) => e.reason === 'GuardNoData')?.message).toMatch(/the guard cannot judge the canary: .*127\.0\.0\.1:9.*; it judges nothing until the figures are back/);
    const r = await readRollout(c, ns, 'shop');
    expect(r.status?.phase).toBe('Paused');
    expect(r.status?.abort).not.toBe(true);
  }, 60_000);

  it('without a Prometheus address, a Rollout with the guard on is InvalidSpec with a sentence saying what to set', async () => {
    const c = await istioCluster();
    await apply(c, [...services, rollout({})] as never);
    bed.controller = new KubernetesController({ kubeConfig: c.kc, namespace: ns, workers: 2, healthAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0', log: bed.log, informerBackoff: { initialMs: 50, maxMs: 500 } });
    await bed.controller.start();
    const invalid = await until('InvalidSpec', () => readRollout(c, ns, 'shop'), (r) => r.status?.conditions?.some((x) => x.type === 'InvalidSpec') === true);
    expect(invalid.status?.conditions?.find((x) => x.type === 'InvalidSpec')?.message).toMatch(/start the controller with --prometheus-url \(Helm value prometheus\.url\), set guard\.prometheus\.address, or set enabled: false/);
  });
});
