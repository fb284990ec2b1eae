/**
 * The Kubernetes controller under faults, against the fake API server: killed mid-rollout and
 * replaced, two replicas competing for the Lease with the leader killed, and an API server that
 * answers 500s and 429s, drops watches, forgets history (410 Gone) and takes rival writes.
 *
 * A controller is "killed" by cutting the proxy it reaches the cluster through: to the cluster that
 * is a SIGKILL (nothing more written, nothing released, no Lease handed back), and the proxy's
 * request log tells two in-process controllers' writes apart.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinationV1Api, PatchStrategy, setHeaderOptions, type V1Lease, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { jsonLog } from '../../src/controller/kubernetes/json-log.js';
import type { ControllerLog, KubernetesController } from '../../src/controller/kubernetes/kubernetes-controller.js';
import { parseMicroTime } from '../../src/kube/micro-time.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../src/kube/names.js';
import type { RolloutObject } from '../../src/state/kubernetes/kubernetes-state.js';
import {
  apply, documents, metric, operate, patchRolloutSpec, podReady, readRollout, runController, startCluster, until, type Cluster,
} from '../fixtures/kube/controller-harness.js';
import { CuttableProxy } from '../fixtures/kube/cuttable-proxy.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples/kubernetes');
const seed = (file: string): string => readFileSync(join(EXAMPLES, file), 'utf8');

let cluster: Cluster | undefined;
let controllers: KubernetesController[] = [];
let proxies: CuttableProxy[] = [];
let lines: Array<Record<string, unknown>> = [];
const log: ControllerLog = jsonLog({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });

afterEach(async () => {
  for (const p of proxies) await p.cut();
  await Promise.all(controllers.map((c) => c.stop()));
  await cluster?.close();
  cluster = undefined;
  controllers = [];
  proxies = [];
  lines = [];
});

/** A controller reaching the cluster through its own proxy. */
async function controllerBehindProxy(c: Cluster, options: { namespace: string | undefined; identity?: string; durations?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number } }): Promise<{ controller: KubernetesController; proxy: CuttableProxy }> {
  const proxy = await CuttableProxy.start({ target: c.server.url });
  proxies.push(proxy);
  const controller = await runController({
    kubeConfig: kubeConfigFor({ server: { url: proxy.url, token: c.server.token } }), namespace: options.namespace,
    log: (level, msg, fields) => log(level, msg, { ...fields, controller: options.identity ?? `#${controllers.length}` }),
    ...(options.identity === undefined ? {} : { leaderElection: { namespace: 'default', name: 'graylane-controller', identity: options.identity, durations: options.durations } }),
  });
  controllers.push(controller);
  return { controller, proxy };
}

// Short, yet long enough that the leader's renewals outlast the pauses of one busy test process
// (two controllers, the fake and its schema validation share its event loop).
const durations = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 };

/** controller-a leading and controller-b standing by, each behind its proxy, and the seed's Rollout Healthy on its first revision. */
async function leaderAndStandby(c: Cluster): Promise<{ a: { controller: KubernetesController; proxy: CuttableProxy }; b: { controller: KubernetesController; proxy: CuttableProxy }; healthy: RolloutObject }> {
  const a = await controllerBehindProxy(c, { namespace: 'default', identity: 'controller-a', durations });
  await until('controller-a leads', () => Promise.resolve(a.controller.isLeading), (l) => l);
  const b = await controllerBehindProxy(c, { namespace: 'default', identity: 'controller-b', durations });
  await until('controller-b is ready as a standby', () => fetch(`${b.controller.urls!.health}/readyz`).then((r) => r.status), (s) => s === 200);
  const healthy = await until('Healthy on the first revision', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3);
  return { a, b, healthy };
}

const live = (items: Array<V1Pod | V1ReplicaSet>): string[] => items.filter((o) => o.metadata?.deletionTimestamp === undefined).map((o) => o.metadata!.uid!).sort();
const everyUid = (items: Array<V1Pod | V1ReplicaSet>): string[] => items.map((o) => o.metadata!.uid!).sort();
const selectorHash = async (c: Cluster, namespace: string, name: string): Promise<string | undefined> =>
  (await c.core.readNamespacedService({ namespace, name })).spec?.selector?.[POD_TEMPLATE_HASH_LABEL];

