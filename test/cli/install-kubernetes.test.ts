import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { CRD_KINDS, crdsYaml, customResourceDefinition } from '../../src/documents/index.js';
import { GRAYLANE_VERSION } from '../../src/cli/install/install-names.js';
import { InstallOptionError, kubernetesManifests } from '../../src/cli/install/kubernetes-manifests.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: process.cwd() });
  return { code, out, err };
}

// Parsed manifests are walked by path in every test; typing each path would only restate the objects.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function documents(text: string): Loose[] {
  return parseAllDocuments(text).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Loose;
  });
}

const id = (o: Loose) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
const byKind = (objects: Loose[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: Loose[], kind: string) => {
  const found = byKind(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

interface Validatable { validate(): void }
const models: Record<string, new (data: never) => Validatable> = {
  Namespace, ServiceAccount, Service, Deployment, CustomResourceDefinition, ClusterRole, ClusterRoleBinding, Role, RoleBinding,
};

/** What the controller does, per API group and resource: the verbs it needs, nothing more. */
const expectedGrants: Record<string, string[]> = {
  'graylane.dev rollouts': ['get', 'list', 'watch', 'update', 'patch'],
  'graylane.dev rollouts/status': ['get', 'update', 'patch'],
  'graylane.dev rollouts/scale': ['get', 'update', 'patch'],
  'graylane.dev analysistemplates': ['get', 'list', 'watch'],
  'graylane.dev clusteranalysistemplates': ['get', 'list', 'watch'],
  'graylane.dev analysisruns': ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  'graylane.dev analysisruns/status': ['get', 'update', 'patch'],
  'graylane.dev releases': ['get', 'list', 'watch'],
  'graylane.dev releases/status': ['get', 'update', 'patch'],
  'apps replicasets': ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  'apps deployments': ['get', 'list', 'watch', 'update', 'patch'],
  ' pods': ['get', 'list', 'watch', 'delete'],
  ' services': ['get', 'list', 'watch', 'update', 'patch'],
  ' events': ['create', 'patch'],
  ' secrets': ['get'],
  ' configmaps': ['get'],
  'batch jobs': ['get', 'list', 'watch', 'create', 'delete'],
  'networking.k8s.io ingresses': ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  'networking.istio.io virtualservices': ['get', 'list', 'watch', 'update', 'patch'],
  'networking.istio.io destinationrules': ['get', 'list', 'watch', 'update', 'patch'],
  'gateway.networking.k8s.io httproutes': ['get', 'list', 'watch', 'update', 'patch'],
  'gateway.networking.k8s.io grpcroutes': ['get', 'list', 'watch', 'update', 'patch'],
};

/**
 * With `--argo-rollouts`: Argo's Rollouts and their status in place of graylane's (no
 * rollouts/scale: the controller never writes it), Argo's templates read, Argo's AnalysisRuns
 * written; all else the same.
 */
const expectedArgoGrants: Record<string, string[]> = {
  'argoproj.io rollouts': ['get', 'list', 'watch', 'update', 'patch'],
  'argoproj.io rollouts/status': ['get', 'update', 'patch'],
  'argoproj.io analysistemplates': ['get', 'list', 'watch'],
  'argoproj.io clusteranalysistemplates': ['get', 'list', 'watch'],
  'argoproj.io analysisruns': ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  'argoproj.io analysisruns/status': ['get', 'update', 'patch'],
  ...Object.fromEntries(Object.entries(expectedGrants).filter(([k]) => !k.startsWith('graylane.dev rollouts'))),
};

/** `group resource` → verbs, over every rule of a role. */
function grants(rules: Loose[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const rule of rules) {
    for (const group of rule.apiGroups) for (const resource of rule.resources) (out[`${group} ${resource}`] ??= []).push(...rule.verbs);
  }
  return out;
}

describe('graylane install kubernetes', () => {
  it('prints the Namespace, the CRDs, the ServiceAccount, the RBAC, the Deployment and the metrics Service, in creation order', async () => {
    const r = await run(['install', 'kubernetes']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(documents(r.out).map(id)).toEqual([
      'Namespace graylane-system',
      'CustomResourceDefinition rollouts.graylane.dev', 'CustomResourceDefinition analysistemplates.graylane.dev',
      'CustomResourceDefinition clusteranalysistemplates.graylane.dev', 'CustomResourceDefinition analysisruns.graylane.dev',
      'CustomResourceDefinition releases.graylane.dev',
      'ServiceAccount graylane-system/graylane-controller',
      'ClusterRole graylane-controller', 'ClusterRoleBinding graylane-controller',
      'Role graylane-system/graylane-controller-leader-election', 'RoleBinding graylane-system/graylane-controller-leader-election',
      'Deployment graylane-system/graylane-controller', 'Service graylane-system/graylane-controller-metrics',
    ]);
    expect((await run(['install', 'kubernetes'])).out).toBe(r.out);
  });

  it('prints objects the official Kubernetes models accept, and the CRDs the generator makes', async () => {
    const objects = documents((await run(['install', 'kubernetes'])).out);
    for (const o of objects) {
      const Model = models[o.kind as string];
      expect(Model, o.kind).toBeDefined();
      expect(() => new Model!(o as never).validate(), id(o)).not.toThrow();
    }
    expect(byKind(objects, 'CustomResourceDefinition')).toEqual(CRD_KINDS.map((k) => customResourceDefinition(k)));
  });

  it('grants the controller listed verbs on listed resources only: no `*`, nothing beyond what it does', async () => {
    const objects = documents((await run(['install', 'kubernetes'])).out);
    const role = one(objects, 'ClusterRole');
    for (const rule of role.rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
      expect(rule.nonResourceURLs).toBeUndefined();
      expect(rule.resourceNames).toBeUndefined();
    }
    expect(grants(role.rules)).toEqual(expectedGrants);
    // Leases only in its own namespace, and not cluster-wide.
    expect(Object.keys(grants(role.rules)).filter((k) => k.endsWith(' leases'))).toEqual([]);
    expect(grants(one(objects, 'Role').rules)).toEqual({ 'coordination.k8s.io leases': ['get', 'create', 'update'] });
    // Nothing that lets it read secrets in bulk or escalate.
    expect(grants(role.rules)[' secrets']).toEqual(['get']);
    expect(Object.values(grants(role.rules)).flat().filter((v) => ['escalate', 'bind', 'impersonate'].includes(v))).toEqual([]);
  });

  it('--argo-rollouts grants the verbs on Argo\'s Rollouts in place of graylane\'s, runs the controller with --argo-rollouts, and changes nothing else', async () => {
    const plain = documents((await run(['install', 'kubernetes'])).out);
    const r = await run(['install', 'kubernetes', '--argo-rollouts']);
    expect(r).toMatchObject({ code: 0, err: '' });
    const objects = documents(r.out);
    expect(objects.map(id)).toEqual(plain.map(id));
    for (const o of objects) expect(() => new models[o.kind as string]!(o as never).validate(), id(o)).not.toThrow();
    const role = one(objects, 'ClusterRole');
    expect(grants(role.rules)).toEqual(expectedArgoGrants);
    for (const rule of role.rules) expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
    const args = one(objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    expect(args).toEqual([...(one(plain, 'Deployment').spec.template.spec.containers[0].args as string[]), '--argo-rollouts']);
    const changed = objects.filter((o, i) => JSON.stringify(o) !== JSON.stringify(plain[i])).map(id);
    expect(changed).toEqual(['ClusterRole graylane-controller', 'Deployment graylane-system/graylane-controller']);
  });

  it('binds both roles to the controller’s ServiceAccount, which the Deployment runs as', async () => {
    const objects = documents((await run(['install', 'kubernetes'])).out);
    const subject = { kind: 'ServiceAccount', name: 'graylane-controller', namespace: 'graylane-system' };
    expect(one(objects, 'ClusterRoleBinding')).toMatchObject({ roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one(objects, 'ClusterRole').metadata.name }, subjects: [subject] });
    expect(one(objects, 'RoleBinding')).toMatchObject({ roleRef: { kind: 'Role', name: one(objects, 'Role').metadata.name }, subjects: [subject] });
    expect(one(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe(one(objects, 'ServiceAccount').metadata.name);
  });

  it('runs the controller leader-elected, probed, bounded and locked down', async () => {
    const deployment = one(documents((await run(['install', 'kubernetes'])).out), 'Deployment');
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expect(deployment.spec.replicas).toBe(2);
    expect(container.image).toBe(`ghcr.io/graylane/graylane:${GRAYLANE_VERSION}`);
    expect(container.args).toEqual(['controller', '--leader-elect', '--health-addr', ':8080', '--metrics-addr', ':8090', '--all-namespaces']);
    const portOf = (name: string): number => (container.ports as Loose[]).find((p) => p.name === name)!.containerPort as number;
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(portOf('health')).toBe(8080);
    expect(portOf('metrics')).toBe(8090);
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532, capabilities: { drop: ['ALL'] } });
    expect(container.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    // The Deployment selects its own pods, and a writable /tmp is the only writable path.
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
  });

  it('puts a metrics Service on port 8090 in front of the controller’s pods', async () => {
    const objects = documents((await run(['install', 'kubernetes'])).out);
    const service = one(objects, 'Service');
    expect(service.spec.ports).toEqual([{ name: 'metrics', port: 8090, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(one(objects, 'Deployment').spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  it('--namespace moves every namespaced object and every reference to the namespace', async () => {
    const text = (await run(['install', 'kubernetes', '--namespace', 'delivery'])).out;
    const objects = documents(text);
    expect(one(objects, 'Namespace').metadata.name).toBe('delivery');
    const namespaced = objects.filter((o) => !['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    expect(namespaced.map((o): unknown => o.metadata.namespace)).toEqual(namespaced.map(() => 'delivery'));
    expect(one(objects, 'ClusterRoleBinding').subjects[0].namespace).toBe('delivery');
    expect(one(objects, 'RoleBinding').subjects[0].namespace).toBe('delivery');
    for (const o of objects.filter((x) => ['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(x.kind))) expect(o.metadata.namespace, id(o)).toBeUndefined();
    expect(text).not.toContain('graylane-system');
  });

  it('--image and --replicas change the controller Deployment', async () => {
    const r = await run(['install', 'kubernetes', '--image', 'registry.example:5000/team/graylane:dev@sha256:' + 'a'.repeat(64), '--replicas', '3']);
    expect(r.code).toBe(0);
    const deployment = one(documents(r.out), 'Deployment');
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0].image).toBe(`registry.example:5000/team/graylane:dev@sha256:${'a'.repeat(64)}`);
  });

  it('--crds-only prints the five CRDs exactly as the generator does, whatever the namespace', async () => {
    const first = await run(['install', 'kubernetes', '--crds-only']);
    const second = await run(['install', 'kubernetes', '--crds-only', '--namespace', 'delivery']);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toBe(crdsYaml());
    expect(second.out).toBe(first.out);
    expect(documents(first.out).map((d): unknown => d.kind)).toEqual(CRD_KINDS.map(() => 'CustomResourceDefinition'));
  });

  it.each<[string, string[], string]>([
    ['an upper-case namespace', ['--namespace', 'Delivery'], 'is not a namespace name'],
    ['a namespace with _', ['--namespace', 'a_b'], 'is not a namespace name'],
    ['a namespace starting with -', ['--namespace', '-x'], 'is not a namespace name'],
    ['a namespace of 64 characters', ['--namespace', 'x'.repeat(64)], 'is not a namespace name'],
    ['a namespace refused with --crds-only too', ['--crds-only', '--namespace', 'Delivery'], 'is not a namespace name'],
    ['zero replicas', ['--replicas', '0'], '--replicas 0 is not a whole number of at least 1'],
    ['replicas as a word', ['--replicas', 'two'], '--replicas "two" is not a whole number of at least 1'],
    ['negative replicas', ['--replicas', '-1'], 'is not a whole number of at least 1'],
    ['fractional replicas', ['--replicas', '1.5'], 'is not a whole number of at least 1'],
    ['an image with a space', ['--image', 'ghcr.io/x y'], 'is not an image reference'],
    ['an image with a scheme', ['--image', 'https://ghcr.io/graylane/graylane'], 'is not an image reference'],
    ['an empty image', ['--image', ''], 'is not an image reference'],
    ['--image with --crds-only', ['--crds-only', '--image', 'x'], '--image, --replicas and --argo-rollouts describe the controller, which --crds-only does not print'],
    ['--replicas with --crds-only', ['--crds-only', '--replicas', '2'], '--image, --replicas and --argo-rollouts describe the controller'],
    ['--argo-rollouts with --crds-only', ['--crds-only', '--argo-rollouts'], '--image, --replicas and --argo-rollouts describe the controller'],
  ])('refuses %s with exit 2, one sentence and no output', async (_name, args, message) => {
    const r = await run(['install', 'kubernetes', ...args]);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toContain(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unknown flag with exit 2, suggesting the right one', async () => {
    const r = await run(['install', 'kubernetes', '--replica', '2']);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toContain("unknown option '--replica'");
    expect(r.err).toContain('--replicas?');
  });

  it('refuses an unknown target with exit 2', async () => {
    const r = await run(['install', 'nomad']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'nomad'");
  });

  it('--help names every flag and the chart', async () => {
    const r = await run(['install', 'kubernetes', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--namespace', '--crds-only', '--image', '--replicas', '--argo-rollouts', 'deploy/helm/graylane']) expect(r.out).toContain(flag);
  });
});

describe('kubernetesManifests', () => {
  it('refuses bad options with a typed error naming the option', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(InstallOptionError);
        return (error as InstallOptionError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => kubernetesManifests({ namespace: 'A' }))).toBe('invalid-namespace');
    expect(codeOf(() => kubernetesManifests({ image: 'UPPER CASE' }))).toBe('invalid-image');
    expect(codeOf(() => kubernetesManifests({ replicas: 2.5 }))).toBe('invalid-replicas');
    expect(codeOf(() => kubernetesManifests({}))).toBe('no error');
  });

  it('gives every caller its own objects: editing one manifest does not change the next', () => {
    const first = kubernetesManifests({ resources: { requests: { cpu: '1' } } });
    const role = first.find((o) => o.kind === 'ClusterRole') as Loose;
    role.rules[0].verbs.push('*');
    (first.find((o) => o.kind === 'Deployment') as Loose).spec.template.spec.containers[0].resources.requests.cpu = '9';
    const next = kubernetesManifests();
    expect((next.find((o) => o.kind === 'ClusterRole') as Loose).rules[0].verbs).not.toContain('*');
    expect((next.find((o) => o.kind === 'Deployment') as Loose).spec.template.spec.containers[0].resources.requests.cpu).toBe('100m');
  });

  it('defaults the image tag to the package version', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(GRAYLANE_VERSION).toBe(pkg.version);
  });
});
