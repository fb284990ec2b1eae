import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiException, AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';

const token = 'test-token';
let server: FakeApiServer;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeEach(async () => {
  server = await FakeApiServer.start({ token });
  const kc = kubeConfigFor({ server });
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
});
afterEach(async () => server.close());

function deployment(name: string, labels: Record<string, string> = { app: name }): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    },
  };
}

/** The Status body of a failed client-node call. */
async function statusOf(call: Promise<unknown>): Promise<{ code: number; reason: string; message: string; kind: string; details?: { causes: Array<{ field: string }> } & Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiException);
    const e = error as ApiException<string>;
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    expect(body.code).toBe(e.code);
    return body as Awaited<ReturnType<typeof statusOf>>;
  }
  throw new Error('the call succeeded');
}

describe('fake API server: storage and CRUD through @kubernetes/client-node', () => {
  it('creates a namespaced object with uid, creationTimestamp, generation 1 and a resourceVersion, and reads it back', async () => {
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.metadata?.generation).toBe(1);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.namespace).toBe('default');
    // Defaults the real server fills in.
    expect(created.spec?.strategy?.type).toBe('RollingUpdate');
    const read = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    expect(read.spec?.template.spec?.containers[0]?.image).toBe('nginx:1.27');
  });

  it('answers 201 Created to a POST', async () => {
    const res = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 'c' }, data: { a: '1' } } });
    expect(res.status).toBe(201);
    expect(res.body.kind).toBe('ConfigMap');
    expect(res.body.apiVersion).toBe('v1');
  });

  it('lists with the resourceVersion of the list and filters by label selector', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('a', { app: 'a', tier: 'front' }) });
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('b', { app: 'b' }) });
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('c', { app: 'c', tier: 'back' }) });
    const all = await apps.listNamespacedDeployment({ namespace: 'default' });
    expect(all.items.map((d) => d.metadata?.name)).toEqual(['a', 'b', 'c']);
    expect(Number(all.metadata?.resourceVersion)).toBeGreaterThanOrEqual(Number(all.items[2]?.metadata?.resourceVersion));
    const names = async (labelSelector: string): Promise<string[]> =>
      (await apps.listNamespacedDeployment({ namespace: 'default', labelSelector })).items.map((d) => d.metadata?.name ?? '');
    expect(await names('app=a,tier')).toEqual(['a']);
    expect(await names('tier')).toEqual(['a', 'c']);
    expect(await names('!tier')).toEqual(['b']);
    expect(await names('tier!=front')).toEqual(['b', 'c']);
    expect(await names('app in (a,b)')).toEqual(['a', 'b']);
    expect(await names('app notin (a,b)')).toEqual(['c']);
    expect(await names('app==c')).toEqual(['c']);
  });

  it('refuses a malformed label selector with 400 BadRequest', async () => {
    const status = await statusOf(apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'a=b,,c' }));
    expect(status).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
    const badKey = await statusOf(apps.listNamespacedDeployment({ namespace: 'default', labelSelector: '-a=b' }));
    expect(badKey.code).toBe(400);
    const badValue = await statusOf(apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'a=b c' }));
    expect(badValue.code).toBe(400);
  });

  it('lists across namespaces and filters by field selector; an unsupported field is a 400', async () => {
    await core.createNamespace({ body: { metadata: { name: 'x' } } });
    await core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'one' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'two' } } });
    const all = await core.listConfigMapForAllNamespaces({});
    expect(all.items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`)).toEqual(['default/two', 'x/one']);
    const byName = await core.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=one' });
    expect(byName.items.map((c) => c.metadata?.name)).toEqual(['one']);
    const notName = await core.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name!=one' });
    expect(notName.items.map((c) => c.metadata?.name)).toEqual(['two']);
    expect((await statusOf(core.listConfigMapForAllNamespaces({ fieldSelector: 'data.a=1' }))).code).toBe(400);
    expect((await statusOf(core.listConfigMapForAllNamespaces({ fieldSelector: 'nonsense' }))).code).toBe(400);
  });

  it('serves cluster-scoped namespaces, with the defaults present from the start', async () => {
    const list = await core.listNamespace();
    expect(list.items.map((n) => n.metadata?.name)).toEqual(['default', 'kube-public', 'kube-system']);
    const created = await core.createNamespace({ body: { metadata: { name: 'team' } } });
    expect(created.metadata?.namespace).toBeUndefined();
    expect((await core.readNamespace({ name: 'team' })).metadata?.uid).toBe(created.metadata?.uid);
  });

  it('generates a name from generateName', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'cfg-' } } });
    expect(created.metadata?.name).toMatch(/^cfg-[0-9a-z]{5}$/);
  });

  it('answers 404 NotFound as a Status for an absent object, an absent namespace and an unserved path', async () => {
    const status = await statusOf(apps.readNamespacedDeployment({ name: 'nope', namespace: 'default' }));
    expect(status).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound', message: 'deployments.apps "nope" not found', details: { name: 'nope', group: 'apps', kind: 'deployments' } });
    const ns = await statusOf(apps.createNamespacedDeployment({ namespace: 'missing', body: deployment('web') }));
    expect(ns).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "missing" not found' });
    for (const path of ['/apis/apps/v1/namespaces/default/widgets', '/apis/nope/v1/things', '/api/v1/namespaces/default/pods/p/exec', '/api/v2', '/apis/nope', '/apis/nope/v1', '/metrics', '/api/v1/pods/p', '/api/v1/namespaces/default/configmaps/c/status']) {
      const res = await rawRequest({ server, path });
      expect(res.status, path).toBe(404);
      expect(res.body.kind).toBe('Status');
    }
    const scale = await rawRequest({ server, path: '/api/v1/namespaces/default/configmaps/c/scale' });
    expect(scale.status).toBe(404);
  });

  it('answers 409 AlreadyExists to a second create of the same name', async () => {
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    const status = await statusOf(apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') }));
    expect(status).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'deployments.apps "web" already exists' });
  });

  it('updates with the current resourceVersion, answers 409 Conflict to a stale one, and bumps generation only on spec changes', async () => {
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    const relabelled = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'default', body: { ...created, metadata: { ...created.metadata, labels: { app: 'web', extra: 'yes' } } } });
    expect(relabelled.metadata?.generation).toBe(1);
    expect(relabelled.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);
    const scaled = await apps.replaceNamespacedDeployment({ name: 'web', namespace: 'default', body: { ...relabelled, spec: { ...relabelled.spec!, replicas: 5 } } });
    expect(scaled.metadata?.generation).toBe(2);
    expect(scaled.spec?.replicas).toBe(5);
    // The first copy is stale now.
    const status = await statusOf(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'default', body: { ...created, spec: { ...created.spec!, replicas: 9 } } }));
    expect(status).toMatchObject({ kind: 'Status', code: 409, reason: 'Conflict' });
    expect(status.message).toContain('the object has been modified');
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' })).spec?.replicas).toBe(5);
  });

  it('keeps uid and creationTimestamp on update whatever the client sends', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' }, data: { a: '1' } } });
    const updated = await core.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: { metadata: { name: 'c', uid: 'forged' }, data: { a: '2' } } });
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    expect(updated.data).toEqual({ a: '2' });
  });

  it('refuses an update of an absent object (404), a name that differs from the URL (400) and a body of another kind (400)', async () => {
    expect((await statusOf(core.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: { metadata: { name: 'c' } } }))).code).toBe(404);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' } } });
    const renamed = await statusOf(core.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: { metadata: { name: 'd' } } }));
    expect(renamed).toMatchObject({ code: 400, reason: 'BadRequest' });
    const wrongKind = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { kind: 'Secret', metadata: { name: 's' } } });
    expect(wrongKind.status).toBe(400);
    const wrongGroup = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { apiVersion: 'apps/v1', metadata: { name: 's' } } });
    expect(wrongGroup.status).toBe(400);
    const wrongNs = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 's', namespace: 'other' } } });
    expect(wrongNs.status).toBe(400);
  });

  it('refuses a body that is not JSON or not an object with 400, a method the resource lacks with 405', async () => {
    const notJson = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: '{"metadata":' });
    expect(notJson).toMatchObject({ status: 400, body: { kind: 'Status', reason: 'BadRequest' } });
    const notObject = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: [1] });
    expect(notObject.status).toBe(400);
    const badMeta = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: 'x' } });
    expect(badMeta.status).toBe(400);
    const put = await rawRequest({ server, method: 'PUT', path: '/api/v1/namespaces/default/configmaps', body: {} });
    expect(put).toMatchObject({ status: 405, body: { reason: 'MethodNotAllowed' } });
    const post = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps/c', body: {} });
    expect(post.status).toBe(405);
    const allNamespaces = await rawRequest({ server, method: 'POST', path: '/api/v1/configmaps', body: { metadata: { name: 'c', namespace: 'default' } } });
    expect(allNamespaces.status).toBe(405);
    // Called directly, the cluster wants a namespace for a namespaced kind.
    expect(() => server.cluster.create({ type: server.cluster.type('', 'v1', 'configmaps'), body: { metadata: { name: 'c' } } })).toThrow(expect.objectContaining({ code: 'BadRequest', httpStatus: 400 }));
    expect(() => server.cluster.type('', 'v1', 'widgets')).toThrow(expect.objectContaining({ code: 'NotFound' }));
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } } });
    const delStatus = await rawRequest({ server, method: 'DELETE', path: '/api/v1/namespaces/default/pods/p/status' });
    expect(delStatus.status).toBe(405);
  });

  it('answers 422 Invalid with causes for an object the schema or the workload rules refuse', async () => {
    const mismatch = deployment('web');
    mismatch.spec!.template.metadata!.labels = { app: 'other' };
    const status = await statusOf(apps.createNamespacedDeployment({ namespace: 'default', body: mismatch }));
    expect(status).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(status.details!.causes.map((c) => c.field)).toContain('spec.template.metadata.labels');
    expect(status.message).toContain('`selector` does not match template `labels`');

    const noSelector = deployment('web');
    delete (noSelector.spec as { selector?: unknown }).selector;
    expect((await statusOf(apps.createNamespacedDeployment({ namespace: 'default', body: noSelector }))).code).toBe(422);

    const badPod = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/pods', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 3, image: 'x' }] } } });
    expect(badPod.status).toBe(422);
    expect(badPod.body.details.causes[0].field).toBe('spec.containers.0.name');

    const badName = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: { name: 'Not_Valid' } } });
    expect(badName).toMatchObject({ status: 422, body: { details: { causes: [{ field: 'metadata.name' }] } } });
    const noName = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: { metadata: {} } });
    expect(noName.status).toBe(422);
  });

  it('refuses to change a Deployment selector (immutable in apps/v1)', async () => {
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    const changed = { ...created, spec: { ...created.spec!, selector: { matchLabels: { app: 'web', v: '2' } }, template: { ...created.spec!.template, metadata: { labels: { app: 'web', v: '2' } } } } };
    const status = await statusOf(apps.replaceNamespacedDeployment({ name: 'web', namespace: 'default', body: changed }));
    expect(status.code).toBe(422);
    expect(status.message).toContain('field is immutable');
  });

  it('deletes with the owner-reference cascade: the Deployment takes its ReplicaSet and the ReplicaSet its Pods', async () => {
    const d = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    const rsBody = { metadata: { name: 'web-abc', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata!.uid!, controller: true }] }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: deployment('web').spec!.template } };
    const rs = await apps.createNamespacedReplicaSet({ namespace: 'default', body: rsBody });
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'web-abc-1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: rs.metadata!.uid! }] }, spec: { containers: [{ name: 'app', image: 'nginx' }] } } });
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'bystander' }, spec: { containers: [{ name: 'app', image: 'nginx' }] } } });
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect((await apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name)).toEqual(['bystander']);
    expect((await statusOf(apps.deleteNamespacedDeployment({ name: 'web', namespace: 'default' }))).code).toBe(404);
  });

  it('orphans dependents on propagationPolicy Orphan', async () => {
    const d = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('web') });
    await apps.createNamespacedReplicaSet({ namespace: 'default', body: { metadata: { name: 'web-abc', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata!.uid! }] }, spec: { selector: { matchLabels: { app: 'web' } }, template: deployment('web').spec!.template } } });
    await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'default', propagationPolicy: 'Orphan' });
    const rs = await apps.readNamespacedReplicaSet({ name: 'web-abc', namespace: 'default' });
    expect(rs.metadata?.ownerReferences).toBeUndefined();
  });

  it('honours delete preconditions with a 409', async () => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' } } });
    const status = await statusOf(core.deleteNamespacedConfigMap({ name: 'c', namespace: 'default', body: { preconditions: { uid: 'not-the-uid' } } }));
    expect(status.code).toBe(409);
    const rv = await statusOf(core.deleteNamespacedConfigMap({ name: 'c', namespace: 'default', body: { preconditions: { resourceVersion: '1' } } }));
    expect(rv.code).toBe(409);
    await core.deleteNamespacedConfigMap({ name: 'c', namespace: 'default' });
  });

  it('deletes a namespace with everything in it, and a collection by label selector', async () => {
    await core.createNamespace({ body: { metadata: { name: 'x' } } });
    await core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'a', labels: { k: 'v' } } } });
    await core.createNamespacedConfigMap({ namespace: 'x', body: { metadata: { name: 'b' } } });
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'x', labelSelector: 'k=v' });
    expect((await core.listNamespacedConfigMap({ namespace: 'x' })).items.map((c) => c.metadata?.name)).toEqual(['b']);
    await core.deleteNamespace({ name: 'x' });
    expect((await core.listConfigMapForAllNamespaces({})).items).toEqual([]);
  });

  it('decodes a YAML body, and refuses a protobuf body with 415 rather than misreading it', async () => {
    const yaml = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: 'metadata:\n  name: from-yaml\ndata:\n  a: "1"\n', contentType: 'application/yaml' });
    expect(yaml.status).toBe(201);
    expect(yaml.body.data).toEqual({ a: '1' });
    const proto = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: 'k8s\u0000...', contentType: 'application/vnd.kubernetes.protobuf' });
    expect(proto).toMatchObject({ status: 415, body: { kind: 'Status', reason: 'UnsupportedMediaType' } });
  });

  it('answers 401 Unauthorized without the bearer token', async () => {
    const res = await rawRequest({ server, path: '/api/v1/namespaces', token: null });
    expect(res).toMatchObject({ status: 401, body: { kind: 'Status', reason: 'Unauthorized', code: 401 } });
    const wrong = await rawRequest({ server, path: '/api/v1/namespaces', token: 'other' });
    expect(wrong.status).toBe(401);
  });

  it('serves the other kinds of the issue: Service (clusterIP allocated), Lease, both Events', async () => {
    const svc = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } });
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(svc.spec?.ports?.[0]).toMatchObject({ protocol: 'TCP', targetPort: 80 });
    // An update without the address keeps it; changing it is refused as the field is immutable.
    const kept = await core.replaceNamespacedService({ name: 'web', namespace: 'default', body: { metadata: { name: 'web' }, spec: { selector: { app: 'web', v: '2' }, ports: [{ port: 80 }] } } });
    expect(kept.spec?.clusterIP).toBe(svc.spec?.clusterIP);
    expect(kept.spec?.selector).toEqual({ app: 'web', v: '2' });
    const moved = await statusOf(core.replaceNamespacedService({ name: 'web', namespace: 'default', body: { metadata: { name: 'web' }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } } }));
    expect(moved.code).toBe(422);
    expect(moved.message).toContain('spec.clusterIP');
    const lease = await rawRequest({ server, method: 'POST', path: '/apis/coordination.k8s.io/v1/namespaces/default/leases', body: { metadata: { name: 'l' }, spec: { holderIdentity: 'me', renewTime: '2026-11-28T10:00:00.123456Z' } } });
    expect(lease.status).toBe(201);
    const ev = await rawRequest({ server, method: 'POST', path: '/apis/events.k8s.io/v1/namespaces/default/events', body: { metadata: { name: 'e' }, eventTime: '2026-11-28T10:00:00.123456Z', reportingController: 'graylane', reportingInstance: 'x', action: 'Scale', reason: 'Scaled', type: 'Normal', regarding: { kind: 'Deployment', name: 'web' } } });
    expect(ev.status).toBe(201);
    const coreEv = await core.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'e2' }, involvedObject: { kind: 'Deployment', name: 'web' }, reason: 'Scaled' } });
    expect(coreEv.reason).toBe('Scaled');
    const byObject = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=web' });
    expect(byObject.items.map((e) => e.metadata?.name)).toEqual(['e2']);
  });
});
