/**
 * KubernetesState with the `argo` flavour against the fake API server with Argo's own CRD, whose
 * closed status schema prunes `status.graylane`: the engine's memory lives in an annotation, is
 * written before the status, and a failure between the two writes loses nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig, V1ReplicaSet } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { argoRolloutCrd } from '../../../test/fixtures/kube/argo-rollout-crd.js';
import { FakeApiServer } from '../../../test/fixtures/kube/fake-api-server.js';
import { kubeConfigFor, writeKubeconfig } from '../../../test/fixtures/kube/kubeconfig.js';
import { ListCache } from '../../../test/fixtures/kube/list-cache.js';
import { rawRequest } from '../../../test/fixtures/kube/raw-request.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { readRecordedEvent } from '../../kube/event-recorder.js';
import { ENGINE_MEMORY_ANNOTATION } from '../../kube/names.js';
import { fullStatus, fullTraffic, statePortConformance } from '../state-port.case.test.js';
import { StateConflictError, type ObjectKey } from '../state-port.js';
import { KubernetesState, type RolloutObject } from './kubernetes-state.js';
import { eventsAbout } from '../../../test/fixtures/kube/recorded-events.js';

const spec: RolloutSpec = {
  replicas: 2, selector: { matchLabels: { app: 'web' } },
  template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
  strategy: { canary: { canaryService: 'web-canary', stableService: 'web-stable', steps: [{ setWeight: 20 }, { pause: {} }] } },
};

interface Cluster {
  server: FakeApiServer;
  kubeConfig: KubeConfig;
  rollouts: ListCache<RolloutObject>;
  replicaSets: ListCache<V1ReplicaSet>;
  state: KubernetesState;
  /** A second adapter (another controller, or this one restarted) over the same caches. */
  another(): KubernetesState;
  close(): Promise<void>;
}

async function post(server: FakeApiServer, path: string, body: unknown): Promise<void> {
  const res = await rawRequest({ server, method: 'POST', path, body });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
}

const path = (key: ObjectKey, sub = ''): string => `/apis/argoproj.io/v1alpha1/namespaces/${key.namespace}/rollouts/${key.name}${sub}`;

