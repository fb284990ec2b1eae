import { afterEach, describe, expect, it } from 'vitest';
import { CoreV1Api, Watch, makeInformer, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

let server: FakeApiServer;
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await server.close();
});

interface Seen { type: string; object: KubernetesObject & { code?: number; reason?: string } }

/** Starts a client-node watch and collects its events. */
async function watchEvents(path: string, query: Record<string, string | boolean>): Promise<{ events: Seen[]; done: Promise<unknown> }> {
  const events: Seen[] = [];
  let finish: (err: unknown) => void = () => {};
  const done = new Promise((resolve) => { finish = resolve; });
  const controller = await new Watch(kubeConfigFor({ server })).watch(path, query, (type, object: Seen['object']) => events.push({ type, object }), (err) => finish(err));
  stops.push(() => controller.abort());
  return { events, done };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('fake API server: watch', () => {
  it('streams ADDED, MODIFIED and DELETED from the list’s resourceVersion, one JSON event per line', async () => {
    server = await FakeApiServer.start({ token: 't' });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' } } });
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const { events } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata!.resourceVersion! });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' }, data: { a: '1' } } });
    await core.patchNamespacedConfigMap({ name: 'c', namespace: 'default', body: [{ op: 'replace', path: '/data/a', value: '2' }] });
    await core.deleteNamespacedConfigMap({ name: 'c', namespace: 'default' });
    await core.createNamespace({ body: { metadata: { name: 'other' } } });
    await core.createNamespacedConfigMap({ namespace: 'other', body: { metadata: { name: 'elsewhere' } } });
    await until(() => events.length >= 3, 'three events');
    expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED c', 'MODIFIED c', 'DELETED c']);
    expect((events[1]!.object as V1ConfigMap).data).toEqual({ a: '2' });
    const versions = events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(events.every((e) => e.object.kind === 'ConfigMap' && e.object.apiVersion === 'v1')).toBe(true);
  });

  it('replays the current state as ADDED when no resourceVersion is given, and filters by label selector', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a', labels: { team: 'x' } } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'b' } } });
    const { events } = await watchEvents('/api/v1/configmaps', { labelSelector: 'team=x' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c', labels: { team: 'x' } } } });
    await until(() => events.length >= 2, 'two events');
    expect(events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED a', 'ADDED c']);
  });

  it('reports an object entering a label-selected watch as ADDED and leaving it as DELETED', async () => {
    server = await FakeApiServer.start();
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a' } } });
    const list = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'team=x' });
    const { events } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata!.resourceVersion!, labelSelector: 'team=x' });
    const label = (labels: Record<string, string>): Promise<unknown> => core.patchNamespacedConfigMap({ name: 'a', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels', value: labels }] });
    await label({ team: 'x' });
    await label({ team: 'x', more: 'y' });
    await label({ team: 'z' });
    await label({ team: 'q' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'end', labels: { team: 'x' } } } });
    await until(() => events.length >= 4, 'four events');
    expect(events.map((e) => `${e.type} ${e.object.metadata?.name} ${JSON.stringify(e.object.metadata?.labels)}`)).toEqual([
      'ADDED a {"team":"x"}', 'MODIFIED a {"team":"x","more":"y"}', 'DELETED a {"team":"z"}', 'ADDED end {"team":"x"}',
    ]);
  });

  it('sends BOOKMARK events with the current resourceVersion when the client allows them', async () => {
    server = await FakeApiServer.start({ bookmarkIntervalMs: 20 });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const { events } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata!.resourceVersion!, allowWatchBookmarks: true });
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'unrelated' } } });
    await until(() => events.some((e) => e.type === 'BOOKMARK' && Number(e.object.metadata?.resourceVersion) > Number(list.metadata!.resourceVersion)), 'a bookmark past the write');
    expect(events.find((e) => e.type === 'BOOKMARK')!.object.kind).toBe('ConfigMap');
    expect(events.some((e) => e.type === 'ADDED')).toBe(false);
    const { events: without } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata!.resourceVersion! });
    await new Promise((r) => setTimeout(r, 100));
    expect(without.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
  });

  it('answers a resourceVersion older than the kept history with an ERROR event carrying a 410 Status, then ends the stream', async () => {
    server = await FakeApiServer.start({ historyLimit: 2 });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    for (const name of ['a', 'b', 'c']) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name } } });
    const { events, done } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata!.resourceVersion! });
    await done;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    // Within the kept history the same watch replays what it missed.
    const recent = Number(list.metadata!.resourceVersion) + 2;
    const { events: replayed } = await watchEvents('/api/v1/namespaces/default/configmaps', { resourceVersion: String(recent) });
    await until(() => replayed.length >= 1, 'the replay');
    expect(replayed.map((e) => e.object.metadata?.name)).toEqual(['c']);
  });

  it('refuses a resourceVersion that is not a number with 400', async () => {
    server = await FakeApiServer.start();
    const res = await rawRequest({ server, path: '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc' });
    expect(res).toMatchObject({ status: 400, body: { kind: 'Status', reason: 'BadRequest' } });
  });

  it('ends the watch after timeoutSeconds', async () => {
    server = await FakeApiServer.start();
    const started = Date.now();
    const { done } = await watchEvents('/api/v1/namespaces/default/configmaps', { timeoutSeconds: '1' });
    await done;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('drives client-node’s informer: add, update, delete, and a re-list after 410 Gone', async () => {
    server = await FakeApiServer.start({ token: 't' });
    const core = kubeConfigFor({ server }).makeApiClient(CoreV1Api);
    const informer = makeInformer(kubeConfigFor({ server }), '/api/v1/namespaces/default/configmaps',
      () => core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'team=x' }), 'team=x');
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${JSON.stringify((o).data)}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a', labels: { team: 'x' } } } });
    await informer.start();
    stops.push(() => void informer.stop());
    await until(() => seen.includes('add a'), 'the listed object');
    await core.replaceNamespacedConfigMap({ name: 'a', namespace: 'default', body: { metadata: { name: 'a', labels: { team: 'x' } }, data: { k: 'v' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'b', labels: { team: 'x' } } } });
    await core.deleteNamespacedConfigMap({ name: 'b', namespace: 'default' });
    await until(() => seen.includes('delete b'), 'the delete');
    expect(seen).toEqual(['add a', 'update a {"k":"v"}', 'add b', 'delete b']);

    // Writes the informer does not watch move the store on; compaction then makes its position too old.
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'unwatched' } } });
    server.cluster.store.compact();
    const listsBefore = server.requests.filter((r) => r.method === 'GET' && !r.path.includes('watch=')).length;
    server.dropWatches();
    await until(() => server.requests.filter((r) => r.method === 'GET' && !r.path.includes('watch=')).length > listsBefore, 'the re-list after 410');
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c', labels: { team: 'x' } } } });
    await until(() => seen.includes('add c'), 'an object after the re-list');
    expect(errors).toEqual([]);
    expect(informer.list('default').map((o) => o.metadata?.name).sort()).toEqual(['a', 'c']);
  });
});
