import { spawnSync } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, type V1ConfigMap, type V1ReplicaSet } from '@kubernetes/client-node';
import { Informer, InformerError, type InformerOptions } from '../../src/kube/informer.js';
import type { CacheChange } from '../../src/kube/object-cache.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor, type ApiEndpoint } from '../fixtures/kube/kubeconfig.js';

let server: FakeApiServer | undefined;
const informers: Array<{ stop(): Promise<void>; start(): Promise<void> }> = [];
afterEach(async () => {
  for (const informer of informers.splice(0)) await informer.stop();
  await server?.close();
  server = undefined;
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function configMaps(s: ApiEndpoint, more: Partial<InformerOptions> = {}): { informer: Informer<V1ConfigMap>; changes: string[]; errors: InformerError[] } {
  const errors: InformerError[] = [];
  const informer = new Informer<V1ConfigMap>({
    kubeConfig: kubeConfigFor({ server: s }), apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps',
    backoff: { initialMs: 20, maxMs: 200 }, onError: (e) => errors.push(e), ...more,
  });
  informers.push(informer);
  const changes: string[] = [];
  informer.onChange((c: CacheChange<V1ConfigMap>) => changes.push(`${c.type} ${c.object.metadata?.namespace}/${c.object.metadata?.name}`));
  return { informer, changes, errors };
}

const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): V1ConfigMap => ({ metadata: { name, ...(labels ? { labels } : {}) }, data });

describe('Informer', () => {
  it('lists before start() resolves, then follows creates, updates and deletes through the watch', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('before', { a: '1' }) });
    const { informer, changes } = configMaps(server, { namespace: 'default' });
    expect(informer.synced()).toBe(false);
    await informer.start();
    expect(informer.synced()).toBe(true);
    expect(informer.get('default', 'before')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', data: { a: '1' } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('c', { v: '1' }) });
    await core.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: cm('c', { v: '2' }) });
    await core.deleteNamespacedConfigMap({ name: 'before', namespace: 'default' });
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: cm('elsewhere') });
    await until(() => changes.length >= 4, 'four changes');
    expect(changes).toEqual(['added default/before', 'added default/c', 'modified default/c', 'deleted default/before']);
    expect(informer.get('default', 'c')?.data).toEqual({ v: '2' });
    expect(informer.get('default', 'before')).toBeUndefined();
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['c']);
    const watch = server.requests.find((r) => r.path.includes('watch=true'))!;
    expect(watch.path).toContain('allowWatchBookmarks=true');
    expect(watch.path).toMatch(/resourceVersion=\d+/);
    expect(informer.figures()).toMatchObject({ lists: 1, objects: 1, relistsAfterGone: 0 });
  });

  it('advances its resourceVersion on bookmarks, so a re-watch does not replay old history', async () => {
    server = await FakeApiServer.start({ bookmarkIntervalMs: 20 });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const { informer } = configMaps(server, { namespace: 'default' });
    await informer.start();
    const listed = Number(informer.figures().resourceVersion);
    // Writes elsewhere move the server's resourceVersion; only a bookmark tells this watch.
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: cm('other') });
    await until(() => Number(informer.figures().resourceVersion) > listed, 'a bookmark');
    expect(informer.list()).toEqual([]);
  });

  it('survives dropped watches and misses nothing changed while the watch was down', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const { informer, changes } = configMaps(server);
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('a') });
    await until(() => changes.length === 1, 'a');
    server.dropWatches();
    // Written at once, before the informer's back-off lets it watch again.
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('b') });
    await core.deleteNamespacedConfigMap({ name: 'a', namespace: 'default' });
    await until(() => changes.length === 3, 'b and the deletion of a');
    server.dropWatches();
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: cm('c') });
    await until(() => changes.length === 4, 'c');
    expect(changes).toEqual(['added default/a', 'added default/b', 'deleted default/a', 'added kube-system/c']);
    expect(informer.figures()).toMatchObject({ lists: 1, relistsAfterGone: 0 });
    expect(informer.figures().watchRestarts).toBeGreaterThanOrEqual(2);
    expect(server.requests.filter((r) => r.path.includes('watch=true')).length).toBeGreaterThanOrEqual(3);
  });

  it('re-lists after 410 Gone and reports a deletion and an update that happened while it was away', async () => {
    server = await FakeApiServer.start({ historyLimit: 2 });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('gone-while-away') });
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('kept', { v: '1' }) });
    // A fixed, long enough back-off: the writes below land while no watch is open.
    const { informer, changes } = configMaps(server, { namespace: 'default', backoff: { initialMs: 400 }, random: () => 1 });
    await informer.start();
    const firstResync = informer.figures().lastResyncAtMs!;
    await until(() => server!.requests.some((r) => r.path.includes('watch=true')), 'the watch');
    server.dropWatches();
    await core.deleteNamespacedConfigMap({ name: 'gone-while-away', namespace: 'default' });
    await core.replaceNamespacedConfigMap({ name: 'kept', namespace: 'default', body: cm('kept', { v: '2' }) });
    for (const name of ['x', 'y', 'z']) await core.createNamespacedConfigMap({ namespace: 'kube-system', body: cm(name) });
    server.cluster.store.compact();
    await until(() => informer.figures().relistsAfterGone === 1 && changes.length === 4, 'the re-list');
    expect(changes).toEqual(['added default/gone-while-away', 'added default/kept', 'modified default/kept', 'deleted default/gone-while-away']);
    expect(informer.get('default', 'kept')?.data).toEqual({ v: '2' });
    expect(informer.figures()).toMatchObject({ lists: 2, objects: 1 });
    expect(informer.figures().lastResyncAtMs).toBeGreaterThanOrEqual(firstResync);
    // And it watches again from the new list.
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('after') });
    await until(() => informer.get('default', 'after') !== undefined, 'the watch after the re-list');
  });

  it('retries failed lists (500, then 429) with growing back-off and starts once one succeeds', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('a') });
    server.injectFault({ status: 500, watch: false, pathIncludes: '/configmaps', times: 2 });
    server.injectFault({ status: 429, watch: false, pathIncludes: '/configmaps' });
    const { informer, errors } = configMaps(server, { backoff: { initialMs: 20, maxMs: 1000 }, random: () => 1 });
    await informer.start();
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a']);
    expect(errors.map((e) => [e.code, e.retryInMs])).toEqual([['list-failed', 20], ['list-failed', 40], ['list-failed', 80]]);
    expect(errors[0]!.message).toContain('HTTP 500');
    expect(errors[2]!.message).toContain('HTTP 429');
    expect(informer.figures()).toMatchObject({ lists: 1, failures: 3 });
    const lists = server.requests.filter((r) => r.path.startsWith('/api/v1/configmaps') && !r.path.includes('watch=true'));
    expect(lists).toHaveLength(4);
  });

  it('waits as long as a 429 asks with Retry-After, and caps the back-off at maxMs', async () => {
    server = await FakeApiServer.start();
    server.injectFault({ status: 429, watch: false, pathIncludes: '/configmaps', retryAfterSeconds: 1 });
    server.injectFault({ status: 500, watch: false, pathIncludes: '/configmaps', times: 3 });
    const { informer, errors } = configMaps(server, { backoff: { initialMs: 20, maxMs: 50 }, random: () => 1 });
    const started = Date.now();
    await informer.start();
    expect(errors.map((e) => e.retryInMs)).toEqual([50, 40, 50, 50]);
    const { errors: honoured } = configMaps(server, { backoff: { initialMs: 20, maxMs: 5000 }, random: () => 1 });
    server.injectFault({ status: 429, watch: false, pathIncludes: '/configmaps', retryAfterSeconds: 1 });
    const second = informers[informers.length - 1]!;
    await second.start();
    expect(honoured.map((e) => e.retryInMs)).toEqual([1000]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('restarts a watch the server refuses, reporting watch-failed, and still sees what follows', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    server.injectFault({ status: 500, watch: true, times: 2 });
    const { informer, errors } = configMaps(server, { random: () => 1 });
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('a') });
    await until(() => informer.get('default', 'a') !== undefined, 'a');
    expect(errors.map((e) => [e.code, e.retryInMs])).toEqual([['watch-failed', 20], ['watch-failed', 40]]);
    expect(errors[0]!.message).toContain('HTTP 500');
  });

  it.each([
    ['answered, then silent (a connection dropped without a word)', true],
    ['never answered', false],
  ])('opens again a watch that brings nothing for watchSilenceMs (%s), from where it was: no re-list, and what follows is seen', async (_name, headers) => {
    const watches: ServerResponse[] = [];
    const standIn = createServer((req, res) => {
      if (!req.url!.includes('watch=true')) {
        res.setHeader('content-type', 'application/json');
        // The client's discovery first, then the list.
        res.end(JSON.stringify(req.url === '/api/v1'
          ? { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['list', 'watch'] }] }
          : { apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '5' }, items: [] }));
        return;
      }
      watches.push(res);
      if (watches.length === 1) {
        if (headers) res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
        return;
      }
      expect(new URL(req.url!, 'http://x').searchParams.get('resourceVersion')).toBe('5');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after', namespace: 'default', resourceVersion: '6' }, data: { a: '1' } } })}\n`);
    });
    await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
    try {
      const port = (standIn.address() as AddressInfo).port;
      const { informer, errors } = configMaps({ url: `http://127.0.0.1:${port}`, token: undefined }, { namespace: 'default', watchSilenceMs: 300 });
      await informer.start();
      await until(() => informer.get('default', 'after') !== undefined, 'the change after the silent watch');
      expect(informer.figures()).toMatchObject({ lists: 1, watchRestarts: 1 });
      expect(errors.map((e) => [e.code, e.message])).toEqual([['watch-silent', 'watch of /api/v1/namespaces/default/configmaps brought nothing for 300 ms: opened again']]);
    } finally {
      standIn.closeAllConnections();
      await new Promise<void>((r) => standIn.close(() => r()));
    }
  });

  it('stop() ends at once a watch whose answer never started, without waiting for watchSilenceMs', async () => {
    let watches = 0;
    const standIn = createServer((req, res) => {
      if (req.url!.includes('watch=true')) {
        watches += 1;
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/api/v1'
        ? { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['list', 'watch'] }] }
        : { apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '5' }, items: [] }));
    });
    await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
    try {
      const { informer } = configMaps({ url: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`, token: undefined }, { namespace: 'default', watchSilenceMs: 60_000 });
      await informer.start();
      await until(() => watches === 1, 'the watch asked for');
      const stopping = performance.now();
      await informer.stop();
      expect(performance.now() - stopping).toBeLessThan(1_000);
    } finally {
      standIn.closeAllConnections();
      await new Promise<void>((r) => standIn.close(() => r()));
    }
  });

  it('leaves open a watch that hears bookmarks more often than watchSilenceMs, however quiet the objects', async () => {
    server = await FakeApiServer.start({ bookmarkIntervalMs: 100 });
    const { informer, errors } = configMaps(server, { namespace: 'default', watchSilenceMs: 400 });
    await informer.start();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(informer.figures().watchRestarts).toBe(0);
    expect(errors).toEqual([]);
  });

  it('answers list() by namespace, owner uid and labels from its indexes, following owner changes', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
    const owner = (uid: string) => [{ apiVersion: 'graylane.dev/v1alpha1', kind: 'Rollout', name: `r-${uid}`, uid, controller: true }];
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'one', ownerReferences: owner('u1'), labels: { tier: 'web' } } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'two', ownerReferences: owner('u2') } } });
    await core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'three', ownerReferences: owner('u1'), labels: { tier: 'api' } } } });
    const { informer } = configMaps(server);
    await informer.start();
    const names = (q: Parameters<typeof informer.list>[0]) => informer.list(q).map((o) => o.metadata?.name).sort();
    expect(names({ ownerUid: 'u1' })).toEqual(['one', 'three']);
    expect(names({ ownerUid: 'u1', namespace: 'shop' })).toEqual(['three']);
    expect(names({ namespace: 'default' })).toEqual(['one', 'two']);
    expect(names({ labels: { tier: 'web' } })).toEqual(['one']);
    expect(names({ ownerUid: 'nobody' })).toEqual([]);
    expect(names({ namespace: 'nowhere' })).toEqual([]);
    // The owner index follows an object handed to another owner, and a deletion.
    await core.patchNamespacedConfigMap({ name: 'one', namespace: 'default', body: [{ op: 'replace', path: '/metadata/ownerReferences', value: owner('u2') }] });
    await core.deleteNamespacedConfigMap({ name: 'three', namespace: 'shop' });
    await until(() => names({ ownerUid: 'u1' }).length === 0, 'owner u1 to have nothing left');
    expect(names({ ownerUid: 'u2' })).toEqual(['one', 'two']);
    expect(names({ namespace: 'shop' })).toEqual([]);
    // The label index follows a relabel: the old value finds nothing, the new one the object.
    await core.patchNamespacedConfigMap({ name: 'one', namespace: 'default', body: [{ op: 'replace', path: '/metadata/labels', value: { tier: 'api', zone: 'a' } }] });
    await until(() => names({ labels: { tier: 'api' } }).length === 1, 'the relabel to arrive');
    expect(names({ labels: { tier: 'web' } })).toEqual([]);
    expect(names({ labels: { tier: 'api', zone: 'a' }, namespace: 'default' })).toEqual(['one']);
    expect(names({ labels: { tier: 'api', zone: 'b' } })).toEqual([]);
  });

  it('keeps a cluster-scoped resource and applies a server-side label selector', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'team-a', labels: { owner: 'graylane' } } } });
    const informer = new Informer({ kubeConfig: kubeConfigFor({ server }), apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', labelSelector: 'owner=graylane' });
    informers.push(informer);
    await informer.start();
    await core.createNamespace({ body: { metadata: { name: 'team-b', labels: { owner: 'graylane' } } } });
    await core.createNamespace({ body: { metadata: { name: 'unlabelled' } } });
    await until(() => informer.get('', 'team-b') !== undefined, 'team-b');
    expect(informer.list().map((o) => o.metadata?.name).sort()).toEqual(['team-a', 'team-b']);
  });

  it('reads a typed resource of a named group (apps/v1 ReplicaSets)', async () => {
    server = await FakeApiServer.start();
    const apps = kubeConfigFor({ server }).makeApiClient(AppsV1Api);
    const informer = new Informer<V1ReplicaSet>({ kubeConfig: kubeConfigFor({ server }), apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespace: 'default' });
    informers.push(informer);
    await informer.start();
    const labels = { app: 'web', 'rollouts-pod-template-hash': 'abc' };
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: {
      metadata: { name: 'web-abc', labels },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
    } });
    await until(() => informer.get('default', 'web-abc') !== undefined, 'the ReplicaSet');
    expect(informer.get('default', 'web-abc')).toMatchObject({ apiVersion: 'apps/v1', kind: 'ReplicaSet', spec: { replicas: 0 } });
  });

  it('reports a listener that throws and keeps feeding the others', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const { informer, changes, errors } = configMaps(server);
    informer.onChange(() => { throw new Error('adapter bug'); });
    const after: string[] = [];
    const unsubscribe = informer.onChange((c) => after.push(c.object.metadata?.name ?? ''));
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('a') });
    await until(() => after.length === 1, 'the later listener');
    unsubscribe();
    await core.createNamespacedConfigMap({ namespace: 'default', body: cm('b') });
    await until(() => changes.length === 2, 'b');
    expect(after).toEqual(['a']);
    expect(errors.map((e) => e.code)).toEqual(['listener-failed', 'listener-failed']);
    expect(errors[0]!.message).toContain('adapter bug');
    expect(informer.figures().failures).toBe(0);
  });

  it('rejects start() with a stopped error when stopped before its first list, and cannot be restarted', async () => {
    server = await FakeApiServer.start();
    server.injectFault({ status: 500, watch: false, pathIncludes: '/configmaps', times: 1_000 });
    const { informer } = configMaps(server, { backoff: { initialMs: 10_000 } });
    const started = informer.start();
    await until(() => server!.requests.some((r) => r.path.startsWith('/api/v1/configmaps')), 'the first list');
    started.catch(() => {});
    await informer.stop();
    await expect(started).rejects.toMatchObject({ name: 'InformerError', code: 'stopped' });
    await expect(informer.start()).rejects.toBeInstanceOf(InformerError);
    expect(informer.synced()).toBe(false);
  });

  it('leaves nothing running after stop(): a process using it exits on its own', () => {
    const script = fileURLToPath(new URL('../fixtures/kube/informer-exit.ts', import.meta.url));
    // A process left running would never exit; the bound is generous because compiling the
    // fixture and loading the Kubernetes client took over 20 s on a loaded CI machine.
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('synced 1; stopped');
  }, 70_000);
});