async function startCluster(keys: ObjectKey[]): Promise<Cluster> {
  const server = await FakeApiServer.start();
  await post(server, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', argoRolloutCrd());
  for (const ns of new Set(keys.map((k) => k.namespace))) {
    if (ns !== 'default') await post(server, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  for (const k of keys) {
    await post(server, `/apis/argoproj.io/v1alpha1/namespaces/${k.namespace}/rollouts`, { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: k.name }, spec });
  }
  const kubeConfig = kubeConfigFor({ server });
  const rollouts = new ListCache<RolloutObject>({ kubeConfig, apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout' });
  const replicaSets = new ListCache<V1ReplicaSet>({ kubeConfig, apiVersion: 'apps/v1', kind: 'ReplicaSet' });
  await Promise.all([rollouts.refresh(), replicaSets.refresh()]);
  const nowMs = () => Date.parse('2026-05-01T10:00:00Z');
  const another = () => new KubernetesState({ kubeConfig, flavour: 'argo', rollouts, replicaSets, nowMs });
  return { server, kubeConfig, rollouts, replicaSets, state: another(), another, close: () => server.close() };
}

async function stored(server: FakeApiServer, key: ObjectKey): Promise<RolloutObject> {
  return (await rawRequest({ server, path: path(key) })).body as RolloutObject;
}

const memoryOf = (r: RolloutObject): Record<string, unknown> => JSON.parse(r.metadata?.annotations?.[ENGINE_MEMORY_ANNOTATION] ?? 'null') as Record<string, unknown>;

const web: ObjectKey = { namespace: 'default', name: 'web' };

statePortConformance("kubernetes, --argo-rollouts (fake API server, Argo's CRD)", async () => {
  const c = await startCluster([{ namespace: 'default', name: 'api' }, { namespace: 'default', name: 'web' }, { namespace: 'team-b', name: 'api' }]);
  return { state: c.state, recordedEvents: async (k) => (await eventsAbout(c, k)).map(readRecordedEvent), close: () => c.close() };
}, { releasesUnsupported: 'releases on Kubernetes come with issue 15' });

describe('KubernetesState on Argo Rollouts', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  it("Argo's CRD prunes status.graylane, so the memory is an annotation; the status is Argo's shape; a restarted adapter reads it all back", async () => {
    cluster = await startCluster([web]);
    // The premise: what graylane's own CRD keeps, Argo's drops.
    const object = await stored(cluster.server, web);
    const pruned = await rawRequest({ server: cluster.server, method: 'PUT', path: path(web, '/status'), body: { ...object, status: { phase: 'Healthy', graylane: { version: 1, engine: {} } } } });
    expect(pruned.status).toBe(200);
    expect((pruned.body as RolloutObject).status).toEqual({ phase: 'Healthy' });

    await cluster.rollouts.refresh();
    const before = await stored(cluster.server, web);
    await cluster.state.commit(web, { status: fullStatus(), traffic: fullTraffic() }, 0);
    const after = await stored(cluster.server, web);
    expect(after.status).not.toHaveProperty('graylane');
    expect(after.status).toMatchObject({ phase: 'Paused', observedGeneration: '1', currentPodHash: 'bbb', stableRS: 'aaa', currentStepIndex: 2, HPAReplicas: 0 });
    expect(memoryOf(after)).toMatchObject({ version: 1, engine: JSON.parse(JSON.stringify(fullStatus())), traffic: JSON.parse(JSON.stringify(fullTraffic())) });
    // A metadata write: the generation Argo's tools compare observedGeneration with does not move.
    expect(after.metadata?.generation).toBe(before.metadata?.generation);

    await cluster.rollouts.refresh();
    const restarted = cluster.another();
    expect(await restarted.load(web)).toEqual({ key: web, status: fullStatus(), traffic: fullTraffic(), version: 1 });
  });

  it('a record is not stale while its status is the one written with it, the restartedAt the controller writes alone included', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    await cluster.rollouts.refresh();
    expect((await cluster.another().load(web))?.stale).toBeUndefined();
    const restart = await rawRequest({ server: cluster.server, method: 'PATCH', path: path(web, '/status'), contentType: 'application/merge-patch+json', body: { status: { restartedAt: '2026-05-01T10:00:00Z' } } });
    expect(restart.status).toBe(200);
    await cluster.rollouts.refresh();
    expect((await cluster.another().load(web))?.stale).toBeUndefined();
  });

  it('a status write that fails after the memory landed (a crash between the two) is StatusWriteFailed; the memory is kept, loads stale, and the next commit writes the status', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus({ phase: 'Progressing', message: 'step 1' }) }, 0);
    cluster.server.injectFault({ status: 500, method: 'PUT', pathIncludes: '/rollouts/web/status' });
    await expect(cluster.state.commit(web, { status: fullStatus({ phase: 'Paused', message: 'step 2' }) }, 1)).rejects.toMatchObject({ code: 'StatusWriteFailed' });
    const between = await stored(cluster.server, web);
    expect(memoryOf(between)).toMatchObject({ version: 2, engine: { message: 'step 2' } });
    expect(between.status).toMatchObject({ phase: 'Progressing', message: 'step 1' });

    await cluster.rollouts.refresh();
    const restarted = cluster.another();
    const record = await restarted.load(web);
    expect(record).toMatchObject({ version: 2, status: { message: 'step 2' }, stale: true });
    await restarted.commit(web, { status: record!.status }, 2);
    expect((await stored(cluster.server, web)).status).toMatchObject({ phase: 'Paused', message: 'step 2' });
    await cluster.rollouts.refresh();
    expect((await cluster.another().load(web))?.stale).toBeUndefined();
  });

  it('markInvalid leaves the memory; the record then loads stale, so the next pass writes a status without InvalidSpec', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus({ phase: 'Healthy' }) }, 0);
    await cluster.state.markInvalid(web, 'Service "web-canary" does not exist');
    const invalid = await stored(cluster.server, web);
    expect(invalid.status).toMatchObject({ phase: 'Degraded', message: 'Service "web-canary" does not exist' });
    expect(memoryOf(invalid)).toMatchObject({ version: 1 });
    await cluster.rollouts.refresh();
    expect(await cluster.another().load(web)).toMatchObject({ version: 1, status: { phase: 'Healthy' }, stale: true });
  });

  it('a rival commit between load and commit is a conflict on the memory write, and nothing of the commit is written', async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus() }, 0);
    await cluster.rollouts.refresh();
    await cluster.another().commit(web, { status: fullStatus({ message: 'rival' }) }, 1);
    const refused = cluster.state.commit(web, { status: fullStatus({ message: 'mine' }), events: [{ atMs: 1, level: 'info', reason: 'Mine', message: 'm' }] }, 1);
    await expect(refused).rejects.toBeInstanceOf(StateConflictError);
    await expect(refused).rejects.toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    const now = await stored(cluster.server, web);
    expect(now.status?.message).toBe('rival');
    expect(memoryOf(now)).toMatchObject({ version: 2, engine: { message: 'rival' } });
    expect(await eventsAbout(cluster, web)).toEqual([]);
  });

  it("a controller pass that lands between this commit's memory and status writes does not make it a conflict: the commit happened, and its caller must not apply it twice", async () => {
    cluster = await startCluster([web]);
    await cluster.state.commit(web, { status: fullStatus({ message: 'paused at step 4' }) }, 0);
    await cluster.rollouts.refresh();
    // The person's promote writes its memory (version 2); the controller, seeing it, commits its
    // next pass (version 3) before the person's status write arrives.
    cluster.server.beforeServing({ method: 'PUT', pathIncludes: '/rollouts/web/status' }, async () => {
      const controller = cluster!.another();
      await cluster!.rollouts.refresh();
      await controller.commit(web, { status: fullStatus({ message: 'step 5 done' }) }, 2);
    });
    const promote = cluster.state.commit(web, { status: fullStatus({ message: 'promoted past step 4' }), events: [{ atMs: 1, level: 'info', reason: 'RolloutPromoted', message: 'Promoted past step 4/5' }] }, 1);
    await expect(promote).resolves.toMatchObject({ version: 2 });
    const now = await stored(cluster.server, web);
    expect([memoryOf(now), now.status?.message]).toMatchObject([{ version: 3, engine: { message: 'step 5 done' } }, 'step 5 done']);
    await cluster.state.flushEvents();
    expect((await eventsAbout(cluster, web)).map((e) => readRecordedEvent(e).reason)).toEqual(['RolloutPromoted']);
  });

  it("a person's edit of the spec since the read is a conflict: the memory is never written beside a spec it was not decided on", async () => {
    cluster = await startCluster([web]);
    const res = await rawRequest({ server: cluster.server, method: 'PATCH', path: path(web), contentType: 'application/merge-patch+json', body: { spec: { replicas: 5 } } });
    expect(res.status).toBe(200);
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'StateConflict', expectedVersion: 0, actualVersion: 0 });
    expect((await stored(cluster.server, web)).metadata?.annotations?.[ENGINE_MEMORY_ANNOTATION]).toBeUndefined();
    await cluster.rollouts.refresh();
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).resolves.toMatchObject({ version: 1 });
  });

  it('a memory write the server refuses (not a conflict) is MemoryWriteFailed, and neither the memory nor the status is written', async () => {
    cluster = await startCluster([web]);
    cluster.server.injectFault({ status: 500, method: 'PATCH', pathIncludes: '/rollouts/web' });
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'MemoryWriteFailed', message: expect.stringContaining(ENGINE_MEMORY_ANNOTATION) });
    const now = await stored(cluster.server, web);
    expect(now.metadata?.annotations?.[ENGINE_MEMORY_ANNOTATION]).toBeUndefined();
    expect(now.status).toBeUndefined();
  });

  it('a Rollout deleted after the cache listed it is RolloutNotFound on commit', async () => {
    cluster = await startCluster([web]);
    expect((await rawRequest({ server: cluster.server, method: 'DELETE', path: path(web) })).status).toBe(200);
    await expect(cluster.state.commit(web, { status: fullStatus() }, 0)).rejects.toMatchObject({ code: 'RolloutNotFound' });
  });

  it.each([
    ['not JSON', 'v1 at step 2', /is not JSON/],
    ['a JSON array', '[]', /is not a JSON object/],
    ['a negative version', '{"version":-1,"engine":{}}', /"version" is not a whole number/],
    ['no engine', '{"version":3}', /"engine" is not an object/],
    ['a digest that is not a string', '{"version":3,"engine":{},"statusDigest":5}', /"statusDigest" is not a string/],
  ])('an annotation edited into %s is MemoryUnreadable on load, naming the Rollout and the annotation, never a fresh start', async (_what, value, why) => {
    cluster = await startCluster([web]);
    const res = await rawRequest({ server: cluster.server, method: 'PATCH', path: path(web), contentType: 'application/merge-patch+json', body: { metadata: { annotations: { [ENGINE_MEMORY_ANNOTATION]: value } } } });
    expect(res.status).toBe(200);
    await cluster.rollouts.refresh();
    const load = cluster.state.load(web);
    await expect(load).rejects.toMatchObject({ code: 'MemoryUnreadable', message: expect.stringMatching(why) });
    await expect(load).rejects.toThrow(`rollout default/web: the annotation ${ENGINE_MEMORY_ANNOTATION} is not graylane's memory`);
  });
});