/** What a Rollout's status claimed at one write, and what its active Service selected at that moment. */
interface HealthyClaim {
  phase: string | undefined;
  healthy: string | undefined;
  progressingReason: string | undefined;
  currentPodHash: string | undefined;
  stableRS: string | undefined;
  activeSelector: string | undefined;
  selected: string | undefined;
}

/**
 * Every write of the Rollout's status, seen synchronously inside the fake's store, with the hash
 * the active Service selected at that very moment; `violations` are the writes that said Healthy
 * (or claimed the switch) while the Service did not select the revision they named.
 */
function watchHealthyClaims(c: Cluster, options: { namespace: string; rollout: string; activeService: string }): { claims: HealthyClaim[]; violations: () => HealthyClaim[]; stop: () => void } {
  const claims: HealthyClaim[] = [];
  let selected: string | undefined;
  const stop = c.server.cluster.store.subscribe((change) => {
    const o = change.object as { metadata: { name?: string; namespace?: string }; spec?: { selector?: Record<string, string> }; status?: RolloutObject['status'] };
    if (o.metadata.namespace !== options.namespace) return;
    if (change.key === '/services' && o.metadata.name === options.activeService) selected = o.spec?.selector?.[POD_TEMPLATE_HASH_LABEL];
    if (change.key !== 'graylane.dev/rollouts' || o.metadata.name !== options.rollout || change.type === 'DELETED' || !o.status?.conditions) return;
    const condition = (type: string) => o.status?.conditions?.find((x) => x.type === type);
    claims.push({
      phase: o.status.phase, healthy: condition('Healthy')?.status, progressingReason: condition('Progressing')?.reason,
      currentPodHash: o.status.currentPodHash, stableRS: o.status.stableRS, activeSelector: o.status.blueGreen?.activeSelector, selected,
    });
  });
  const violations = (): HealthyClaim[] => claims.filter((x) => (x.healthy === 'True' || x.phase === 'Healthy')
    && (x.selected !== x.currentPodHash || x.stableRS !== x.selected || x.activeSelector !== x.selected));
  return { claims, violations, stop };
}

const reconciles = async (controller: KubernetesController): Promise<number> =>
  await metric(controller, 'graylane_reconcile_duration_seconds_count{outcome="success"}') + await metric(controller, 'graylane_reconcile_duration_seconds_count{outcome="requeue"}');

