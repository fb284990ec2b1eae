import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { ReplicaSet } from 'kubernetes-models/apps/v1';
import { afterEach, describe, expect, it } from 'vitest';
import { retryAfterMsOf } from '../../lib/retry-after.js';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import type { KubeObject } from '../../../test/fixtures/kube/object-store.js';
import { SimulatedWorkloads, type PodBehaviour } from '../../../test/fixtures/kube/simulated-workloads.js';
import { customResourceDefinition } from '../../documents/crds.js';
import { GRAYLANE_API_VERSION, POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../../kube/names.js';
import { describeRuntimeConformance } from '../runtime.case.test.js';
import type { InstanceChange } from '../runtime.js';
import { waitForInstances } from '../wait.js';
import { KubernetesRuntime, type KubernetesRuntimeOptions } from './kubernetes-runtime.js';
import type { KubernetesRevisionTemplate } from './replica-set-body.js';

const NS = 'default';

interface Env {
  server: FakeApiServer;
  sim: SimulatedWorkloads;
  kubeConfig: KubeConfig;
  replicaSets: ListCache<V1ReplicaSet>;
  pods: ListCache<V1Pod>;
  /** Refreshes both caches now (tests that do not keep them following the cluster). */
  refresh(): Promise<void>;
  /** The Rollout `name`'s template for revision `revision`. */
  rollout(name: string, options?: { minReadySeconds?: number; image?: string; revisionNumber?: number }): KubernetesRevisionTemplate;
  apps: AppsV1Api;
  core: CoreV1Api;
  dispose(): Promise<void>;
}

/**
 * The fake cluster with graylane's Rollout CRD, the simulated ReplicaSet controller and kubelet,
 * and list caches; with `follow`, the caches refresh after every change of the cluster, as an
 * informer would follow a watch.
 */
async function environment(options: { podBehaviour?: (pod: KubeObject) => PodBehaviour; follow?: boolean; kubeConfig?: (server: FakeApiServer) => KubeConfig } = {}): Promise<Env> {
  const server = await FakeApiServer.start();
  const { cluster } = server;
  cluster.create({ type: cluster.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'), body: customResourceDefinition('Rollout') });
  const sim = SimulatedWorkloads.start({ cluster, podBehaviour: options.podBehaviour ?? (() => ({ kind: 'ready', afterMs: 30 })) });
  const kubeConfig = options.kubeConfig?.(server) ?? kubeConfigFor({ server });
  const direct = kubeConfigFor({ server });
  const replicaSets = new ListCache<V1ReplicaSet>({ kubeConfig: direct, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  const pods = new ListCache<V1Pod>({ kubeConfig: direct, apiVersion: 'v1', kind: 'Pod' });
  const refresh = async () => {
    await replicaSets.refresh();
    await pods.refresh();
  };
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const follow = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = refresh().catch(() => undefined).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        follow();
      }
    });
  };
  const unsubscribe = options.follow ? cluster.store.subscribe(() => follow()) : () => {};
  await refresh();
  const rolloutType = cluster.type('graylane.dev', 'v1alpha1', 'rollouts');
  return {
    server, sim, kubeConfig, replicaSets, pods, refresh,
    apps: direct.makeApiClient(AppsV1Api),
    core: direct.makeApiClient(CoreV1Api),
    rollout(name, o = {}) {
      const labels = { app: name };
      const podTemplate = { metadata: { labels }, spec: { containers: [{ name: 'app', image: o.image ?? `${name}:1`, ports: [{ containerPort: 8080 }] }] } };
      const existing = cluster.store.get('graylane.dev/rollouts', NS, name);
      const created = existing ?? cluster.create({
        type: rolloutType, namespace: NS,
        body: { apiVersion: GRAYLANE_API_VERSION, kind: 'Rollout', metadata: { name }, spec: { replicas: 1, selector: { matchLabels: labels }, template: podTemplate, strategy: { canary: {} } } },
      });
      return {
        podTemplate, selector: labels, revisionNumber: o.revisionNumber ?? 1,
        owner: { apiVersion: GRAYLANE_API_VERSION, kind: 'Rollout', name, uid: created.metadata.uid! },
        ...(o.minReadySeconds === undefined ? {} : { minReadySeconds: o.minReadySeconds }),
      };
    },
    async dispose() {
      closed = true;
      unsubscribe();
      sim.stop();
      await running;
      await server.close();
    },
  };
}

/**
 * The pod network, as far as a test can have one: `GET /<ip>:<port>/` answers 200 exactly while
 * the fake cluster holds a running pod with that IP declaring that port, and 503 otherwise.
 */
async function podNetwork(server: FakeApiServer): Promise<{ urlOf: (address: string) => string; close: () => Promise<void> }> {
  const stand = http.createServer((req, res) => {
    const [ip, port] = decodeURIComponent((req.url ?? '/').slice(1).replace(/\/$/, '')).split(':');
    const serving = server.cluster.store.list('/pods').some((p) => {
      const status = p.status as { podIP?: string; phase?: string } | undefined;
      const ports = ((p.spec as { containers?: Array<{ ports?: Array<{ containerPort: number }> }> }).containers ?? []).flatMap((c) => c.ports ?? []);
      return status?.podIP === ip && status?.phase === 'Running' && ports.some((x) => String(x.containerPort) === port) && p.metadata.deletionTimestamp === undefined;
    });
    res.writeHead(serving ? 200 : 503).end();
  });
  await new Promise<void>((r) => stand.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
  return {
    urlOf: (address) => `${base}/${encodeURIComponent(address)}/`,
    close: () => new Promise((r) => { stand.closeAllConnections(); stand.close(() => r()); }),
  };
}

describeRuntimeConformance<KubernetesRevisionTemplate>('kubernetes (fake API server, simulated pods ready after 30 ms)', async () => {
  const env = await environment({ follow: true });
  const net = await podNetwork(env.server);
  const template = env.rollout('svc');
  return {
    runtime: new KubernetesRuntime({ kubeConfig: env.kubeConfig, replicaSets: env.replicaSets, pods: env.pods }),
    template,
    // One: the simulated kubelet gives pods started together the same IP, and the graceful-stop
    // case checks that the stopped instance's address no longer answers.
    replicas: 1,
    urlOf: net.urlOf,
    async dispose() {
      await net.close();
      await env.dispose();
    },
  };
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: Parameters<typeof environment>[0] & Partial<Pick<KubernetesRuntimeOptions, 'nowMs' | 'settleTimeoutMs'>> = {}): Promise<{ env: Env; runtime: KubernetesRuntime }> {
  const env = await environment({ follow: true, ...options });
  cleanups.push(() => env.dispose());
  const runtime = new KubernetesRuntime({
    kubeConfig: env.kubeConfig, replicaSets: env.replicaSets, pods: env.pods,
    ...(options.nowMs ? { nowMs: options.nowMs } : {}), ...(options.settleTimeoutMs ? { settleTimeoutMs: options.settleTimeoutMs } : {}),
  });
  cleanups.push(() => runtime.shutdown({ stopInstances: false }));
  return { env, runtime };
}

async function until<T>(read: () => T | Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until the simulated ReplicaSet controller has nothing left to write for `name` (its pods
 * ready, its status current): its status writes change the resourceVersion, and a test that
 * writes next must not race them into a second conflict.
 */
async function quiet(env: Env, name: string): Promise<void> {
  await until(() => env.server.cluster.store.get('apps/replicasets', NS, name), (rs) => {
    const spec = rs?.spec as { replicas?: number } | undefined;
    const status = rs?.status as { readyReplicas?: number; replicas?: number; observedGeneration?: number } | undefined;
    return status?.observedGeneration === rs?.metadata.generation && status?.replicas === spec?.replicas && (status?.readyReplicas ?? 0) === spec?.replicas;
  }, `ReplicaSet ${name} to settle`);
}

describe('KubernetesRuntime', () => {
  it('writes the ReplicaSet <rollout>-<hash>, labelled by hash on itself, its selector and its pods, owned by the Rollout, with the revision annotation', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web', { minReadySeconds: 3, revisionNumber: 4 });
    const instances = await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'abc123', template, replicas: 2 });
    const rs = await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-abc123' });
    expect(rs.metadata?.labels).toEqual({ app: 'web', [POD_TEMPLATE_HASH_LABEL]: 'abc123' });
    expect(rs.spec?.selector.matchLabels).toEqual({ app: 'web', [POD_TEMPLATE_HASH_LABEL]: 'abc123' });
    // Istio's canonical revision on the pods only: the guard's Istio queries tell canary from stable by it.
    expect(rs.spec?.template?.metadata?.labels).toEqual({ app: 'web', [POD_TEMPLATE_HASH_LABEL]: 'abc123', 'service.istio.io/canonical-revision': 'abc123' });
    expect(rs.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('4');
    expect(rs.spec?.minReadySeconds).toBe(3);
    expect(rs.metadata?.ownerReferences).toEqual([{ apiVersion: GRAYLANE_API_VERSION, kind: 'Rollout', name: 'web', uid: template.owner.uid, controller: true, blockOwnerDeletion: true }]);
    // What the fake stored passes the official schema (the fake validated it on write as well).
    expect(() => new ReplicaSet(env.server.cluster.store.get('apps/replicasets', NS, 'web-abc123') as never).validate()).not.toThrow();
    expect(instances).toHaveLength(2);
    const pods = await env.core.listNamespacedPod({ namespace: NS, labelSelector: `${POD_TEMPLATE_HASH_LABEL}=abc123` });
    expect(pods.items.map((p) => `${NS}/${p.metadata?.name}`).sort()).toEqual(instances.map((i) => i.id).sort());
    for (const i of instances) expect(i).toMatchObject({ namespace: NS, service: 'web', revision: 'abc123', restarts: 0 });
  });

  it('scales a ReplicaSet to 0 instead of deleting it, and updates the revision annotation', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 });
    await quiet(env, 'web-r1');
    expect(await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: { ...template, revisionNumber: 3 }, replicas: 0 })).toEqual([]);
    const rs = await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' });
    expect(rs.spec?.replicas).toBe(0);
    expect(rs.metadata?.annotations?.[REVISION_ANNOTATION]).toBe('3');
  });

  it('reports crash-looping pods as failed, with their restarts and the reason', async () => {
    const { env, runtime } = await setup({ podBehaviour: () => ({ kind: 'crash-loop', restartEveryMs: 40 }) });
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'bad', template: env.rollout('web'), replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'failed' && l[0].restarts >= 3, { service: 'web', timeoutMs: 10_000 });
    expect(inst!.restartsSinceReady).toBe(inst!.restarts);
    expect(inst!.lastError).toBe('container app: CrashLoopBackOff');
  });

  it('keeps never-ready pods starting, with no error, and routes nothing to a pod with no IP yet', async () => {
    const { env, runtime } = await setup({ podBehaviour: () => ({ kind: 'never-ready' }) });
    const listed = await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'stuck', template: env.rollout('web'), replicas: 1 });
    expect(listed).toHaveLength(1);
    const [running] = await waitForInstances(runtime, (l) => /^10\.244\.0\.\d+:8080$/.test(l[0]?.address ?? ''), { service: 'web', timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 200));
    expect(runtime.listInstances({ service: 'web' })).toEqual([{ ...running, state: 'starting' }]);
    expect(running!.lastError).toBeUndefined();
  });

  it('lists a pod without an IP at <pod>:0 so that it counts but is not routed', async () => {
    // The kubelet is not started for it: simulated pods get no status while the caches are stale.
    const { env, runtime } = await setup({ podBehaviour: () => ({ kind: 'never-ready' }) });
    env.sim.stop();
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: env.rollout('web'), replicas: 0 });
    const rs = env.server.cluster.store.get('apps/replicasets', NS, 'web-r1')!;
    env.server.cluster.create({
      type: env.server.cluster.type('', 'v1', 'pods'), namespace: NS,
      body: { metadata: { name: 'web-r1-x', labels: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: 'r1' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-r1', uid: rs.metadata.uid!, controller: true }] }, spec: { containers: [{ name: 'app', image: 'web:1' }] } },
    });
    const [inst] = await waitForInstances(runtime, (l) => l.length === 1, { service: 'web', timeoutMs: 5_000 });
    expect(inst).toMatchObject({ id: `${NS}/web-r1-x`, address: 'web-r1-x:0', state: 'starting' });
  });

  it('counts a pod ready only once it has been ready for minReadySeconds', async () => {
    let now = Date.now();
    const { env, runtime } = await setup({ nowMs: () => now });
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: env.rollout('web', { minReadySeconds: 30 }), replicas: 1 });
    await until(() => env.pods.list()[0], (p) => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true, 'a Ready pod in the cache');
    now = Date.now();
    expect(runtime.listInstances({ service: 'web' })[0]!.state).toBe('starting');
    // The Ready condition's time has second precision: 28 s after it, not 30 s.
    now += 28_000;
    expect(runtime.listInstances({ service: 'web' })[0]!.state).toBe('starting');
    now += 3_000;
    expect(runtime.listInstances({ service: 'web' })[0]!.state).toBe('ready');
  });

  it('announces the moment minReadySeconds completes, which no pod change does', async () => {
    const { env, runtime } = await setup();
    const changes: InstanceChange[] = [];
    runtime.on('change', (c) => changes.push(c));
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: env.rollout('web', { minReadySeconds: 2 }), replicas: 1 });
    await until(() => env.pods.list()[0], (p) => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true, 'a Ready pod in the cache');
    expect(changes.filter((c) => c.instance.state === 'ready')).toEqual([]);
    await until(() => changes.filter((c) => c.instance.state === 'ready'), (l) => l.length === 1, 'the ready change', 4_000);
  });

  it('refuses a ReplicaSet of that name owned by something else, and leaves it alone', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    const labels = { app: 'web', [POD_TEMPLATE_HASH_LABEL]: 'r1' };
    await env.apps.createNamespacedReplicaSet({ namespace: NS, body: { metadata: { name: 'web-r1', labels }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'other:1' }] } } } } });
    await env.refresh();
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 3 })).rejects.toMatchObject({
      code: 'ForeignReplicaSet',
      message: 'ReplicaSet default/web-r1 exists with no controlling owner, not owned by Rollout web; graylane does not take over a ReplicaSet it did not create for this Rollout: delete or rename it',
    });
    expect((await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' })).spec?.replicas).toBe(1);
    expect(runtime.listInstances()).toEqual([]);
  });

  it('refuses its own Rollout’s ReplicaSet of that name when it runs another template', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    const other = { ...template, podTemplate: { ...template.podTemplate, spec: { containers: [{ name: 'app', image: 'web:2' }] } } };
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: other, replicas: 2 })).rejects.toMatchObject({
      code: 'ForeignReplicaSet', message: expect.stringContaining('belongs to Rollout web but runs another pod template than revision r1') as string,
    });
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: { ...template, owner: { ...template.owner, uid: 'another-uid' } }, replicas: 2 }))
      .rejects.toMatchObject({ code: 'ForeignReplicaSet', message: expect.stringContaining(`is owned by Rollout web (uid ${template.owner.uid}), not by Rollout web (uid another-uid)`) as string });
  });

  it('survives a conflict: a stale cache is re-read and the update retried once', async () => {
    const { env, runtime } = await setup({ follow: false, settleTimeoutMs: 100 });
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    await quiet(env, 'web-r1');
    await env.refresh();
    // Another writer changes the ReplicaSet; the cache still holds the old resourceVersion.
    const rs = await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' });
    await env.apps.replaceNamespacedReplicaSet({ namespace: NS, name: 'web-r1', body: { ...rs, metadata: { ...rs.metadata, labels: { ...rs.metadata?.labels, team: 'a' } } } });
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 });
    const after = await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' });
    expect(after.spec?.replicas).toBe(2);
    expect(after.metadata?.labels?.team).toBe('a');
    expect(env.server.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/apis/apps/v1/namespaces/default/replicasets/web-r1')).length).toBe(2 + 1);
  });

  it('creates over a lagging cache: AlreadyExists is re-read and becomes an update', async () => {
    const { env, runtime } = await setup({ follow: false, settleTimeoutMs: 100 });
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    await quiet(env, 'web-r1');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 });
    expect((await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' })).spec?.replicas).toBe(2);
  });

  it('gives up with a typed error when the write conflicts again after the retry', async () => {
    const proxy = await faultyProxy();
    cleanups.push(() => proxy.close());
    const { env, runtime } = await setup({ kubeConfig: (server) => proxy.kubeConfig(server) });
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    proxy.fault = (method, path) => (method === 'PUT' && path.includes('/replicasets/') ? 409 : undefined);
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 })).rejects.toMatchObject({
      code: 'ReplicaSetConflict',
      message: 'ReplicaSet default/web-r1 was changed by another writer twice while graylane updated it (409 Conflict); the next reconcile tries again',
    });
    // A shutdown that scales to 0 gives up the same way.
    await expect(runtime.shutdown({ stopInstances: true })).rejects.toMatchObject({ code: 'ReplicaSetConflict' });
  });

  it('reports a refused update, a failed re-read and refused pod deletions as typed errors', async () => {
    const proxy = await faultyProxy();
    cleanups.push(() => proxy.close());
    const { env, runtime } = await setup({ kubeConfig: (server) => proxy.kubeConfig(server) });
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'ready', { service: 'web', timeoutMs: 5_000 });
    proxy.fault = (method, path) => (method === 'PUT' && path.includes('/replicasets/') ? 403 : undefined);
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 })).rejects.toMatchObject({
      code: 'KubernetesWrite', statusCode: 403, message: 'update ReplicaSet default/web-r1 failed: HTTP 403: injected Forbidden',
    });
    proxy.fault = (method, path) => (method === 'PUT' && path.includes('/replicasets/') ? 409 : method === 'GET' && path.includes('/replicasets/web-r1') ? 500 : undefined);
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 2 })).rejects.toMatchObject({
      code: 'KubernetesWrite', statusCode: 500, message: 'read ReplicaSet default/web-r1 failed: HTTP 500: injected InternalError',
    });
    proxy.fault = (method) => (method === 'DELETE' ? 403 : undefined);
    await expect(runtime.stopInstance({ id: inst!.id })).rejects.toMatchObject({ code: 'KubernetesWrite', message: `delete Pod ${inst!.id} failed: HTTP 403: injected Forbidden` });
    expect(runtime.listInstances().map((i) => [i.id, i.state])).toEqual([[inst!.id, 'ready']]);
    await expect(runtime.restartPods({ namespace: NS, service: 'web', before: Date.now() + 5_000 })).rejects.toMatchObject({
      code: 'KubernetesWrite', message: `delete Pod ${inst!.id} to restart it failed: HTTP 403: injected Forbidden`,
    });
    proxy.fault = () => undefined;
    await quiet(env, 'web-r1');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 0 });
    proxy.fault = (method) => (method === 'DELETE' ? 403 : undefined);
    await expect(runtime.removeRevision({ namespace: NS, service: 'web', revision: 'r1' })).rejects.toMatchObject({
      code: 'KubernetesWrite', message: 'delete ReplicaSet default/web-r1 failed: HTTP 403: injected Forbidden',
    });
  });

  it('stops an instance even when the beforeStop hook throws', async () => {
    const { env, runtime } = await setup();
    const [inst] = await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: env.rollout('web'), replicas: 1 });
    await runtime.stopInstance({ id: inst!.id, beforeStop: () => { throw new Error('router gone'); } });
    expect(runtime.listInstances().map((i) => i.id)).not.toContain(inst!.id);
  });

  it('turns an API refusal into a typed error with the server’s message', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    await expect(runtime.ensureInstances({ namespace: 'nowhere', service: 'web', revision: 'r1', template, replicas: 1 })).rejects.toMatchObject({
      code: 'KubernetesWrite', statusCode: 404, message: expect.stringMatching(/^create ReplicaSet nowhere\/web-r1 failed: HTTP 404: namespaces "nowhere" not found/) as string,
    });
    const bad = { ...template, selector: { app: 'not-web' } };
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r2', template: bad, replicas: 1 })).rejects.toMatchObject({ code: 'KubernetesWrite', statusCode: 422 });
  });

  it('a write the server sheds (429 or 503 with Retry-After) is a typed error carrying the delay it asked for', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    env.server.injectFault({ status: 429, method: 'POST', pathIncludes: '/replicasets', retryAfterSeconds: 2 });
    const created = await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 }).then(() => undefined, (e: unknown) => e);
    expect(created).toMatchObject({ code: 'KubernetesWrite', statusCode: 429, retryAfterMs: 2000, message: expect.stringContaining('create ReplicaSet default/web-r1 failed: HTTP 429') });
    expect(retryAfterMsOf(created)).toBe(2000);
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    env.server.injectFault({ status: 503, method: 'PUT', pathIncludes: '/replicasets/web-r1', retryAfterSeconds: 1 });
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 0 })).rejects.toMatchObject({ statusCode: 503, retryAfterMs: 1000 });
    // A refusal that asks for no delay names none.
    env.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/replicasets/web-r1' });
    await expect(runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 0 })).rejects.toMatchObject({ statusCode: 500, retryAfterMs: undefined });
  });

  it('rejects a template it cannot own: no owner uid, a revision number below 1, a negative minReadySeconds', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    const ensure = (t: KubernetesRevisionTemplate) => runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: t, replicas: 1 });
    await expect(ensure({ ...template, owner: { ...template.owner, uid: '' } })).rejects.toMatchObject({ code: 'RuntimeInput', message: expect.stringContaining('needs a name and a uid') as string });
    await expect(ensure({ ...template, revisionNumber: 0 })).rejects.toMatchObject({ code: 'RuntimeInput', message: 'revisionNumber must be a whole number from 1, not 0' });
    await expect(ensure({ ...template, minReadySeconds: -1 })).rejects.toMatchObject({ code: 'RuntimeInput', message: 'minReadySeconds must be a whole number from 0, not -1' });
    expect(env.server.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('restarts one pod at a time, only while the others of its revision are ready', async () => {
    const { env, runtime } = await setup({ podBehaviour: () => ({ kind: 'ready', afterMs: 150 }) });
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template: env.rollout('web'), replicas: 3 });
    const original = (await waitForInstances(runtime, (l) => l.length === 3 && l.every((i) => i.state === 'ready'), { service: 'web', timeoutMs: 5_000 })).map((i) => i.id);
    const before = Math.ceil((Date.now() + 1) / 1000) * 1000;
    await new Promise((r) => setTimeout(r, before - Date.now() + 5));
    const first = await runtime.restartPods({ namespace: NS, service: 'web', before });
    expect(first).toMatchObject({ more: true });
    expect(original).toContain(first.restarted);
    // Its replacement is not ready yet: nothing else goes.
    await until(() => runtime.listInstances({ service: 'web' }), (l) => l.length === 3 && l.some((i) => i.state !== 'ready'), 'the replacement');
    expect(await runtime.restartPods({ namespace: NS, service: 'web', before })).toEqual({ more: true });
    const restarted: string[] = [first.restarted!];
    for (;;) {
      await waitForInstances(runtime, (l) => l.length === 3 && l.every((i) => i.state === 'ready'), { service: 'web', timeoutMs: 5_000 });
      const step = await runtime.restartPods({ namespace: NS, service: 'web', before });
      if (step.restarted) restarted.push(step.restarted);
      if (!step.more) break;
    }
    expect(restarted.sort()).toEqual([...original].sort());
    const now = await waitForInstances(runtime, (l) => l.length === 3 && l.every((i) => i.state === 'ready'), { service: 'web', timeoutMs: 5_000 });
    expect(now.filter((i) => original.includes(i.id))).toEqual([]);
    expect(await runtime.restartPods({ namespace: NS, service: 'web', before })).toEqual({ more: false });
  });

  it('removes a retired revision’s ReplicaSet and its pods, only once scaled to 0', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    await expect(runtime.removeRevision({ namespace: NS, service: 'web', revision: 'r1' })).rejects.toMatchObject({
      code: 'RuntimeInput', message: 'ReplicaSet default/web-r1 still wants 1 pods; scale revision r1 to 0 before removing it',
    });
    await quiet(env, 'web-r1');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 0 });
    await runtime.removeRevision({ namespace: NS, service: 'web', revision: 'r1' });
    await expect(env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' })).rejects.toMatchObject({ code: 404 });
    await runtime.removeRevision({ namespace: NS, service: 'web', revision: 'r1' });
  });

  it('does not remove a ReplicaSet that another Rollout controls', async () => {
    const { env, runtime } = await setup();
    await runtime.ensureInstances({ namespace: NS, service: 'api', revision: 'r1', template: env.rollout('api'), replicas: 0 });
    await env.apps.createNamespacedReplicaSet({ namespace: NS, body: { metadata: { name: 'web-r1', labels: { a: 'b' } }, spec: { replicas: 0, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'c' }] } } } } });
    await until(() => env.replicaSets.get(NS, 'web-r1'), (r) => r !== undefined, 'the cache');
    await expect(runtime.removeRevision({ namespace: NS, service: 'web', revision: 'r1' })).rejects.toMatchObject({ code: 'ForeignReplicaSet' });
    expect((await env.apps.readNamespacedReplicaSet({ namespace: NS, name: 'web-r1' })).metadata?.name).toBe('web-r1');
  });

  it('tells stopping pods apart and reports a deleted one as stopped', async () => {
    const { env, runtime } = await setup();
    const template = env.rollout('web');
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 1 });
    const [inst] = await waitForInstances(runtime, (l) => l[0]?.state === 'ready', { service: 'web', timeoutMs: 5_000 });
    const changes: InstanceChange[] = [];
    runtime.on('change', (c) => changes.push(c));
    await runtime.ensureInstances({ namespace: NS, service: 'web', revision: 'r1', template, replicas: 0 });
    expect(changes.filter((c) => c.instance.id === inst!.id).map((c) => [c.previousState, c.instance.state])).toEqual([['ready', 'stopped']]);
  });
});

/** An HTTP proxy to the fake that answers what `fault` names (a status code) instead of forwarding, as a busy or strict cluster might. */
async function faultyProxy(): Promise<{ fault: (method: string, path: string) => number | undefined; kubeConfig: (server: FakeApiServer) => KubeConfig; close: () => Promise<void> }> {
  let target = '';
  const state = {
    fault: (_method: string, _path: string): number | undefined => undefined,
    kubeConfig(server: FakeApiServer): KubeConfig {
      target = server.url;
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'proxy', server: url, skipTLSVerify: true }], users: [{ name: 'u' }],
        contexts: [{ name: 'proxy', cluster: 'proxy', user: 'u', namespace: NS }], currentContext: 'proxy',
      });
      return kc;
    },
    close: () => new Promise<void>((r) => { proxy.closeAllConnections(); proxy.close(() => r()); }),
  };
  const proxy = http.createServer((req, res) => {
    const code = state.fault(req.method ?? 'GET', req.url ?? '/');
    if (code !== undefined) {
      req.resume();
      const reason = code === 409 ? 'Conflict' : code === 403 ? 'Forbidden' : 'InternalError';
      res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message: `injected ${reason}` }));
      return;
    }
    const upstream = http.request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return state;
}
