import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { widgetCrd } from '../fixtures/kube/sample-crd.js';

const kubectlPath = '/usr/bin/kubectl';
const run = promisify(execFile);

const deploymentYaml = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: x
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
`;

// The package kubernetes-client provides it (.ci/run installs it); without it there is nothing to run.
describe.skipIf(!existsSync(kubectlPath))('fake API server driven by the real kubectl (skipped only when /usr/bin/kubectl is absent)', () => {
  let server: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  const kubectl = async (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 });

  beforeAll(async () => {
    // No token required: client-go never sends a bearer token over plain http, so the kubeconfig's
    // token would not reach the server (client-node tests cover the 401 path).
    server = await FakeApiServer.start();
    dir = await mkdtemp(join(tmpdir(), 'graylane-kubectl-'));
    kubeconfig = await writeKubeconfig({ server, dir, namespace: 'x' });
    const ns = await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: 'x' } } });
    expect(ns.status).toBe(201);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('kubectl apply -f creates, then updates through a patch (with --validate=false: no validation asked of the server)', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, deploymentYaml(2));
    expect((await kubectl('apply', '--validate=false', '-f', file)).stdout.trim()).toBe('deployment.apps/web created');
    await writeFile(file, deploymentYaml(4));
    expect((await kubectl('apply', '--validate=false', '-f', file)).stdout.trim()).toBe('deployment.apps/web configured');
    const stored = (await rawRequest({ server, path: '/apis/apps/v1/namespaces/x/deployments/web' })).body;
    expect(stored.spec.replicas).toBe(4);
    expect(stored.metadata.generation).toBe(2);
    expect(stored.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('"replicas":4');
  });

  it('kubectl apply -f with its default validation: the fake\'s OpenAPI v3 documents say the server validates fields, so kubectl asks it to (fieldValidation=Strict) and needs no schema of its own', async () => {
    const file = join(dir, 'api.yaml');
    const seen = server.requests.length;
    await writeFile(file, deploymentYaml(1).replace('name: web', 'name: api'));
    expect((await kubectl('apply', '-f', file)).stdout.trim()).toBe('deployment.apps/api created');
    await writeFile(file, deploymentYaml(3).replace('name: web', 'name: api'));
    expect((await kubectl('apply', '-f', file)).stdout.trim()).toBe('deployment.apps/api configured');
    expect((await rawRequest({ server, path: '/apis/apps/v1/namespaces/x/deployments/api' })).body.spec.replicas).toBe(3);
    const writes = server.requests.slice(seen).filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${new URL(r.path, server.url).searchParams.get('fieldValidation')}`)).toEqual(['POST Strict', 'PATCH Strict']);
  });

  it('kubectl get pods -n x -o json lists what the API holds', async () => {
    await rawRequest({ server, method: 'POST', path: '/api/v1/namespaces/x/pods', body: { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } } });
    const { stdout } = await kubectl('get', 'pods', '-n', 'x', '-o', 'json');
    const list = JSON.parse(stdout);
    expect(list.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(['web-1']);
    expect(list.items[0].status.phase).toBe('Pending');
    const selected = JSON.parse((await kubectl('get', 'pods', '-n', 'x', '-l', 'app=other', '-o', 'json')).stdout);
    expect(selected.items).toEqual([]);
  });

  it('kubectl patch deployment --type merge changes the object', async () => {
    const { stdout } = await kubectl('patch', 'deployment', 'web', '-n', 'x', '--type', 'merge', '-p', '{"spec":{"replicas":3}}');
    expect(stdout.trim()).toBe('deployment.apps/web patched');
    expect((await rawRequest({ server, path: '/apis/apps/v1/namespaces/x/deployments/web' })).body.spec.replicas).toBe(3);
    const strategic = await kubectl('patch', 'deployment', 'web', '-n', 'x', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}');
    expect(strategic.stdout.trim()).toBe('deployment.apps/web patched');
  });

  it('kubectl wait --for=condition=Available returns once the condition is set through /status', async () => {
    const waiting = kubectl('wait', '--for=condition=Available', 'deployment/web', '-n', 'x', '--timeout=5s');
    await new Promise((r) => setTimeout(r, 300));
    const res = await rawRequest({ server, method: 'PATCH', path: '/apis/apps/v1/namespaces/x/deployments/web/status', contentType: 'application/merge-patch+json', body: { status: { conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] } } });
    expect(res.status).toBe(200);
    expect((await waiting).stdout.trim()).toBe('deployment.apps/web condition met');
  });

  it('kubectl wait times out while the condition is not met', async () => {
    await rawRequest({ server, method: 'POST', path: '/apis/apps/v1/namespaces/x/deployments', body: { metadata: { name: 'never' }, spec: { selector: { matchLabels: { app: 'n' } }, template: { metadata: { labels: { app: 'n' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
    await expect(kubectl('wait', '--for=condition=Available', 'deployment/never', '-n', 'x', '--timeout=1s')).rejects.toMatchObject({ stderr: expect.stringContaining('timed out waiting for the condition') });
  });

  it('kubectl get prints a CRD’s printer columns and resolves its short name', async () => {
    const crd = join(dir, 'crd.json');
    await writeFile(crd, JSON.stringify(widgetCrd()));
    expect((await kubectl('create', '--validate=false', '-f', crd)).stdout.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/widgets.example.dev created');
    const widget = join(dir, 'widget.yaml');
    await writeFile(widget, 'apiVersion: example.dev/v1alpha1\nkind: Widget\nmetadata:\n  name: w\n  namespace: x\nspec:\n  size: 3\n');
    expect((await kubectl('apply', '--validate=false', '-f', widget)).stdout.trim()).toBe('widget.example.dev/w created');
    await rawRequest({ server, method: 'PATCH', path: '/apis/example.dev/v1alpha1/namespaces/x/widgets/w/status', contentType: 'application/merge-patch+json', body: { status: { phase: 'Healthy' } } });
    const { stdout } = await kubectl('get', 'wd', '-n', 'x');
    const [header, row] = stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    // Its columns replace the default Age (it declares none of its own), as on a real server.
    expect(header).toEqual(['NAME', 'PHASE', 'SIZE']);
    expect(row?.slice(0, 3)).toEqual(['w', 'Healthy', '3']);
    const scaled = await kubectl('scale', 'widget/w', '-n', 'x', '--replicas=2');
    expect(scaled.stdout.trim()).toBe('widget.example.dev/w scaled');
    expect((await rawRequest({ server, path: '/apis/example.dev/v1alpha1/namespaces/x/widgets/w' })).body.spec.replicas).toBe(2);
  });

  it('kubectl sees a 404 Status as NotFound and a protobuf body refused with 415', async () => {
    await expect(kubectl('get', 'deployment', 'absent', '-n', 'x')).rejects.toMatchObject({ stderr: expect.stringContaining('Error from server (NotFound): deployments.apps "absent" not found') });
    // Typed create commands send protobuf, which the fake does not decode.
    await expect(kubectl('create', 'configmap', 'c', '-n', 'x')).rejects.toMatchObject({ stderr: expect.stringContaining('decodes JSON only') });
  });
});