describe('KubernetesController under faults', () => {
  it('killed mid-canary (paused at step 1) and replaced: the new controller resumes at the same step and weights, recreates and deletes no pod or ReplicaSet, and finishes on promote', async () => {
    const c = (cluster = await startCluster({ readyAfterMs: 100 }));
    await apply(c, documents(seed('002-canary-paused.yaml')));
    const first = await controllerBehindProxy(c, { namespace: 'wyq' });
    const healthy = await until('Healthy on the first revision', () => readRollout(c, 'wyq', 'nginx01'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 4);
    const v1 = healthy.status!.stableRS!;
    const template = structuredClone(healthy.spec.template) as { spec: { containers: Array<{ image: string }> } };
    template.spec.containers[0]!.image = 'nginx:1.15';
    await patchRolloutSpec(c, 'wyq', 'nginx01', { template });
    const pods = async (): Promise<V1Pod[]> => (await c.core.listNamespacedPod({ namespace: 'wyq' })).items;
    const sets = async (): Promise<V1ReplicaSet[]> => (await c.apps.listNamespacedReplicaSet({ namespace: 'wyq' })).items;
    // Settled: paused at step 1, 1 canary and 3 stable pods ready, none on its way out.
    const paused = await until('paused at 25% with the pods settled', async () => ({ r: await readRollout(c, 'wyq', 'nginx01'), p: await pods() }),
      ({ r, p }) => r.status?.phase === 'Paused' && r.status.currentStepIndex === 1 && r.status.currentPodHash !== v1
        && p.length === 4 && p.every(podReady) && p.filter((x) => x.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === r.status?.currentPodHash).length === 1);
    const v2 = paused.r.status!.currentPodHash!;
    const before = { pods: everyUid(paused.p), sets: everyUid(await sets()), replicas: (await sets()).map((s) => [s.metadata?.name, s.spec?.replicas]).sort() };
    expect(before.sets).toHaveLength(2);

    await first.proxy.cut();
    const second = await controllerBehindProxy(c, { namespace: 'wyq' });
    // The successor has listed and reconciled the Rollout (a paused one settles after one pass).
    await until('the successor reconciled', () => reconciles(second.controller), (n) => n >= 1);
    await new Promise((r) => setTimeout(r, 500));
    const after = await readRollout(c, 'wyq', 'nginx01');
    expect(after.status?.currentStepIndex).toBe(1);
    expect(after.status?.phase).toBe('Paused');
    expect(after.status?.currentPodHash).toBe(v2);
    expect(after.status?.canary?.weights).toEqual(paused.r.status?.canary?.weights);
    expect(after.status?.canary?.weights?.canary.weight).toBe(25);
    expect(everyUid(await pods())).toEqual(before.pods);
    expect(everyUid(await sets())).toEqual(before.sets);
    expect((await sets()).map((s) => [s.metadata?.name, s.spec?.replicas]).sort()).toEqual(before.replicas);
    expect([await selectorHash(c, 'wyq', 'nginx01'), await selectorHash(c, 'wyq', 'nginx02')]).toEqual([v1, v2]);

    await operate(c, 'wyq', 'nginx01', { type: 'promoteFull' });
    await until('Healthy on the new revision', () => readRollout(c, 'wyq', 'nginx01'), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2 && r.status.availableReplicas === 4);
    await until('both Services on the new hash', async () => [await selectorHash(c, 'wyq', 'nginx01'), await selectorHash(c, 'wyq', 'nginx02')], (s) => s[0] === v2 && s[1] === v2);
    // The pods of v2 that existed before the kill are still there: the successor scaled up beside them.
    const canaryPod = before.pods.filter((uid) => paused.p.find((p) => p.metadata?.uid === uid)?.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] === v2);
    expect(live(await pods())).toEqual(expect.arrayContaining(canaryPod));
    expect(first.proxy.requests.length).toBeGreaterThan(0);
  });

  it('two controllers with leader election: only the leader writes while the other stands by; the leader killed without releasing, the other takes over within the lease duration and finishes the rollout', async () => {
    const c = (cluster = await startCluster());
    const shorter = (d: ReturnType<typeof documents>[number]): ReturnType<typeof documents>[number] => {
      if (d.kind === 'Rollout') (d.spec!.strategy as { blueGreen: Record<string, unknown> }).blueGreen.scaleDownDelaySeconds = 1;
      return d;
    };
    await apply(c, documents(seed('001-blue-green.yaml'), shorter));
    const { a, b, healthy } = await leaderAndStandby(c);
    const v1 = healthy.status!.stableRS!;
    const template = structuredClone(healthy.spec.template) as { spec: { containers: Array<{ image: string }> } };
    template.spec.containers[0]!.image = 'bebullish/demo:v2';
    await patchRolloutSpec(c, 'default', 'demo', { template });
    const paused = await until('v2 previewed and paused', () => readRollout(c, 'default', 'demo'),
      (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.blueGreen?.previewSelector === r.status.currentPodHash);
    const v2 = paused.status!.currentPodHash!;

    // Writes other than the Lease's: the leader made them all, the standby none.
    const writes = (proxy: CuttableProxy): Array<{ method: string; path: string }> => proxy.requests.filter((r) => r.method !== 'GET' && !r.path.includes('/leases'));
    expect(writes(b.proxy)).toEqual([]);
    expect(writes(a.proxy).filter((r) => r.method === 'PUT' && r.path.includes('/rollouts/demo/status')).length).toBeGreaterThan(0);
    expect(writes(a.proxy).some((r) => r.method === 'POST' && r.path.includes('/replicasets'))).toBe(true);
    expect(b.controller.isLeading).toBe(false);
    expect(await metric(b.controller, 'graylane_leader')).toBe(0);
    expect(await metric(a.controller, 'graylane_leader')).toBe(1);

    const killedAt = Date.now();
    await a.proxy.cut();
    await until('controller-b leads', () => Promise.resolve(b.controller.isLeading), (l) => l, { timeoutMs: 10_000 });
    // The Lease was last renewed at most retryPeriod before the kill; it expires leaseDuration later, and b retries every retryPeriod.
    expect(Date.now() - killedAt).toBeLessThan(durations.leaseDurationMs + 4 * durations.retryPeriodMs + 1000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(durations.leaseDurationMs - 2 * durations.retryPeriodMs);
    const lease = await c.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'default', name: 'graylane-controller' });
    expect(lease.spec?.holderIdentity).toBe('controller-b');
    // The killed leader cannot renew: it stops its queue at the renew deadline, for good.
    expect(await a.controller.done).toBe('lease-lost');

    await operate(c, 'default', 'demo', { type: 'promote' });
    await until('Healthy on v2', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2);
    expect(await selectorHash(c, 'default', 'demo-service')).toBe(v2);
    await until('the old ReplicaSet scaled to 0', () => c.apps.readNamespacedReplicaSet({ namespace: 'default', name: `demo-${v1}` }), (rs) => rs.spec?.replicas === 0);
    expect(writes(b.proxy).some((r) => r.method === 'PUT' && r.path.includes('/rollouts/demo/status'))).toBe(true);
    expect((await c.apps.listNamespacedReplicaSet({ namespace: 'default' })).items.map((rs) => rs.metadata?.name).sort()).toEqual([`demo-${v1}`, `demo-${v2}`].sort());
  });

  it('a leader whose Lease renewals fail for the renew deadline while a pass is held open stops campaigning at once: it never writes the Lease again, even when the API answers again before its queue drained, and the standby takes over within the lease duration', async () => {
    const c = (cluster = await startCluster());
    await apply(c, documents(seed('001-blue-green.yaml')));
    const { a, b, healthy } = await leaderAndStandby(c);

    // A pass held open: the leader's next write of a new revision gets no answer until let go.
    const leaseRequest = (r: { path: string }): boolean => r.path.includes('/leases/');
    a.proxy.hold((r) => r.method !== 'GET' && !leaseRequest(r) && !r.path.includes('/events'));
    const template = structuredClone(healthy.spec.template) as { spec: { containers: Array<{ image: string }> } };
    template.spec.containers[0]!.image = 'bebullish/demo:v2';
    await patchRolloutSpec(c, 'default', 'demo', { template });
    await until('a pass of controller-a held at a write', () => Promise.resolve(a.proxy.heldCount), (n) => n > 0);

    // Its renewals refused until it steps down.
    a.proxy.refuse(leaseRequest);
    const leases = c.kc.makeApiClient(CoordinationV1Api);
    const readLease = (): Promise<V1Lease> => leases.readNamespacedLease({ namespace: 'default', name: 'graylane-controller' });
    await until('controller-a loses the Lease', () => Promise.resolve(a.controller.isLeading), (l) => !l, { timeoutMs: 10_000 });
    const lost = await readLease();
    expect(lost.spec?.holderIdentity).toBe('controller-a');
    const lastRenewMs = parseMicroTime(lost.spec!.renewTime as unknown as string);

    // The API answers it again while its queue still waits for the held pass: a campaign still
    // running would renew the Lease it is still named in within a retry period, then hold it unused.
    a.proxy.refuse(undefined);
    const liftedAt = a.proxy.requests.length;
    await new Promise((r) => setTimeout(r, 5 * durations.retryPeriodMs));
    expect(a.proxy.heldCount).toBeGreaterThan(0);
    expect(a.proxy.requests.slice(liftedAt).filter(leaseRequest)).toEqual([]);
    // Untouched, unless the standby already took it over (its lease duration may have run out by now).
    const meanwhile = await readLease();
    if (meanwhile.spec?.holderIdentity !== 'controller-b') expect(meanwhile.metadata?.resourceVersion).toBe(lost.metadata?.resourceVersion);

    a.proxy.letGo();
    expect(await a.controller.done).toBe('lease-lost');
    await until('controller-b leads', () => Promise.resolve(b.controller.isLeading), (l) => l, { timeoutMs: 10_000 });
    // b saw a's last record within a retry period of its writing, and takes it once that record has
    // stood unchanged for the lease duration, at its next attempt (4.3 to 4.6 s at a load of 9);
    // 1.5 s is for a busy test process. A leader that took the Lease back would hold b off until
    // 4 s after the let-go, 7.8 s at the least.
    expect(Date.now() - lastRenewMs).toBeLessThan(durations.leaseDurationMs + 2 * durations.retryPeriodMs + 1500);
    const taken = await readLease();
    expect(taken.spec).toMatchObject({ holderIdentity: 'controller-b', leaseTransitions: (lost.spec?.leaseTransitions ?? 0) + 1 });
    expect(a.proxy.requests.slice(liftedAt).filter(leaseRequest)).toEqual([]);
  });

  it('API errors survived: 500s and 429s on lists, watches and writes, dropped watches, a 410 on re-watch and a rival write that makes a status commit conflict; the rollout still reaches Healthy with the right Services and no duplicate ReplicaSet, and /metrics shows it', async () => {
    const c = (cluster = await startCluster({ historyLimit: 25 }));
    await apply(c, documents(seed('001-blue-green.yaml'), (d) => {
      if (d.kind === 'Rollout') (d.spec!.strategy as { blueGreen: Record<string, unknown> }).blueGreen.scaleDownDelaySeconds = 1;
      return d;
    }));
    const answered = (method: string, path: string, status: number): number => c.server.requests.filter((r) => r.method === method && r.path.includes(path) && r.status === status).length;
    const claims = watchHealthyClaims(c, { namespace: 'default', rollout: 'demo', activeService: 'demo-service' });
    // The first lists fail: an overloaded server, then API priority and fairness.
    c.server.injectFault({ status: 500, times: 2, method: 'GET', watch: false, pathIncludes: '/rollouts' });
    c.server.injectFault({ status: 429, times: 2, method: 'GET', watch: false, pathIncludes: '/replicasets', retryAfterSeconds: 1 });
    // And the first writes of the first revision.
    c.server.injectFault({ status: 500, times: 2, method: 'POST', pathIncludes: '/replicasets' });
    c.server.injectFault({ status: 429, times: 2, method: 'PUT', pathIncludes: '/rollouts/demo/status', retryAfterSeconds: 1 });
    c.server.injectFault({ status: 500, times: 2, method: 'PATCH', pathIncludes: '/services/' });
    const controller = await runController({ kubeConfig: c.kc, namespace: 'default', log });
    controllers.push(controller);
    // The faults on GETs match any GET of the path, the test's own reads too: let the controller take them first.
    await until('the failed lists', () => Promise.resolve([answered('GET', '/rollouts', 500), answered('GET', '/replicasets', 429)]), (n) => n[0] === 2 && n[1] === 2);
    const first = await until('Healthy on the first revision', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3);
    const v1 = first.status!.stableRS!;
    // Read once, not waited for: Healthy is shown only once the Service PATCHes that failed have
    // landed and the controller has seen them in force (at every status write, checked below).
    expect(await selectorHash(c, 'default', 'demo-service')).toBe(v1);
    expect(claims.violations()).toEqual([]);
    expect(answered('GET', '/rollouts', 500)).toBe(2);
    expect(answered('GET', '/replicasets', 429)).toBe(2);
    expect(answered('POST', '/replicasets', 500)).toBe(2);
    expect(answered('PUT', '/rollouts/demo/status', 429)).toBe(2);
    expect(answered('PATCH', '/services/', 500)).toBe(2);
    expect(await metric(controller, 'graylane_reconcile_errors_total')).toBeGreaterThanOrEqual(2);

    // Every watch dropped; the Rollout's re-watch fails a while, during which a person annotates
    // the Rollout (a rival write the controller's cache misses) and a pod dies: the pass the pod
    // triggers commits against the stale Rollout and conflicts. Enough changes meanwhile that the
    // re-watch from the old resourceVersion answers 410 Gone and the informer lists again.
    const listsBefore = await metric(controller, 'graylane_informer_lists_total{kind="Rollout"}');
    c.server.injectFault({ status: 500, times: 6, watch: true, pathIncludes: '/rollouts' });
    c.server.dropWatches();
    for (let i = 0; i < 30; i += 1) {
      await c.custom.patchNamespacedCustomObject(
        { group: 'graylane.dev', version: 'v1alpha1', namespace: 'default', plural: 'rollouts', name: 'demo', body: { metadata: { annotations: { 'example.com/touched': String(i) } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    const victim = (await c.core.listNamespacedPod({ namespace: 'default' })).items[0]!;
    await c.core.deleteNamespacedPod({ namespace: 'default', name: victim.metadata!.name! });
    await until('a status commit refused with 409 Conflict', () => Promise.resolve(answered('PUT', '/rollouts/demo/status', 409)), (n) => n >= 1);
    await until('the Rollout listed again after the 410', () => metric(controller, 'graylane_informer_lists_total{kind="Rollout"}'), (n) => n > listsBefore);
    // The informer lists again only after a 410 Gone (a failed watch is re-watched): the count above is the 410's mark.
    await until('Healthy again, 3 available', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3);

    // A new revision with every kind of write failing at first.
    c.server.injectFault({ status: 500, times: 2, method: 'POST', pathIncludes: '/replicasets' });
    c.server.injectFault({ status: 429, times: 2, method: 'PUT', pathIncludes: '/rollouts/demo/status', retryAfterSeconds: 1 });
    c.server.injectFault({ status: 503, times: 2, method: 'PATCH', pathIncludes: '/services/' });
    const template = structuredClone(first.spec.template) as { spec: { containers: Array<{ image: string }> } };
    template.spec.containers[0]!.image = 'bebullish/demo:v2';
    await patchRolloutSpec(c, 'default', 'demo', { template });
    const paused = await until('v2 previewed and paused', () => readRollout(c, 'default', 'demo'),
      (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.blueGreen?.previewSelector === r.status.currentPodHash);
    const v2 = paused.status!.currentPodHash!;
    await until('demo-preview on v2', () => selectorHash(c, 'default', 'demo-preview'), (h) => h === v2);
    await operate(c, 'default', 'demo', { type: 'promote' });
    const done = await until('Healthy on v2', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.stableRS === v2 && r.status.availableReplicas === 3);
    expect(await selectorHash(c, 'default', 'demo-service')).toBe(v2);
    expect(await selectorHash(c, 'default', 'demo-preview')).toBe(v2);
    expect((await c.apps.listNamespacedReplicaSet({ namespace: 'default' })).items.map((rs) => rs.metadata?.name).sort()).toEqual([`demo-${v1}`, `demo-${v2}`].sort());
    // The rival's write is not lost to the controller's status writes.
    expect(done.metadata?.annotations?.['example.com/touched']).toBe('29');
    expect(answered('POST', '/replicasets', 500)).toBe(4);
    expect(answered('PUT', '/rollouts/demo/status', 429)).toBe(4);
    expect(answered('PATCH', '/services/', 503)).toBe(2);
    // At no status write did the Rollout say Healthy while demo-service selected another revision.
    claims.stop();
    expect(claims.claims.filter((x) => x.healthy === 'True').length).toBeGreaterThan(0);
    expect(claims.violations()).toEqual([]);
    expect(await metric(controller, 'graylane_reconcile_errors_total')).toBeGreaterThanOrEqual(4);
    expect(await metric(controller, 'graylane_informer_watch_restarts_total{kind="Rollout"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(controller, 'graylane_informer_watch_restarts_total{kind="Pod"}')).toBeGreaterThanOrEqual(1);
  });
  it('a write the API server never answers holds its pass only until the request timeout: the pass is logged while it hangs, then failed with a sentence and retried, and the rollout reaches Healthy', async () => {
    const c = (cluster = await startCluster());
    await apply(c, documents(seed('001-blue-green.yaml')));
    // A connection dropped without a word: the status write is never answered.
    c.server.injectFault({ status: 'hang', times: 1, method: 'PUT', pathIncludes: '/rollouts/demo/status' });
    const controller = await runController({ kubeConfig: c.kc, namespace: 'default', log, requestTimeoutMs: 2_000, slowPassWarnMs: 500 });
    controllers.push(controller);
    const held = await until('a pass held by the unanswered write', () => metric(controller, 'graylane_work_queue_longest_running_seconds'), (s) => s >= 0.5);
    expect(held).toBeLessThan(2.5);
    await until('Healthy on the first revision', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'reconcile pass still running', key: 'default/demo' }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'reconcile failed', key: 'default/demo', error: 'the status of rollout default/demo was not written: the Kubernetes API server did not answer within 2 s' }));
    expect(c.server.requests.filter((r) => r.method === 'PUT' && r.path.includes('/rollouts/demo/status') && r.status === undefined)).toHaveLength(1);
  });
  it('a write whose connection the API server closes as it arrives is sent again at once: no failed pass, counted in /metrics and logged', async () => {
    const c = (cluster = await startCluster());
    await apply(c, documents(seed('001-blue-green.yaml')));
    // The first status write meets a connection closed under it (a server ending a kept connection it found idle).
    c.server.injectFault({ status: 'reset', times: 1, method: 'PUT', pathIncludes: '/rollouts/demo/status' });
    const controller = await runController({ kubeConfig: c.kc, namespace: 'default', log });
    controllers.push(controller);
    await until('Healthy on the first revision', () => readRollout(c, 'default', 'demo'), (r) => r.status?.phase === 'Healthy' && r.status.availableReplicas === 3);
    const statusWrites = c.server.requests.filter((r) => r.method === 'PUT' && r.path.includes('/rollouts/demo/status'));
    // The reset one (never answered), then the same write sent again and answered.
    expect(statusWrites[0]!.status).toBeUndefined();
    expect(statusWrites[1]!.status).toBe(200);
    expect(await metric(controller, 'graylane_kube_requests_retried_total')).toBe(1);
    expect(await metric(controller, 'graylane_reconcile_errors_total')).toBe(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'request sent again: the API server closed its kept connection as it went out', method: 'PUT' }));
    expect(lines.filter((l) => l.msg === 'reconcile failed')).toEqual([]);
  });
  it('a Service patch that fails N times: never Healthy (nor stableRS, nor activeSelector) while demo-service selects another revision, Progressing with TrafficSwitchPending meanwhile, and Healthy once a patch lands', async () => {
    const c = (cluster = await startCluster());
    const claims = watchHealthyClaims(c, { namespace: 'default', rollout: 'demo', activeService: 'demo-service' });
    await apply(c, documents(seed('001-blue-green.yaml'), (d) => {
      if (d.kind === 'Rollout') (d.spec!.strategy as { blueGreen: Record<string, unknown> }).blueGreen.scaleDownDelaySeconds = 1;
      return d;
    }));
    const failures = 4;
    const answered = (status: number): number => c.server.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/services/demo-service') && r.status === status).length;
    // The first switch (demo-service has no hash yet) fails N times.
    c.server.injectFault({ status: 500, times: failures, method: 'PATCH', pathIncludes: '/services/demo-service' });
    const controller = await runController({ kubeConfig: c.kc, namespace: 'default', log });
    controllers.push(controller);
    const first = await until('Healthy on the first revision', () => readRollout(c, 'default', 'demo'), (r) => r.status?.conditions?.some((x) => x.type === 'Healthy' && x.status === 'True') === true);
    const v1 = first.status!.stableRS!;
    expect(claims.violations()).toEqual([]);
    expect(answered(500)).toBe(failures);
    expect(await selectorHash(c, 'default', 'demo-service')).toBe(v1);
    // While the patches failed, what was shown said why it was not Healthy yet.
    expect(claims.claims).toContainEqual(expect.objectContaining({ phase: 'Progressing', healthy: 'False', progressingReason: 'TrafficSwitchPending', currentPodHash: v1 }));

    // A new revision previewed, then the promotion's switch of demo-service fails N times.
    const template = structuredClone(first.spec.template) as { spec: { containers: Array<{ image: string }> } };
    template.spec.containers[0]!.image = 'bebullish/demo:v2';
    await patchRolloutSpec(c, 'default', 'demo', { template });
    const paused = await until('v2 previewed and paused', () => readRollout(c, 'default', 'demo'),
      (r) => r.status?.phase === 'Paused' && r.status.currentPodHash !== v1 && r.status.blueGreen?.previewSelector === r.status.currentPodHash);
    const v2 = paused.status!.currentPodHash!;
    c.server.injectFault({ status: 503, times: failures, method: 'PATCH', pathIncludes: '/services/demo-service' });
    const before = claims.claims.length;
    await operate(c, 'default', 'demo', { type: 'promote' });
    const done = await until('Healthy on v2', () => readRollout(c, 'default', 'demo'),
      (r) => r.status?.stableRS === v2 && r.status.conditions?.some((x) => x.type === 'Healthy' && x.status === 'True') === true, { timeoutMs: 20_000 });
    expect(answered(503)).toBe(failures);
    expect(await selectorHash(c, 'default', 'demo-service')).toBe(v2);
    expect(done.status).toMatchObject({ phase: 'Healthy', currentPodHash: v2, stableRS: v2, blueGreen: { activeSelector: v2 } });
    claims.stop();
    expect(claims.violations()).toEqual([]);
    // The switch was held in view while the Service still selected v1.
    const during = claims.claims.slice(before);
    expect(during).toContainEqual(expect.objectContaining({ healthy: 'False', selected: v1, activeSelector: v1 }));
    expect(during.filter((x) => x.healthy === 'True').every((x) => x.selected === v2)).toBe(true);
  });
});