const kubectlPath = '/usr/bin/kubectl';
describe.skipIf(!existsSync(kubectlPath))("kubectl on an Argo Rollout graylane keeps its memory on (skipped only when /usr/bin/kubectl is absent)", () => {
  it("a user's kubectl apply of their manifest (a new image) keeps the memory annotation, and the next commit lands on it", async () => {
    const cluster = await startCluster([]);
    const dir = await mkdtemp(join(tmpdir(), 'graylane-argo-kubectl-'));
    try {
      const kubeconfig = await writeKubeconfig({ server: cluster.server, dir });
      const kubectl = (...args: string[]) => promisify(execFile)(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 });
      const manifest = (image: string) => JSON.stringify({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'default' }, spec: { ...spec, template: { ...spec.template, spec: { containers: [{ name: 'app', image }] } } } });
      const file = join(dir, 'rollout.json');
      await writeFile(file, manifest('nginx:1.27'));
      await kubectl('apply', '--validate=false', '-f', file);
      await cluster.rollouts.refresh();
      await cluster.state.commit(web, { status: fullStatus() }, 0);

      await writeFile(file, manifest('nginx:1.28'));
      expect((await kubectl('apply', '--validate=false', '-f', file)).stdout.trim()).toBe('rollout.argoproj.io/web configured');
      const after = await stored(cluster.server, web);
      expect((after.spec.template as { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image).toBe('nginx:1.28');
      expect(memoryOf(after)).toMatchObject({ version: 1 });
      await cluster.rollouts.refresh();
      expect(await cluster.state.load(web)).toMatchObject({ version: 1 });
      await expect(cluster.state.commit(web, { status: fullStatus({ message: 'on 1.28' }) }, 1)).resolves.toMatchObject({ version: 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await cluster.close();
    }
  });
});
