import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiextensionsV1Api, CustomObjectsApi, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest, type RawResponse } from '../fixtures/kube/raw-request.js';
import { widgetCrd } from '../fixtures/kube/sample-crd.js';

let server: FakeApiServer;

beforeEach(async () => {
  server = await FakeApiServer.start({ token: 't' });
});
afterEach(async () => server.close());

const get = async (path: string): Promise<RawResponse['body']> => {
  const res = await rawRequest({ server, path });
  expect(res.status, path).toBe(200);
  return res.body;
};

describe('fake API server: discovery', () => {
  it('lists the core version, the named groups and their resources with verbs, short names and subresources', async () => {
    expect(await get('/api')).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const core = await get('/api/v1');
    expect(core).toMatchObject({ kind: 'APIResourceList', groupVersion: 'v1' });
    const pods = core.resources.find((r: { name: string }) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'], singularName: 'pod' });
    expect(pods.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']));
    expect(core.resources.find((r: { name: string }) => r.name === 'namespaces')).toMatchObject({ namespaced: false });
    expect(core.resources.map((r: { name: string }) => r.name)).toContain('pods/status');

    const groups = await get('/apis');
    expect(groups.kind).toBe('APIGroupList');
    expect(groups.groups.map((g: { name: string }) => g.name)).toEqual(['apiextensions.k8s.io', 'apps', 'batch', 'coordination.k8s.io', 'events.k8s.io', 'networking.k8s.io']);
    expect(await get('/apis/apps')).toMatchObject({ kind: 'APIGroup', name: 'apps', preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } });
    const apps = await get('/apis/apps/v1');
    const names = apps.resources.map((r: { name: string }) => r.name);
    expect(names).toEqual(expect.arrayContaining(['deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/scale']));
    expect(apps.resources.find((r: { name: string }) => r.name === 'deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(await get('/version')).toMatchObject({ major: '1' });
  });

  it('lets client-node’s generic KubernetesObjectApi map kinds to resources', async () => {
    const objects = kubeConfigFor({ server }).makeApiClient(KubernetesObjectApi);
    const created = await objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { a: '1' } } as KubernetesObject);
    expect(created.metadata?.uid).toBeDefined();
    const read = await objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } });
    expect((read as { data?: Record<string, string> }).data).toEqual({ a: '1' });
  });
});

