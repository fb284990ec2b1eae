/**
 * Where graylane finds its cluster, in kubectl's order: an explicit file, else `$KUBECONFIG`, else
 * `~/.kube/config`, else the pod's service account. The CLI and the controller both start here,
 * so `--kubeconfig`, `--context` and `-n` mean the same thing in both. Requests made with the
 * loaded configuration reuse their connections (see keep-alive-agents.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { shareKeepAliveAgents } from './keep-alive-agents.js';
import { limitRequestTime } from './request-timeout.js';
import { KubeError } from './kube-error.js';

/** Why no configuration could be loaded. */
export type KubeConfigErrorCode =
  | 'kubeconfig-unreadable'
  | 'unknown-context'
  | 'no-current-context'
  | 'not-in-cluster'
  | 'no-configuration';

/** A configuration that cannot be loaded or used; `code` says which way. */
export class KubeConfigError extends KubeError<KubeConfigErrorCode> {}

/** Where the loaded configuration came from. */
export type KubeConfigSource = 'file' | 'env' | 'home' | 'in-cluster';

/** Options of {@link loadKubeConfig}. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file (`--kubeconfig`); wins over everything else. */
  kubeconfigPath?: string | undefined;
  /** The context to use (`--context`); default: the file's current context. */
  context?: string | undefined;
  /** Use the pod's service account only, ignoring kubeconfig files (the controller in a pod). */
  inCluster?: boolean | undefined;
  /** The environment read for `KUBECONFIG` and `KUBERNETES_SERVICE_HOST/PORT` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** The home directory holding `.kube/config` (default the user's). */
  homeDir?: string | undefined;
  /** Where the service account's `token`, `ca.crt` and `namespace` are (default the kubelet's mount). */
  serviceAccountDir?: string | undefined;
}

/** A loaded configuration and what a command defaults to with it. */
export interface LoadedKubeConfig {
  /** The client-node configuration, its current context set. */
  kubeConfig: KubeConfig;
  /** The context's namespace (the service account's in a pod), `default` when it names none: what `-n` defaults to. */
  namespace: string;
  /** The context in use. */
  context: string;
  /** Where the configuration came from. */
  source: KubeConfigSource;
}

/** The kubelet mounts a pod's service account credentials here. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const IN_CLUSTER_CONTEXT = 'in-cluster';

function loadFiles(paths: readonly string[]): KubeConfig {
  const kc = new KubeConfig();
  paths.forEach((path, i) => {
    try {
      if (i === 0) {
        kc.loadFromFile(path);
      } else {
        // As kubectl merges $KUBECONFIG: the first file to name an entry (or a current context)
        // wins; client-node's mergeConfig throws on a duplicate name instead.
        const more = new KubeConfig();
        more.loadFromFile(path);
        const has = (list: ReadonlyArray<{ name: string }>, name: string): boolean => list.some((e) => e.name === name);
        for (const c of more.getClusters()) if (!has(kc.getClusters(), c.name)) kc.addCluster(c);
        for (const u of more.getUsers()) if (!has(kc.getUsers(), u.name)) kc.addUser(u);
        for (const c of more.getContexts()) if (!has(kc.getContexts(), c.name)) kc.addContext(c);
        // getCurrentContext() is undefined at run time when a file names none, despite its type.
        if (!kc.getCurrentContext() && more.getCurrentContext()) kc.setCurrentContext(more.getCurrentContext());
      }
    } catch (error) {
      throw new KubeConfigError('kubeconfig-unreadable', `cannot load kubeconfig ${path}: ${(error as Error).message}`, { cause: error });
    }
  });
  return kc;
}

function loadInCluster(env: Readonly<Record<string, string | undefined>>, dir: string): { kubeConfig: KubeConfig; namespace: string | undefined } {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const tokenFile = join(dir, 'token');
  if (host === undefined || host === '' || !existsSync(tokenFile)) {
    throw new KubeConfigError('not-in-cluster', `no in-cluster configuration: ${host === undefined || host === '' ? 'KUBERNETES_SERVICE_HOST is not set' : `no service account token at ${tokenFile}`}`);
  }
  const namespaceFile = join(dir, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: IN_CLUSTER_CONTEXT, server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    // The token file, not its content: bound service account tokens rotate, and client-node
    // re-reads a tokenFile provider's file when it expires.
    users: [{ name: IN_CLUSTER_CONTEXT, authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: IN_CLUSTER_CONTEXT, cluster: IN_CLUSTER_CONTEXT, user: IN_CLUSTER_CONTEXT, ...(namespace ? { namespace } : {}) }],
    currentContext: IN_CLUSTER_CONTEXT,
  });
  return { kubeConfig, namespace };
}

/**
 * Loads the configuration a command or the controller talks to the cluster with.
 *
 * @throws {KubeConfigError} `kubeconfig-unreadable` (a named file is missing or malformed),
 * `unknown-context` (naming the contexts that exist), `no-current-context`, `not-in-cluster`
 * (asked for in-cluster outside a pod), `no-configuration` (nothing found anywhere).
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  const saDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  let kubeConfig: KubeConfig;
  let source: KubeConfigSource;
  let inClusterNamespace: string | undefined;
  const homeConfig = join(options.homeDir ?? homedir(), '.kube', 'config');
  const envFiles = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (options.inCluster === true) {
    ({ kubeConfig, namespace: inClusterNamespace } = loadInCluster(env, saDir));
    source = 'in-cluster';
  } else if (options.kubeconfigPath !== undefined) {
    kubeConfig = loadFiles([options.kubeconfigPath]);
    source = 'file';
  } else if (envFiles.length > 0) {
    kubeConfig = loadFiles(envFiles);
    source = 'env';
  } else if (existsSync(homeConfig)) {
    kubeConfig = loadFiles([homeConfig]);
    source = 'home';
  } else {
    try {
      ({ kubeConfig, namespace: inClusterNamespace } = loadInCluster(env, saDir));
    } catch (error) {
      throw new KubeConfigError('no-configuration',
        `no Kubernetes configuration: no --kubeconfig, no $KUBECONFIG, no ${homeConfig}, and not in a pod (${(error as Error).message})`, { cause: error });
    }
    source = 'in-cluster';
  }
  const names = kubeConfig.getContexts().map((c) => c.name);
  if (options.context !== undefined) {
    if (!names.includes(options.context)) {
      throw new KubeConfigError('unknown-context',
        `context "${options.context}" does not exist; ${names.length === 0 ? 'the configuration has no contexts' : `the contexts are: ${names.join(', ')}`}`);
    }
    kubeConfig.setCurrentContext(options.context);
  }
  const current = kubeConfig.getCurrentContext();
  const contextObject = current ? kubeConfig.getContextObject(current) : null;
  if (!current || contextObject === null) {
    throw new KubeConfigError('no-current-context',
      `the configuration names no current context${names.length === 0 ? '' : `; choose one of: ${names.join(', ')}`}`);
  }
  const namespace = contextObject.namespace ?? inClusterNamespace;
  shareKeepAliveAgents(kubeConfig);
  limitRequestTime(kubeConfig);
  return { kubeConfig, namespace: namespace === undefined || namespace === '' ? 'default' : namespace, context: current, source };
}
