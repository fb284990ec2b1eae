import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig, V1ReplicaSet } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { retryAfterMsOf } from '../../lib/retry-after.js';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { kubeConfigFor, writeKubeconfig } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { rawRequest } from '../../../test/fixtures/kube/raw-request.js';
import { customResourceDefinition } from '../../documents/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { initialStatus, type RolloutStatus } from '../../engine/index.js';
import { readRecordedEvent } from '../../kube/event-recorder.js';
import { fullStatus, fullTraffic, statePortConformance } from '../state-port.case.test.js';
import { StateConflictError, type ObjectKey } from '../state-port.js';
import { KubernetesState, type RolloutObject } from './kubernetes-state.js';
import type { ReleaseObject } from './kubernetes-release-state.js';
import { eventsAbout } from '../../../test/fixtures/kube/recorded-events.js';

const spec: RolloutSpec = {
  replicas: 2, selector: { matchLabels: { app: 'web' } },
  template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
  strategy: { canary: { canaryService: 'web-canary', stableService: 'web-stable', steps: [{ setWeight: 20 }, { pause: {} }] } },
};

/** A fake API server with graylane's CRDs, Rollouts named by `keys`, list caches and the adapter. */
interface Cluster {
  server: FakeApiServer;
  kubeConfig: KubeConfig;
  rollouts: ListCache<RolloutObject>;
  replicaSets: ListCache<V1ReplicaSet>;
  state: KubernetesState;
  clock: { nowMs: number };
  close(): Promise<void>;
}

