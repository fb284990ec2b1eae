import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppsV1Api, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { kubeConfigFor } from '../fixtures/kube/kubeconfig.js';
import { rawRequest, type RawResponse } from '../fixtures/kube/raw-request.js';
import { widgetCrd } from '../fixtures/kube/sample-crd.js';

let server: FakeApiServer;
let apps: AppsV1Api;
const path = '/apis/apps/v1/namespaces/default/deployments/web';

beforeEach(async () => {
  server = await FakeApiServer.start({ token: 't' });
  apps = kubeConfigFor({ server }).makeApiClient(AppsV1Api);
  const res = await rawRequest({ server, method: 'POST', path: '/apis/apps/v1/namespaces/default/deployments', body: web() });
  expect(res.status).toBe(201);
});
afterEach(async () => server.close());

function web(): V1Deployment {
  return {
    metadata: { name: 'web', labels: { app: 'web', drop: 'me' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            { name: 'app', image: 'app:1', args: ['--a'], env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 8080, name: 'http' }] },
            { name: 'sidecar', image: 'proxy:1' },
          ],
        },
      },
    },
  };
}

const patch = (body: unknown, contentType: string, at = path): Promise<RawResponse> => rawRequest({ server, method: 'PATCH', path: at, body, contentType });

describe('fake API server: patches', () => {
  it('applies a merge patch from client-node: fields replace, null removes', async () => {
    const out = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'default', body: { metadata: { labels: { drop: null } }, spec: { replicas: 4 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(out.spec?.replicas).toBe(4);
    expect(out.metadata?.labels).toEqual({ app: 'web' });
    expect(out.metadata?.generation).toBe(2);
    // A merge patch replaces lists whole.
    const res = await patch({ spec: { template: { spec: { containers: [{ name: 'only', image: 'x:1' }] } } } }, 'application/merge-patch+json');
    expect(res.body.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['only']);
  });

  it('applies a strategic merge patch: containers and env merge by name, container ports by containerPort, other lists replace', async () => {
    const out = await apps.patchNamespacedDeployment({
      name: 'web', namespace: 'default',
      body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2', args: ['--b'], env: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }], ports: [{ containerPort: 8080, name: 'web' }, { containerPort: 9090, name: 'metrics' }] }] } } } },
    }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    const [app, sidecar] = out.spec!.template.spec!.containers;
    expect(sidecar?.image).toBe('proxy:1');
    expect(app?.image).toBe('app:2');
    expect(app?.args).toEqual(['--b']);
    expect(app?.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: 'two' }, { name: 'C', value: '3' }]);
    expect(app?.ports?.map((p) => `${p.containerPort}/${p.name}`)).toEqual(['8080/web', '9090/metrics']);
  });

  it('honours $patch: delete, $patch: replace and kubectl’s $setElementOrder and $deleteFromPrimitiveList directives', async () => {
    const deleted = await patch({ spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } }, 'application/strategic-merge-patch+json');
    expect(deleted.body.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['app']);
    const ordered = await patch({ spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'app' }], containers: [{ name: 'app', image: 'app:3' }] } } } }, 'application/strategic-merge-patch+json');
    expect(ordered.status).toBe(200);
    expect(JSON.stringify(ordered.body)).not.toContain('$setElementOrder');
    const replaced = await patch({ spec: { template: { spec: { containers: [{ name: 'new', image: 'n:1' }, { $patch: 'replace' }] } } } }, 'application/strategic-merge-patch+json');
    expect(replaced.body.spec.template.spec.containers).toEqual([expect.objectContaining({ name: 'new', image: 'n:1' })]);
    const finalizers = await patch({ metadata: { finalizers: ['a', 'b'] } }, 'application/strategic-merge-patch+json');
    expect(finalizers.body.metadata.finalizers).toEqual(['a', 'b']);
    const union = await patch({ metadata: { finalizers: ['b', 'c'] } }, 'application/strategic-merge-patch+json');
    expect(union.body.metadata.finalizers).toEqual(['a', 'b', 'c']);
    const removed = await patch({ metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }, 'application/strategic-merge-patch+json');
    expect(removed.body.metadata.finalizers).toEqual(['b', 'c']);
  });

  it('merges Service ports by port in a strategic merge patch', async () => {
    await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/default/services', body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81 }] } } });
    const res = await patch({ spec: { ports: [{ name: 'web', port: 80, targetPort: 8080 }] } }, 'application/strategic-merge-patch+json', '/api/v1/namespaces/default/services/web');
    expect(res.body.spec.ports.map((p: { name: string; port: number; targetPort: number }) => `${p.name}:${p.port}->${p.targetPort}`)).toEqual(['web:80->8080', 'admin:81->81']);
  });

  it('applies a JSON patch from client-node, and answers 422 when an operation cannot apply', async () => {
    const out = await apps.patchNamespacedDeployment({ name: 'web', namespace: 'default', body: [
      { op: 'test', path: '/spec/replicas', value: 2 },
      { op: 'replace', path: '/spec/replicas', value: 3 },
      { op: 'add', path: '/metadata/labels/extra', value: 'x' },
      { op: 'remove', path: '/metadata/labels/drop' },
      { op: 'copy', from: '/metadata/labels/extra', path: '/metadata/labels/copy' },
    ] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
    expect(out.spec?.replicas).toBe(3);
    expect(out.metadata?.labels).toEqual({ app: 'web', extra: 'x', copy: 'x' });
    const moved = await patch([{ op: 'move', from: '/metadata/labels/extra', path: '/metadata/labels/moved' }, { op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'third', image: 't:1' } }], 'application/json-patch+json');
    expect(moved.body.metadata.labels).toEqual({ app: 'web', copy: 'x', moved: 'x' });
    expect(moved.body.spec.template.spec.containers).toHaveLength(3);
    for (const ops of [
      [{ op: 'test', path: '/spec/replicas', value: 99 }],
      [{ op: 'remove', path: '/metadata/labels/absent' }],
      [{ op: 'replace', path: '/spec/nothing/here', value: 1 }],
      [{ op: 'add', path: '/spec/template/spec/containers/9', value: {} }],
      [{ op: 'add', path: 'no-slash', value: 1 }],
      [{ op: 'frobnicate', path: '/spec' }],
    ]) {
      const res = await patch(ops, 'application/json-patch+json');
      expect(res.status, JSON.stringify(ops)).toBe(422);
      expect(res.body.kind).toBe('Status');
    }
    expect((await patch({ op: 'add' }, 'application/json-patch+json')).status).toBe(400);
  });

  it('refuses a merge patch that is not an object (400), an unknown patch type (415), a stale resourceVersion (409), an absent object (404)', async () => {
    expect((await patch([1], 'application/merge-patch+json')).status).toBe(400);
    expect((await patch([1], 'application/strategic-merge-patch+json')).status).toBe(400);
    expect((await patch({ spec: { template: { spec: { containers: ['app'] } } } }, 'application/strategic-merge-patch+json')).status).toBe(400);
    expect((await patch({}, 'application/json')).body).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    expect((await patch({ metadata: { resourceVersion: '1' }, spec: { replicas: 1 } }, 'application/merge-patch+json')).status).toBe(409);
    expect((await patch({}, 'application/merge-patch+json', '/apis/apps/v1/namespaces/default/deployments/absent')).status).toBe(404);
    expect((await patch([{ op: 'replace', path: '/metadata', value: 'x' }], 'application/json-patch+json')).status).toBe(400);
  });

  it('refuses a strategic merge patch on a custom resource with 415, as the real server does', async () => {
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() });
    const at = '/apis/example.dev/v1alpha1/namespaces/default/widgets/w';
    await rawRequest({ server, method: 'POST', path: '/apis/example.dev/v1alpha1/namespaces/default/widgets', body: { metadata: { name: 'w' }, spec: { size: 1 } } });
    const res = await patch({ spec: { size: 2 } }, 'application/strategic-merge-patch+json', at);
    expect(res.body).toMatchObject({ kind: 'Status', code: 415, reason: 'UnsupportedMediaType' });
    expect(res.status).toBe(415);
    expect((await patch({ spec: { size: 2 } }, 'application/merge-patch+json', at)).body.spec.size).toBe(2);
  });
});

