import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';
import { writeKubeconfig } from '../fixtures/kube/kubeconfig.js';
import { rawRequest } from '../fixtures/kube/raw-request.js';
import { installKinds } from '../fixtures/kube/install-kinds.js';

const kubectlPath = '/usr/bin/kubectl';
const run = promisify(execFile);


async function install(args: string[]): Promise<string> {
  let out = '';
  const code = await main(['install', 'kubernetes', ...args], { out: (s) => void (out += s), err: () => undefined, isTty: false, env: {}, cwd: process.cwd() });
  expect(code).toBe(0);
  return out;
}

// The package kubernetes-client provides it (.ci/run installs it); without it there is nothing to run.
describe.skipIf(!existsSync(kubectlPath))('graylane install kubernetes | kubectl apply -f - (against the fake API server; skipped only when /usr/bin/kubectl is absent)', () => {
  let server: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  const kubectl = async (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 });

  beforeAll(async () => {
    server = await FakeApiServer.start();
    for (const t of installKinds) server.cluster.registry.add(t);
    dir = await mkdtemp(join(tmpdir(), 'graylane-install-'));
    kubeconfig = await writeKubeconfig({ server, dir });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is accepted whole, creating every object in order, and applying it again changes nothing', async () => {
    const file = join(dir, 'graylane.yaml');
    await writeFile(file, await install(['--namespace', 'delivery']));
    const first = await kubectl('apply', '-f', file);
    expect(first.stdout.trim().split('\n')).toEqual([
      'namespace/delivery created',
      'customresourcedefinition.apiextensions.k8s.io/rollouts.graylane.dev created',
      'customresourcedefinition.apiextensions.k8s.io/analysistemplates.graylane.dev created',
      'customresourcedefinition.apiextensions.k8s.io/clusteranalysistemplates.graylane.dev created',
      'customresourcedefinition.apiextensions.k8s.io/analysisruns.graylane.dev created',
      'customresourcedefinition.apiextensions.k8s.io/releases.graylane.dev created',
      'serviceaccount/graylane-controller created',
      'clusterrole.rbac.authorization.k8s.io/graylane-controller created',
      'clusterrolebinding.rbac.authorization.k8s.io/graylane-controller created',
      'role.rbac.authorization.k8s.io/graylane-controller-leader-election created',
      'rolebinding.rbac.authorization.k8s.io/graylane-controller-leader-election created',
      'deployment.apps/graylane-controller created',
      'service/graylane-controller-metrics created',
    ]);
    const second = await kubectl('apply', '-f', file);
    expect(second.stdout.trim().split('\n').every((line) => line.endsWith(' unchanged')), second.stdout).toBe(true);
  });

  it('leaves a cluster that serves graylane’s kinds and holds the controller as printed', async () => {
    const rollouts = await rawRequest({ server, path: '/apis/graylane.dev/v1alpha1/namespaces/delivery/rollouts' });
    expect(rollouts.status).toBe(200);
    expect(rollouts.body.items).toEqual([]);
    const deployment = (await rawRequest({ server, path: '/apis/apps/v1/namespaces/delivery/deployments/graylane-controller' })).body;
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.serviceAccountName).toBe('graylane-controller');
    const service = (await rawRequest({ server, path: '/api/v1/namespaces/delivery/services/graylane-controller-metrics' })).body;
    expect(service.spec.ports[0].port).toBe(8090);
    // The fake validates the kinds it knows on write; the RBAC kinds are checked here against the
    // official models, as stored.
    const stored = [
      [ServiceAccount, '/api/v1/namespaces/delivery/serviceaccounts/graylane-controller'],
      [ClusterRole, '/apis/rbac.authorization.k8s.io/v1/clusterroles/graylane-controller'],
      [ClusterRoleBinding, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/graylane-controller'],
      [Role, '/apis/rbac.authorization.k8s.io/v1/namespaces/delivery/roles/graylane-controller-leader-election'],
      [RoleBinding, '/apis/rbac.authorization.k8s.io/v1/namespaces/delivery/rolebindings/graylane-controller-leader-election'],
    ] as const;
    for (const [Model, path] of stored) {
      const res = await rawRequest({ server, path });
      expect(res.status, path).toBe(200);
      expect(() => new Model(res.body as never).validate(), path).not.toThrow();
    }
    const binding = (await rawRequest({ server, path: stored[2][1] })).body;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'graylane-controller', namespace: 'delivery' }]);
  });

  it('--argo-rollouts applied over it changes the ClusterRole and the Deployment only: Argo\'s Rollouts granted in place of graylane\'s, the controller run with --argo-rollouts', async () => {
    const file = join(dir, 'graylane-argo.yaml');
    await writeFile(file, await install(['--namespace', 'delivery', '--argo-rollouts']));
    const applied = await kubectl('apply', '-f', file);
    const changed = applied.stdout.trim().split('\n').filter((line) => !line.endsWith(' unchanged'));
    expect(changed).toEqual(['clusterrole.rbac.authorization.k8s.io/graylane-controller configured', 'deployment.apps/graylane-controller configured']);
    const role = (await rawRequest({ server, path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/graylane-controller' })).body as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
    expect(() => new ClusterRole(role as never).validate()).not.toThrow();
    const rolloutRules = role.rules.filter((r) => r.resources.some((x) => x.startsWith('rollouts')));
    expect(rolloutRules).toEqual([
      { apiGroups: ['argoproj.io'], resources: ['rollouts'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
      { apiGroups: ['argoproj.io'], resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
    ]);
    expect(role.rules).toContainEqual({ apiGroups: ['argoproj.io'], resources: ['analysistemplates', 'clusteranalysistemplates'], verbs: ['get', 'list', 'watch'] });
    const deployment = (await rawRequest({ server, path: '/apis/apps/v1/namespaces/delivery/deployments/graylane-controller' })).body;
    expect(deployment.spec.template.spec.containers[0].args).toContain('--argo-rollouts');
  });

  it('is refused by the server when a printed object is broken, so the acceptance above means something', async () => {
    const broken = (await install(['--namespace', 'broken'])).replace(/ {6}app\.kubernetes\.io\/component: controller\n(?= {2}template:)/, '      app.kubernetes.io/component: other\n');
    expect(broken).toContain('app.kubernetes.io/component: other');
    const file = join(dir, 'broken.yaml');
    await writeFile(file, broken);
    await expect(kubectl('apply', '-f', file)).rejects.toMatchObject({ stderr: expect.stringContaining('selector') });
  });
});