async function post(server: FakeApiServer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await rawRequest({ server, method: 'POST', path, body });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function startCluster(keys: ObjectKey[]): Promise<Cluster> {
  const server = await FakeApiServer.start();
  await post(server, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', customResourceDefinition('Rollout'));
  for (const ns of new Set(keys.map((k) => k.namespace))) {
    if (ns !== 'default') await post(server, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const k of keys) {
    await post(server, `/apis/graylane.dev/v1alpha1/namespaces/${k.namespace}/rollouts`, { apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', metadata: { name: k.name }, spec });
  }
  const kubeConfig = kubeConfigFor({ server });
  const rollouts = new ListCache<RolloutObject>({ kubeConfig, apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout' });
  const replicaSets = new ListCache<V1ReplicaSet>({ kubeConfig, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  await Promise.all([rollouts.refresh(), replicaSets.refresh()]);
  const clock = { nowMs: Date.parse('2026-05-01T10:00:00Z') };
  const state = new KubernetesState({ kubeConfig, rollouts, replicaSets, nowMs: () => clock.nowMs });
  return { server, kubeConfig, rollouts, replicaSets, state, clock, close: () => server.close() };
}

async function stored(server: FakeApiServer, key: ObjectKey): Promise<RolloutObject> {
  return (await rawRequest({ server, path: `/apis/graylane.dev/v1alpha1/namespaces/${key.namespace}/rollouts/${key.name}` })).body as RolloutObject;
}

const web: ObjectKey = { namespace: 'default', name: 'web' };

statePortConformance('kubernetes (fake API server, graylane CRDs)', async () => {
  const c = await startCluster([{ namespace: 'default', name: 'api' }, { namespace: 'default', name: 'web' }, { namespace: 'team-b', name: 'api' }]);
  // Releases live in Release objects: the suite's `shop` exists in both namespaces.
  await post(c.server, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', customResourceDefinition('Release'));
  for (const ns of ['default', 'team-b']) {
    await post(c.server, `/apis/graylane.dev/v1alpha1/namespaces/${ns}/releases`, { apiVersion: 'graylane.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' }, spec: { services: ['web', 'api'], strategy: { canary: { steps: [{ setWeight: 20 }] } } } });
  }
  const releases = new ListCache<ReleaseObject>({ kubeConfig: c.kubeConfig, apiVersion: 'graylane.dev/v1alpha1', kind: 'Release' });
  await releases.refresh();
  const state = new KubernetesState({ kubeConfig: c.kubeConfig, rollouts: c.rollouts, replicaSets: c.replicaSets, nowMs: () => c.clock.nowMs, releases });
  return { state, recordedEvents: async (k) => (await eventsAbout({ ...c, state }, k)).map(readRecordedEvent), close: () => c.close() };
});

describe('KubernetesState', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it('stores the engine\'s memory and Argo\'s fields in the status, nothing pruned by the CRD schema', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus(), traffic: fullTraffic() }, 0);
    const object = await stored(cluster.server, web);
    expect(object.status?.graylane).toEqual({ version: 1, engine: JSON.parse(JSON.stringify(fullStatus())), traffic: JSON.parse(JSON.stringify(fullTraffic())) });
    expect(object.status).toMatchObject({
      phase: 'Paused', message: 'paused at step 2', observedGeneration: 1, currentPodHash: 'bbb', stableRS: 'aaa', currentStepIndex: 2,
      canary: { weights: { canary: { weight: 20, podTemplateHash: 'bbb', serviceName: 'web-canary' }, stable: { weight: 80, podTemplateHash: 'aaa', serviceName: 'web-stable' }, verified: true } },
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '1970-01-01T00:00:01Z' }], controllerPause: true, abort: false,
      replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0, selector: 'app=web',
    });
    expect(object.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Progressing', 'Unknown', 'RolloutPaused'], ['Available', 'False', 'AvailableReason'], ['Paused', 'True', 'RolloutPaused'],
      ['Healthy', 'False', 'RolloutHealthy'], ['Completed', 'False', 'RolloutCompleted'],
    ]);
    // What the server stored is what a fresh adapter (after a restart) reads back.
    await cluster.rollouts.refresh();
    const restarted = new KubernetesState({ kubeConfig: cluster.kubeConfig, rollouts: cluster.rollouts, replicaSets: cluster.replicaSets });
    expect(await restarted.load(web)).toEqual({ key: web, status: fullStatus(), traffic: fullTraffic(), version: 1 });
  });

  it('a rival write of the status between load and commit is a conflict, and nothing of the commit is written', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    await cluster.rollouts.refresh();
    const rival = new KubernetesState({ kubeConfig: cluster.kubeConfig, rollouts: cluster.rollouts, replicaSets: cluster.replicaSets });
    await rival.commit(web, { status: fullStatus({ message: 'rival' }) }, 1);
    // Our adapter has not seen the rival's write: it decides on version 1 and is refused by the server (409).
    const refused = cluster.state.commit(web, { status: fullStatus({ message: 'mine' }), events: [{ atMs: 1, level: 'info', reason: 'Mine', message: 'm' }] }, 1);
    await expect(refused).rejects.toBeInstanceOf(StateConflictError);
    await expect(refused).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    expect((await stored(cluster.server, web)).status).toMatchObject({ message: 'rival', graylane: { version: 2 } });
    expect(await eventsAbout(cluster, web)).toEqual([]);
    // Reloaded, the adapter decides on the rival's version and lands.
    expect(await cluster.state.load(web)).toMatchObject({ version: 2, status: { message: 'rival' } });
    await expect(cluster.state.commit(web, { status: fullStatus({ message: 'mine' }) }, 2)).resolves.toMatchObject({ version: 3 });
  });

  it('a conflict whose fresh read fails still refuses the commit, naming the version the cache shows', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    await cluster.rollouts.refresh();
    const rival = new KubernetesState({ kubeConfig: cluster.kubeConfig, rollouts: cluster.rollouts, replicaSets: cluster.replicaSets });
    await rival.commit(web, { status: fullStatus({ message: 'rival' }) }, 1);
    // The read after the 409 fails (a 500): the conflict stands, with what the cache knows.
    cluster.server.cluster.get = () => { throw new Error('etcd unavailable'); };
    await expect(cluster.state.commit(web, { status: fullStatus() }, 1)).rejects.toMatchObject({ code: 'StateConflict', expectedVersion: 1, actualVersion: 1 });
    expect((await cluster.rollouts.refresh().then(() => cluster!.rollouts.get('default', 'web')))?.status?.message).toBe('rival');
  });

  it('a person\'s edit of the Rollout between load and commit (another resourceVersion) is a conflict too', async () => {
    cluster = await startCluster([web]);
    const res = await rawRequest({ server: cluster.server, method: 'PATCH', path: '/apis/graylane.dev/v1alpha1/namespaces/default/rollouts/web', contentType: 'application/merge-patch+json', body: { spec: { replicas: 5 } } });
    expect(res.status).toBe(200);
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'StateConflict', expectedVersion: 0, actualVersion: 0 });
    await cluster.rollouts.refresh();
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).resolves.toMatchObject({ version: 1 });
  });

  it('after a commit the lagging cache does not hide it: the next pass loads and commits on the version it wrote', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    expect(cluster.rollouts.get('default', 'web')?.status?.graylane).toBeUndefined();
    expect((await cluster.state.load(web))?.version).toBe(1);
    await cluster.state.commit(web, { status: fullStatus({ currentStepIndex: 1 }) }, 1);
    // Once the cache catches up, its copy is the one read.
    await cluster.rollouts.refresh();
    expect(await cluster.state.load(web)).toMatchObject({ version: 2, status: { currentStepIndex: 1 } });
  });

  it('an idle record is not rewritten: loading does not write, and a record whose counts match is not stale', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    await cluster.rollouts.refresh();
    const writes = () => cluster!.server.requests.filter((r) => r.method !== 'GET').length;
    const before = writes();
    for (let i = 0; i < 3; i++) expect((await cluster.state.load(web))?.stale).toBeUndefined();
    expect(writes()).toBe(before);
  });

  it('a record whose replica counts differ from its ReplicaSets\' now loads stale, until a commit writes them', async () => {
    cluster = await startCluster([web]);
    const engine: RolloutStatus = { ...initialStatus(0), phase: 'Healthy', stableRevision: 'aaa', canaryRevision: 'aaa', weights: { canary: 0, stable: 100 } };
    await cluster.state.commit(web, { status: engine }, 0);
    const uid = (await stored(cluster.server, web)).metadata!.uid!;
    await post(cluster.server, '/apis/apps/v1/namespaces/default/replicasets', {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: 'web-aaa', labels: { app: 'web', 'rollouts-pod-template-hash': 'aaa' }, ownerReferences: [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: 'web', uid, controller: true }] },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web', 'rollouts-pod-template-hash': 'aaa' } }, template: { metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': 'aaa' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } } },
    });
    const status = await rawRequest({ server: cluster.server, method: 'PATCH', path: '/apis/apps/v1/namespaces/default/replicasets/web-aaa/status', contentType: 'application/merge-patch+json', body: { status: { replicas: 2, readyReplicas: 2, availableReplicas: 2 } } });
    expect(status.status).toBe(200);
    await Promise.all([cluster.rollouts.refresh(), cluster.replicaSets.refresh()]);
    expect(await cluster.state.load(web)).toMatchObject({ version: 1, stale: true });
    await cluster.state.commit(web, { status: engine }, 1);
    expect((await stored(cluster.server, web)).status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect((await cluster.state.load(web))?.stale).toBeUndefined();
  });

  it('with routedTraffic, the status shows the weights the routes carry; once they change, the record loads stale until a commit shows them', async () => {
    cluster = await startCluster([web]);
    const { kubeConfig, rollouts, replicaSets } = cluster;
    let held = true;
    const state = new KubernetesState({ kubeConfig, rollouts, replicaSets, routedTraffic: ({ traffic }) => (held ? { ...traffic, canaryWeight: 0 } : traffic) });
    const engine: RolloutStatus = { ...initialStatus(0), phase: 'Paused', stableRevision: 'aaa', canaryRevision: 'bbb', currentStepIndex: 1, weights: { canary: 20, stable: 80 } };
    const traffic = { stableRevision: 'aaa', canaryRevision: 'bbb', canaryWeight: 20, headerRoutes: [], mirrorRoutes: [] };
    await state.commit(web, { status: engine, traffic }, 0);
    const shown = async () => (await stored(cluster!.server, web)).status?.canary?.weights;
    expect(await shown()).toMatchObject({ canary: { weight: 0, podTemplateHash: 'bbb' }, stable: { weight: 80 + 20, podTemplateHash: 'aaa' } });
    // The engine's own decision is what is remembered.
    expect((await stored(cluster.server, web)).status?.graylane).toMatchObject({ engine: { weights: { canary: 20 } }, traffic: { canaryWeight: 20 } });
    await rollouts.refresh();
    expect((await state.load(web))?.stale).toBeUndefined();
    held = false;
    expect(await state.load(web)).toMatchObject({ version: 1, stale: true });
    await state.commit(web, { status: engine, traffic }, 1);
    expect(await shown()).toMatchObject({ canary: { weight: 20 }, stable: { weight: 80 } });
    await rollouts.refresh();
    expect((await state.load(web))?.stale).toBeUndefined();
  });

  it('markInvalid sets InvalidSpec and Degraded, leaves the engine\'s memory, posts a Warning; the next commit clears it', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus({ phase: 'Healthy' }) }, 0);
    await cluster.state.markInvalid(web, 'Service "web-canary" does not exist');
    const invalid = (await stored(cluster.server, web)).status!;
    expect(invalid).toMatchObject({ phase: 'Degraded', message: 'Service "web-canary" does not exist', graylane: { version: 1 } });
    expect(invalid.conditions?.find((c) => c.type === 'InvalidSpec')).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: 'Service "web-canary" does not exist' });
    expect(await cluster.state.load(web)).toMatchObject({ version: 1, status: { phase: 'Healthy' } });
    expect((await eventsAbout(cluster, web)).map((e) => [e.type, e.reason, e.message])).toEqual([['Warning', 'InvalidSpec', 'Service "web-canary" does not exist']]);
    await cluster.state.commit(web, { status: fullStatus({ phase: 'Healthy' }) }, 1);
    const valid = (await stored(cluster.server, web)).status!;
    expect(valid.phase).toBe('Healthy');
    expect(valid.conditions?.map((c) => c.type)).not.toContain('InvalidSpec');
  });

  it('markInvalid on a Rollout whose status moved meanwhile is a conflict', async () => {
    cluster = await startCluster([web]);
    await rawRequest({ server: cluster.server, method: 'PATCH', path: '/apis/graylane.dev/v1alpha1/namespaces/default/rollouts/web', contentType: 'application/merge-patch+json', body: { metadata: { labels: { x: 'y' } } } });
    await expect(cluster.state.markInvalid(web, 'bad')).rejects.toBeInstanceOf(StateConflictError);
  });

  it.each([
    ['commit', (s: KubernetesState, k: ObjectKey) => s.commit(k, { status: fullStatus() }, 0)],
    ['markInvalid', (s: KubernetesState, k: ObjectKey) => s.markInvalid(k, 'bad')],
  ])('%s on a Rollout that does not exist is RolloutNotFound', async (_name, act) => {
    cluster = await startCluster([web]);
    await expect(act(cluster.state, { namespace: 'default', name: 'nope' })).rejects.toMatchObject({ code: 'RolloutNotFound', message: 'rollout default/nope not found: its status cannot be written' });
  });

  it('a Rollout deleted after the cache listed it is RolloutNotFound on commit', async () => {
    cluster = await startCluster([web]);
    expect((await rawRequest({ server: cluster.server, method: 'DELETE', path: '/apis/graylane.dev/v1alpha1/namespaces/default/rollouts/web' })).status).toBe(200);
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'RolloutNotFound' });
  });

  it('a status the server refuses (not a conflict) is StatusWriteFailed with the server\'s reason', async () => {
    cluster = await startCluster([web]);
    const refused = cluster.state.commit(web, { status: fullStatus({ weights: { canary: 120, stable: -20 } }) }, 0);
    await expect(refused).rejects.toMatchObject({ code: 'StatusWriteFailed' });
    expect((await stored(cluster.server, web)).status?.graylane).toBeUndefined();
  });

  it('a status write the server sheds (429 with Retry-After) is StatusWriteFailed carrying the delay it asked for', async () => {
    cluster = await startCluster([web]);
    cluster.server.injectFault({ status: 429, method: 'PUT', pathIncludes: '/rollouts/web/status', retryAfterSeconds: 3 });
    const refused = await cluster.state.commit(web, { status: fullStatus() }, 0).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'StatusWriteFailed', retryAfterMs: 3000, message: expect.stringContaining('asked to retry after 3000 ms') });
    expect(retryAfterMsOf(refused)).toBe(3000);
    expect((await stored(cluster.server, web)).status?.graylane).toBeUndefined();
    // Without Retry-After (a 500) no delay is made up.
    cluster.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/rollouts/web/status' });
    const failed = await cluster.state.commit(web, { status: fullStatus() }, 0).then(() => undefined, (e: unknown) => e);
    expect(failed).toMatchObject({ code: 'StatusWriteFailed', retryAfterMs: undefined });
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).resolves.toMatchObject({ version: 1 });
  });

  it('releases are refused with a typed error when the adapter has no Releases cache', async () => {
    cluster = await startCluster([web]);
    await expect(cluster.state.loadRelease({ namespace: 'default', name: 'shop' })).rejects.toMatchObject({ code: 'ReleasesUnsupported', message: expect.stringContaining('keeps rollouts only') });
    await expect(cluster.state.commitRelease({ namespace: 'default', name: 'shop' }, { name: 'shop', generation: 'g', phase: 'idle', stepIndex: 0, members: [], secret: 's', message: '' }, 0)).rejects.toMatchObject({ code: 'ReleasesUnsupported' });
  });
});