describe('fake API server: CustomResourceDefinitions', () => {
  it('serves a created CRD’s resource in discovery and CRUD, with status conditions Established', async () => {
    const kc = kubeConfigFor({ server });
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await ext.createCustomResourceDefinition({ body: widgetCrd() as never });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1' })).status).toBe(200);
    const discovery = await get('/apis/example.dev/v1alpha1');
    expect(discovery.resources.map((r: { name: string }) => r.name)).toEqual(['widgets', 'widgets/status', 'widgets/scale']);
    expect(discovery.resources[0]).toMatchObject({ kind: 'Widget', namespaced: true, shortNames: ['wd'] });
    expect((await get('/apis')).groups.map((g: { name: string }) => g.name)).toContain('example.dev');

    const custom = kc.makeApiClient(CustomObjectsApi);
    const w = await custom.createNamespacedCustomObject({ group: 'example.dev', version: 'v1alpha1', namespace: 'default', plural: 'widgets', body: { apiVersion: 'example.dev/v1alpha1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 2 } } }) as KubernetesObject & { spec: { size: number } };
    expect(w.metadata?.generation).toBe(1);
    const listed = await custom.listNamespacedCustomObject({ group: 'example.dev', version: 'v1alpha1', namespace: 'default', plural: 'widgets' }) as { kind: string; items: KubernetesObject[] };
    expect(listed.kind).toBe('WidgetList');
    expect(listed.items.map((i) => i.metadata?.name)).toEqual(['w']);
  });

  it('answers a Table with the CRD’s printer columns when the client asks for one, as kubectl get does', async () => {
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() });
    const base = '/apis/example.dev/v1alpha1/namespaces/default/widgets';
    await rawRequest({ server, method: 'POST', path: base, body: { metadata: { name: 'w' }, spec: { size: 3 } } });
    await rawRequest({ server, method: 'PATCH', path: `${base}/w/status`, contentType: 'application/merge-patch+json', body: { status: { phase: 'Healthy', conditions: [{ type: 'Ready', status: 'True' }] } } });
    const table = async (path: string): Promise<RawResponse['body']> => {
      const response = await fetch(`${server.url}${path}`, { headers: { Authorization: 'Bearer t', Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
      return await response.json() as RawResponse['body'];
    };
    const list = await table(base);
    expect(list.kind).toBe('Table');
    // A CRD that declares its columns gets Name and those only (as the API server does): no Age unless declared.
    expect(list.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'Phase', 'Size', 'First-Condition']);
    expect(list.rows[0].cells).toEqual(['w', 'Healthy', 3, 'Ready']);
    expect(list.rows[0].object.metadata.name).toBe('w');
    const one = await table(`${base}/w`);
    expect(one.rows).toHaveLength(1);
    // Without the Table media type first, the plain object.
    expect((await rawRequest({ server, path: `${base}/w` })).body.kind).toBe('Widget');
  });

  it('stops serving the resource, and drops its objects, when the CRD is deleted', async () => {
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() });
    await rawRequest({ server, method: 'POST', path: '/apis/example.dev/v1alpha1/namespaces/default/widgets', body: { metadata: { name: 'w' }, spec: { size: 1 } } });
    const del = await rawRequest({ server, method: 'DELETE', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.dev' });
    expect(del.status).toBe(200);
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1/namespaces/default/widgets' })).status).toBe(404);
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1' })).status).toBe(404);
    expect((await rawRequest({ server, path: '/apis/example.dev' })).status).toBe(404);
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() });
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1/namespaces/default/widgets' })).body.items).toEqual([]);
  });

  it('refuses a CRD the real server would refuse with 422 Invalid', async () => {
    const bad = widgetCrd() as { metadata: { name: string }; spec: Record<string, unknown> };
    bad.metadata.name = 'wrong.example.dev';
    const wrongName = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: bad });
    expect(wrongName).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    const noSchema = widgetCrd() as { spec: { versions: Array<Record<string, unknown>> } };
    delete noSchema.spec.versions[0]!.schema;
    const r2 = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: noSchema });
    expect(r2.status).toBe(422);
    expect(r2.body.message).toContain('schemas are required');
    const bare = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: { metadata: { name: 'x.y' }, spec: { scope: 'Galaxy', versions: [] } } });
    expect(bare.status).toBe(422);
    // The official schema catches the missing fields first, as the real server's validation does.
    expect(bare.body.details.causes.map((c: { field: string }) => c.field)).toEqual(expect.arrayContaining(['spec.group', 'spec.names']));
    const empty = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: { metadata: { name: 'x.y' }, spec: { group: '', scope: 'Cluster', names: { plural: '', kind: '' }, versions: [] } } });
    expect(empty.body.details.causes.map((c: { field: string }) => c.field)).toEqual(['spec.group', 'spec.names.plural', 'spec.names.kind', 'metadata.name', 'spec.versions', 'spec.versions']);
    const badScope = widgetCrd() as { spec: Record<string, unknown> };
    badScope.spec.scope = 'Galaxy';
    const r3 = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: badScope });
    expect(r3.body.details.causes.map((c: { field: string }) => c.field)).toEqual(['spec.scope']);
    const twoStorage = widgetCrd() as { spec: { versions: Array<Record<string, unknown>> } };
    twoStorage.spec.versions.push({ ...twoStorage.spec.versions[0], name: 'v1' });
    const r4 = await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: twoStorage });
    expect(r4.body.message).toContain('exactly one version marked as storage');
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1' })).status).toBe(404);
  });

  it('serves a cluster-scoped custom resource without a namespace in the path', async () => {
    const crd = widgetCrd({ withSubresources: false }) as { spec: { scope: string } };
    crd.spec.scope = 'Cluster';
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: crd });
    const created = await rawRequest({ server, method: 'POST', path: '/apis/example.dev/v1alpha1/widgets', body: { metadata: { name: 'g' }, spec: { size: 1 } } });
    expect(created.status).toBe(201);
    expect(created.body.metadata.namespace).toBeUndefined();
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1/widgets/g' })).body.spec).toEqual({ size: 1 });
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1/widgets/g/status' })).status).toBe(404);
  });
});
