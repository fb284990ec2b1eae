import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubeConfigError, loadKubeConfig } from '../../src/kube/kube-config.js';
import { FakeApiServer } from '../fixtures/kube/fake-api-server.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'graylane-kubeconfig-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Ctx { name: string; server: string; namespace?: string; token?: string }

/** Writes a kubeconfig with one cluster and user per context. */
function writeConfig(file: string, contexts: Ctx[], current?: string): string {
  const path = join(dir, file);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: contexts.map((c) => ({ name: `${c.name}-cluster`, cluster: { server: c.server, 'insecure-skip-tls-verify': true } })),
    users: contexts.map((c) => ({ name: `${c.name}-user`, user: c.token === undefined ? {} : { token: c.token } })),
    contexts: contexts.map((c) => ({ name: c.name, context: { cluster: `${c.name}-cluster`, user: `${c.name}-user`, ...(c.namespace ? { namespace: c.namespace } : {}) } })),
    ...(current === undefined ? {} : { 'current-context': current }),
  }));
  return path;
}

const noEnv = {};

function caught(f: () => unknown): KubeConfigError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(KubeConfigError);
    return error as KubeConfigError;
  }
  throw new Error('expected a KubeConfigError');
}

describe('loadKubeConfig', () => {
  it('uses an explicit file first, with its current context and that context’s namespace', () => {
    const explicit = writeConfig('explicit.yaml', [{ name: 'prod', server: 'https://prod.example:6443', namespace: 'shop' }], 'prod');
    const fromEnv = writeConfig('env.yaml', [{ name: 'env', server: 'https://env.example' }], 'env');
    writeConfig('home/.kube/config', [{ name: 'home', server: 'https://home.example' }], 'home');
    const loaded = loadKubeConfig({ kubeconfigPath: explicit, env: { KUBECONFIG: fromEnv }, homeDir: join(dir, 'home') });
    expect(loaded).toMatchObject({ source: 'file', context: 'prod', namespace: 'shop' });
    expect(loaded.kubeConfig.getCurrentCluster()?.server).toBe('https://prod.example:6443');
  });

  it('falls back to $KUBECONFIG, merging its files with the first one winning, then to ~/.kube/config', () => {
    const first = writeConfig('a.yaml', [{ name: 'a', server: 'https://a.example' }], 'a');
    const second = writeConfig('b.yaml', [{ name: 'a', server: 'https://other.example' }, { name: 'b', server: 'https://b.example', namespace: 'team-b' }], 'b');
    writeConfig('home/.kube/config', [{ name: 'home', server: 'https://home.example' }], 'home');
    const fromEnv = loadKubeConfig({ env: { KUBECONFIG: [first, second].join(delimiter) }, homeDir: join(dir, 'home') });
    expect(fromEnv).toMatchObject({ source: 'env', context: 'a', namespace: 'default' });
    expect(fromEnv.kubeConfig.getCurrentCluster()?.server).toBe('https://a.example');
    expect(loadKubeConfig({ env: { KUBECONFIG: [first, second].join(delimiter) }, context: 'b', homeDir: join(dir, 'home') }))
      .toMatchObject({ context: 'b', namespace: 'team-b' });
    const fromHome = loadKubeConfig({ env: noEnv, homeDir: join(dir, 'home') });
    expect(fromHome).toMatchObject({ source: 'home', context: 'home' });
    expect(fromHome.kubeConfig.getCurrentCluster()?.server).toBe('https://home.example');
  });

  it('selects the context asked for, and names the contexts that exist when it does not', () => {
    const path = writeConfig('c.yaml', [{ name: 'dev', server: 'https://dev.example', namespace: 'dev-ns' }, { name: 'prod', server: 'https://prod.example' }], 'prod');
    expect(loadKubeConfig({ kubeconfigPath: path, context: 'dev' })).toMatchObject({ context: 'dev', namespace: 'dev-ns' });
    const error = caught(() => loadKubeConfig({ kubeconfigPath: path, context: 'staging' }));
    expect(error.code).toBe('unknown-context');
    expect(error.message).toContain('"staging"');
    expect(error.message).toContain('dev, prod');
  });

  it('refuses a file with no current context when none is asked for, naming the choices', () => {
    const path = writeConfig('none.yaml', [{ name: 'dev', server: 'https://dev.example' }]);
    const error = caught(() => loadKubeConfig({ kubeconfigPath: path }));
    expect(error.code).toBe('no-current-context');
    expect(error.message).toContain('dev');
  });

  it('reports a missing or malformed file as kubeconfig-unreadable, naming it', () => {
    const missing = join(dir, 'nope.yaml');
    const error = caught(() => loadKubeConfig({ kubeconfigPath: missing }));
    expect(error.code).toBe('kubeconfig-unreadable');
    expect(error.message).toContain(missing);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters: [\n');
    expect(caught(() => loadKubeConfig({ env: { KUBECONFIG: bad }, homeDir: dir })).code).toBe('kubeconfig-unreadable');
  });

  it('uses the service account in a pod, with its namespace, and its token reaches the API server', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'namespace'), 'graylane-system\n');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const loaded = loadKubeConfig({ env, homeDir: join(dir, 'empty-home'), serviceAccountDir: sa });
    expect(loaded).toMatchObject({ source: 'in-cluster', namespace: 'graylane-system' });
    expect(loaded.kubeConfig.getCurrentCluster()).toMatchObject({ server: 'https://10.0.0.1:443', caFile: join(sa, 'ca.crt'), skipTLSVerify: false });
    // inCluster wins over a kubeconfig file that exists.
    const file = writeConfig('x.yaml', [{ name: 'x', server: 'https://x.example' }], 'x');
    expect(loadKubeConfig({ inCluster: true, kubeconfigPath: file, env, serviceAccountDir: sa }).source).toBe('in-cluster');
    // The token file is what authenticates: point the loaded user at the fake, which demands it.
    const server = await FakeApiServer.start({ token: 'sa-token' });
    try {
      const kc = loaded.kubeConfig;
      kc.loadFromOptions({
        clusters: [{ name: 'in-cluster', server: server.url, skipTLSVerify: true }],
        users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext(),
      });
      const list = await kc.makeApiClient(CoreV1Api).listNamespace();
      expect(list.items.map((n) => n.metadata?.name)).toContain('default');
    } finally {
      await server.close();
    }
  });

  it('outside a pod, in-cluster is not-in-cluster, and finding nothing at all is no-configuration', () => {
    const asked = caught(() => loadKubeConfig({ inCluster: true, env: noEnv, serviceAccountDir: join(dir, 'sa') }));
    expect(asked.code).toBe('not-in-cluster');
    expect(asked.message).toContain('KUBERNETES_SERVICE_HOST');
    const noToken = caught(() => loadKubeConfig({ inCluster: true, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: join(dir, 'sa') }));
    expect(noToken.message).toContain(join(dir, 'sa', 'token'));
    const nothing = caught(() => loadKubeConfig({ env: noEnv, homeDir: join(dir, 'empty-home'), serviceAccountDir: join(dir, 'sa') }));
    expect(nothing.code).toBe('no-configuration');
    expect(nothing.message).toContain(join(dir, 'empty-home', '.kube', 'config'));
  });
});