describe('fake API server: status and scale subresources', () => {
  it('ignores status on create and on writes to the main resource', async () => {
    const created = await rawRequest({ server, method: 'POST', path: '/apis/apps/v1/namespaces/default/deployments', body: { ...web(), metadata: { name: 'other' }, status: { replicas: 7 } } });
    expect(created.body.status).toBeUndefined();
    const res = await patch({ spec: { replicas: 5 }, status: { replicas: 5 } }, 'application/merge-patch+json');
    expect(res.body.spec.replicas).toBe(5);
    expect(res.body.status).toBeUndefined();
  });

  it('changes only status through /status (PUT and PATCH), without bumping generation', async () => {
    const current = (await rawRequest({ server, path })).body;
    const out = await apps.replaceNamespacedDeploymentStatus({ name: 'web', namespace: 'default', body: { ...current, spec: { ...current.spec, replicas: 9 }, status: { replicas: 2, conditions: [{ type: 'Available', status: 'True' }] } } });
    expect(out.status?.conditions?.[0]?.type).toBe('Available');
    expect(out.spec?.replicas).toBe(2);
    expect(out.metadata?.generation).toBe(1);
    const patched = await patch({ status: { readyReplicas: 2 }, spec: { replicas: 8 } }, 'application/merge-patch+json', `${path}/status`);
    expect(patched.body.status).toMatchObject({ replicas: 2, readyReplicas: 2 });
    expect(patched.body.spec.replicas).toBe(2);
    const stale = await rawRequest({ server, method: 'PUT', path: `${path}/status`, body: { ...current, status: {} } });
    expect(stale.status).toBe(409);
  });

  it('reads and writes spec.replicas through /scale as autoscaling/v1 Scale', async () => {
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'default' });
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 2 }, status: { replicas: 0, selector: 'app=web' } });
    const written = await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { metadata: { name: 'web' }, spec: { replicas: 6 } } });
    expect(written.spec?.replicas).toBe(6);
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect(d.spec?.replicas).toBe(6);
    expect(d.metadata?.generation).toBe(2);
    const patched = await patch({ spec: { replicas: 1 } }, 'application/merge-patch+json', `${path}/scale`);
    expect(patched.body.spec.replicas).toBe(1);
    const strategic = await patch({ spec: { replicas: 3 } }, 'application/strategic-merge-patch+json', `${path}/scale`);
    expect(strategic.body.spec.replicas).toBe(3);
    const negative = await rawRequest({ server, method: 'PUT', path: `${path}/scale`, body: { metadata: { name: 'web' }, spec: { replicas: -1 } } });
    expect(negative).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    const stale = await rawRequest({ server, method: 'PUT', path: `${path}/scale`, body: { metadata: { name: 'web', resourceVersion: '1' }, spec: { replicas: 2 } } });
    expect(stale.status).toBe(409);
    expect((await rawRequest({ server, method: 'PUT', path: `${path}/scale`, body: 'null' })).status).toBe(400);
  });

  it('serves a CRD’s declared status and scale subresources', async () => {
    await rawRequest({ server, method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: widgetCrd() });
    const base = '/apis/example.dev/v1alpha1/namespaces/default/widgets';
    const created = await rawRequest({ server, method: 'POST', path: base, body: { metadata: { name: 'w' }, spec: { size: 1, replicas: 2 }, status: { phase: 'ignored' } } });
    expect(created.body.status).toBeUndefined();
    const status = await patch({ status: { phase: 'Healthy', replicas: 2, selector: 'app=w' } }, 'application/merge-patch+json', `${base}/w/status`);
    expect(status.body.status.phase).toBe('Healthy');
    const scale = await rawRequest({ server, path: `${base}/w/scale` });
    expect(scale.body).toMatchObject({ kind: 'Scale', spec: { replicas: 2 }, status: { replicas: 2, selector: 'app=w' } });
    await rawRequest({ server, method: 'PUT', path: `${base}/w/scale`, body: { metadata: { name: 'w' }, spec: { replicas: 4 } } });
    const w = await rawRequest({ server, path: `${base}/w` });
    expect(w.body.spec.replicas).toBe(4);
    expect(w.body.metadata.generation).toBe(2);
    // A custom resource must carry its resourceVersion on update.
    const blind = await rawRequest({ server, method: 'PUT', path: `${base}/w`, body: { metadata: { name: 'w' }, spec: { size: 1 } } });
    expect(blind).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
  });
});
