/**
 * When a rollout verb talks to a Kubernetes cluster instead of the daemon, and which one. The
 * rule: any of `--cluster`, `--kubeconfig FILE`, `--context NAME`, `-n/--namespace NS` or
 * `--request-timeout DURATION` on the command, or `GRAYLANE_TARGET=cluster` in the environment
 * (what `kubectl graylane` sets), means the cluster; nothing of these means the daemon. The
 * cluster is found as kubectl finds it (`--kubeconfig`, else `$KUBECONFIG`, else
 * `~/.kube/config`, else the pod's service account); the namespace is `-n`, else the context's,
 * else `default`.
 */
import type { Command } from 'commander';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseDurationMs } from '../../lib/duration.js';

/** The environment variable that puts every rollout verb in cluster mode. */
export const TARGET_ENV = 'GRAYLANE_TARGET';

/** The cluster flags of a rollout verb. */
export interface ClusterFlags {
  /** `--cluster`: the cluster of the current kubeconfig context. */
  cluster?: boolean | undefined;
  /** `--kubeconfig FILE`. */
  kubeconfig?: string | undefined;
  /** `--context NAME`. */
  context?: string | undefined;
  /** `-n/--namespace NS`. */
  namespace?: string | undefined;
  /** `--request-timeout DURATION`: how long one request to the API server may wait for its answer. */
  requestTimeout?: string | undefined;
}

/** A cluster to talk to and the namespace the verb works in. */
export interface ClusterTarget {
  /** The client configuration, its context chosen. */
  kubeConfig: KubeConfig;
  /** The namespace of the verb. */
  namespace: string;
  /** The context's name, for sentences. */
  context: string;
  /** The API server's URL, for sentences. */
  server: string;
}

/** Why no cluster configuration could be used: a usage error (exit 2). */
export class ClusterTargetError extends Error {
  readonly code = 'ClusterTargetInvalid';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterTargetError';
  }
}

/** Adds the cluster flags to a rollout verb. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option('--cluster', 'act on the Kubernetes cluster of the current kubeconfig context instead of the daemon')
    .option('--kubeconfig <file>', 'act on the cluster of this kubeconfig file')
    .option('--context <name>', 'act on the cluster of this kubeconfig context')
    .option('-n, --namespace <namespace>', 'the namespace of the Rollouts (default: the context\'s)')
    .option('--request-timeout <duration>', 'how long one request to the Kubernetes API server may wait for its answer (e.g. 10s, 500ms; default 60s)');
}

/** Whether the verb goes to a cluster (see the file comment for the rule). */
export function wantsCluster(flags: ClusterFlags, env: Readonly<Record<string, string | undefined>>): boolean {
  return flags.cluster === true || flags.kubeconfig !== undefined || flags.context !== undefined || flags.namespace !== undefined
    || flags.requestTimeout !== undefined || env[TARGET_ENV] === 'cluster';
}

/**
 * The cluster and namespace the flags name.
 *
 * @throws {ClusterTargetError} a kubeconfig that cannot be read, an unknown context, no configuration at all, or a bad `--request-timeout`.
 */
export async function resolveClusterTarget(flags: ClusterFlags, env: Readonly<Record<string, string | undefined>>): Promise<ClusterTarget> {
  const requestTimeoutMs = requestTimeoutFlag(flags.requestTimeout);
  // Loaded only for a cluster: the Kubernetes client costs a process ~80 MB, and `graylane up`
  // (the daemon) runs this same CLI.
  const [{ KubeConfigError, loadKubeConfig }, { limitRequestTime }] = await Promise.all([import('../../kube/kube-config.js'), import('../../kube/request-timeout.js')]);
  try {
    const loaded = loadKubeConfig({ kubeconfigPath: flags.kubeconfig, context: flags.context, env });
    if (flags.namespace === '') throw new ClusterTargetError('-n/--namespace needs a namespace name');
    if (requestTimeoutMs !== undefined) limitRequestTime(loaded.kubeConfig, { requestTimeoutMs });
    return {
      kubeConfig: loaded.kubeConfig,
      namespace: flags.namespace ?? loaded.namespace,
      context: loaded.context,
      server: loaded.kubeConfig.getCurrentCluster()?.server ?? 'an unknown server',
    };
  } catch (error) {
    if (error instanceof KubeConfigError) throw new ClusterTargetError(error.message, { cause: error });
    throw error;
  }
}

/** `--request-timeout`'s value in ms: a duration above 0 (a bare number is seconds, as for kubectl's flag of that name). */
function requestTimeoutFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms = NaN;
  try {
    ms = parseDurationMs(value);
  } catch {
    // Said below, with the flag's name.
  }
  if (!(ms > 0)) throw new ClusterTargetError(`--request-timeout: "${value}" is not a duration above 0 (e.g. 10s, 500ms, 2m)`);
  return ms;
}
