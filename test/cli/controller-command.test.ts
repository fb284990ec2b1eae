import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../src/cli/main.js';
import { controllerSettings } from '../../src/cli/commands/controller.js';
import { KubeConfigError, loadKubeConfig } from '../../src/kube/kube-config.js';

let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graylane-controller-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'prod', context: { cluster: 'c', user: 'u', namespace: 'shop' } }, { name: 'staging', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'prod',
  }));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), isTty: false, env: {}, cwd: dir });
  return { code, out, err };
}

describe('graylane controller: flag errors exit 2 with one sentence', () => {
  it.each<[string, string[], string]>([
    ['--namespace with --all-namespaces', ['-n', 'shop', '--all-namespaces'], '--namespace and --all-namespaces exclude each other: choose one'],
    ['a namespace that is no name', ['--namespace', 'Shop_1'], '--namespace: "Shop_1" is not a namespace name (lower case letters, digits and -, at most 63)'],
    ['a health address without a port', ['--health-addr', 'localhost'], '--health-addr: "localhost" is not host:port: expected one ":" between host and port'],
    ['a metrics port that is no number', ['--metrics-addr', ':metrics'], '--metrics-addr: ":metrics" is not host:port: the port must be a number from 0 to 65535, not "metrics"'],
    ['the same address twice', ['--health-addr', ':9000', '--metrics-addr', ':9000'], '--health-addr and --metrics-addr must be different addresses, both are :9000'],
    ['the same port on every interface and one of them', ['--health-addr', ':9000', '--metrics-addr', '127.0.0.1:9000'], '--health-addr and --metrics-addr must be different addresses, both are port 9000'],
    ['no workers', ['--workers', '0'], '--workers must be a whole number from 1 to 64, not "0"'],
    ['workers as a word', ['--workers', 'many'], '--workers must be a whole number from 1 to 64, not "many"'],
    ['too many workers', ['--workers', '65'], '--workers must be a whole number from 1 to 64, not "65"'],
    ['a notifications ConfigMap that is no name', ['--notifications-configmap', 'a/b/c'], '--notifications-configmap: "a/b/c" is not NAME or NAMESPACE/NAME'],
    ['a context the kubeconfig lacks', ['--context', 'dev'], '--context: the kubeconfig has no context "dev" (it has: prod, staging)'],
    ['a Prometheus address that is no URL', ['--prometheus-url', 'prometheus:9090'], '--prometheus-url: "prometheus:9090" is not an http(s) URL (e.g. http://prometheus.monitoring:9090)'],
    ['a guard interval that is no duration', ['--guard-interval', 'often'], '--guard-interval: "often" is not a duration of 1s or more (e.g. 5s)'],
    ['a guard interval under a second', ['--guard-interval', '500ms'], '--guard-interval: "500ms" is not a duration of 1s or more (e.g. 5s)'],
    ['a request timeout that is no duration', ['--request-timeout', 'long'], '--request-timeout: "long" is not a duration of 1s or more (e.g. 60s)'],
    ['a request timeout under a second', ['--request-timeout', '0s'], '--request-timeout: "0s" is not a duration of 1s or more (e.g. 60s)'],
  ])('%s', async (_name, args, sentence) => {
    const r = await run(['controller', '--kubeconfig', kubeconfig, ...args]);
    expect(r).toEqual({ code: 2, out: '', err: `error: ${sentence}\n` });
  });

  it('a kubeconfig that cannot be read', async () => {
    const r = await run(['controller', '--kubeconfig', join(dir, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^error: --kubeconfig: cannot load ${join(dir, 'nope').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ENOENT.*\n$`));
  });

  it('a kubeconfig whose current context names no cluster', async () => {
    const empty = join(dir, 'empty');
    await writeFile(empty, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] }));
    expect(await run(['controller', '--kubeconfig', empty])).toEqual({ code: 2, out: '', err: 'error: the kubeconfig names no cluster for its current context: pass --kubeconfig or --context\n' });
  });

  it('an unknown flag', async () => {
    const r = await run(['controller', '--kubeconfig', kubeconfig, '--replicas', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown option '--replicas'");
  });
});

describe('graylane controller: what it would run with', () => {
  it('takes the namespace from the flag, else from the context, else default; the context from the flag', () => {
    const noDefault = loadKubeConfig;
    const base = { kubeconfig, healthAddr: ':8081', metricsAddr: ':8090', workers: '4' };
    expect(controllerSettings(base, noDefault)).toMatchObject({ namespace: 'shop', leaderElect: false, workers: 4, argoRollouts: false });
    expect(controllerSettings({ ...base, argoRollouts: true }, noDefault).argoRollouts).toBe(true);
    expect(controllerSettings({ ...base, prometheusUrl: 'http://prom:9090', guardInterval: '2s' }, noDefault)).toMatchObject({ prometheusUrl: 'http://prom:9090', guardIntervalMs: 2000 });
    expect(controllerSettings({ ...base, requestTimeout: '90s' }, noDefault).requestTimeoutMs).toBe(90_000);
    expect(controllerSettings({ ...base, context: 'staging' }, noDefault).namespace).toBe('default');
    expect(controllerSettings({ ...base, context: 'staging' }, noDefault).kubeConfig.getCurrentContext()).toBe('staging');
    expect(controllerSettings({ ...base, namespace: 'web' }, noDefault).namespace).toBe('web');
    expect(controllerSettings({ ...base, allNamespaces: true }, noDefault).namespace).toBeUndefined();
  });

  it('without --kubeconfig it loads the default configuration (KUBECONFIG, ~/.kube/config or in-cluster), and says when that fails', () => {
    const base = { healthAddr: ':8081', metricsAddr: ':8090', workers: '4' };
    expect(controllerSettings(base, loadKubeConfig, { KUBECONFIG: kubeconfig }).namespace).toBe('shop');
    const nothing = () => { throw new KubeConfigError('no-configuration', 'no Kubernetes configuration: not in a pod'); };
    expect(() => controllerSettings(base, nothing, {})).toThrow('cannot load a kubeconfig: no Kubernetes configuration: not in a pod');
  });

  it('the Lease is in POD_NAMESPACE, else the context\'s namespace; the identity is POD_NAME, else the host name and a random suffix', () => {
    const base = { kubeconfig, healthAddr: ':8081', metricsAddr: ':8090', workers: '4', leaderElect: true };
    expect(controllerSettings(base, loadKubeConfig, { POD_NAMESPACE: 'graylane-system', POD_NAME: 'graylane-controller-7d9-x2' })).toMatchObject({
      leaderElect: true, leaseNamespace: 'graylane-system', identity: 'graylane-controller-7d9-x2', namespace: 'shop',
    });
    const a = controllerSettings(base, loadKubeConfig, {});
    const b = controllerSettings(base, loadKubeConfig, {});
    expect(a.leaseNamespace).toBe('shop');
    expect(a.identity).toMatch(/-[0-9a-f]{8}$/);
    expect(a.identity).not.toBe(b.identity);
  });

  it('the notifications ConfigMap is graylane-notifications beside the Lease, or the flag\'s NAME or NAMESPACE/NAME', () => {
    const base = { kubeconfig, healthAddr: ':8081', metricsAddr: ':8090', workers: '4' };
    expect(controllerSettings(base, loadKubeConfig, { POD_NAMESPACE: 'graylane-system' }).notificationsConfigMap).toEqual({ namespace: 'graylane-system', name: 'graylane-notifications' });
    expect(controllerSettings({ ...base, notificationsConfigmap: 'hooks' }, loadKubeConfig, {}).notificationsConfigMap).toEqual({ namespace: 'shop', name: 'hooks' });
    expect(controllerSettings({ ...base, notificationsConfigmap: 'ops/hooks' }, loadKubeConfig, {}).notificationsConfigMap).toEqual({ namespace: 'ops', name: 'hooks' });
  });
});