const kubectlPath = '/usr/bin/kubectl';
describe.skipIf(!existsSync(kubectlPath))('kubectl against a Rollout graylane writes (skipped only when /usr/bin/kubectl is absent)', () => {
  it('kubectl wait --for=condition=Healthy returns once a commit makes the rollout Healthy with its traffic verified, not before', async () => {
    const cluster = await startCluster([web]);
    const dir = await mkdtemp(join(tmpdir(), 'graylane-state-kubectl-'));
    try {
      const kubeconfig = await writeKubeconfig({ server: cluster.server, dir });
      const kubectl = (...args: string[]) => promisify(execFile)(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 });
      await cluster.state.commit(web, { status: fullStatus({ phase: 'Progressing', pauseConditions: [], controllerPause: false }) }, 0);
      await expect(kubectl('wait', '--for=condition=Healthy', 'rollout/web', '--timeout=1s')).rejects.toMatchObject({ stderr: expect.stringContaining('timed out waiting for the condition') });
      const waiting = kubectl('wait', '--for=condition=Healthy', 'rollout/web', '--timeout=10s');
      await new Promise((r) => setTimeout(r, 300));
      const done = { ...initialStatus(0), phase: 'Healthy' as const, stableRevision: 'bbb', canaryRevision: 'bbb', weights: { canary: 0, stable: 100 } };
      // The engine is done but its traffic switch is not verified: kubectl keeps waiting.
      await cluster.state.commit(web, { status: done, trafficVerified: false }, 1);
      await cluster.rollouts.refresh();
      expect(await cluster.state.load(web)).toMatchObject({ trafficVerified: false });
      await expect(kubectl('wait', '--for=condition=Healthy', 'rollout/web', '--timeout=1s')).rejects.toMatchObject({ stderr: expect.stringContaining('timed out waiting for the condition') });
      await cluster.state.commit(web, { status: done, trafficVerified: true }, 2);
      expect((await waiting).stdout.trim()).toBe('rollout.graylane.dev/web condition met');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await cluster.close();
    }
  });
});
