/**
 * `graylane controller`: the Kubernetes controller in the foreground. Its flags are parsed and
 * checked here, each wrong one refused with one sentence and exit 2, before anything starts; then
 * the controller runs until SIGTERM or SIGINT (exit 0 once stopped cleanly) or until it loses its
 * Lease (exit 1: the pod restarts as a fresh candidate, as Argo Rollouts' controller does).
 */
import { parseDurationMs } from '../../lib/duration.js';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubernetesController, LEASE_NAME, defaultIdentity, type ControllerEnd, type ControllerLog, type LeaderElectionSettings,
} from '../../controller/kubernetes/kubernetes-controller.js';
import { KubeConfigError, loadKubeConfig, type LoadKubeConfigOptions, type LoadedKubeConfig } from '../../kube/kube-config.js';
import { NOTIFICATIONS_CONFIGMAP } from '../../controller/kubernetes/notification-names.js';
import { jsonLog } from '../../controller/kubernetes/json-log.js';
import { ListenAddressError, parseListenAddress } from '../../controller/kubernetes/listen-address.js';
import { CliError, EXIT, type CliContext } from '../context.js';

/** The flags as typed. */
export interface ControllerFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  allNamespaces?: boolean | undefined;
  leaderElect?: boolean | undefined;
  argoRollouts?: boolean | undefined;
  notificationsConfigmap?: string | undefined;
  healthAddr: string;
  metricsAddr: string;
  workers: string;
  prometheusUrl?: string | undefined;
  guardInterval?: string | undefined;
  requestTimeout?: string | undefined;
}

/** The flags checked: what a KubernetesController is built from. */
export interface ControllerSettings {
  /** The client configuration: the file, else KUBECONFIG / ~/.kube/config / in-cluster. */
  kubeConfig: KubeConfig;
  /** One namespace, or undefined for all. */
  namespace: string | undefined;
  /** Whether to take a Lease before reconciling. */
  leaderElect: boolean;
  /** The Lease's namespace: POD_NAMESPACE, else the context's. */
  leaseNamespace: string;
  /** This replica's name among candidates: POD_NAME, else the host name and a random suffix. */
  identity: string;
  /** `host:port` of the probes. */
  healthAddr: string;
  /** `host:port` of `/metrics`. */
  metricsAddr: string;
  /** Keys reconciled at once. */
  workers: number;
  /** Reconcile Argo Rollouts' `argoproj.io` Rollouts in place of Argo's controller, not graylane's. */
  argoRollouts: boolean;
  /** The notification receivers' ConfigMap (`--notifications-configmap`, default graylane-notifications in the lease namespace). */
  notificationsConfigMap: { namespace: string; name: string };
  /** The guard's Prometheus, if given. */
  prometheusUrl: string | undefined;
  /** The guard's tick, ms. */
  guardIntervalMs: number | undefined;
  /** How long one request to the API server may wait for its answer, ms. */
  requestTimeoutMs: number | undefined;
}

const MAX_WORKERS = 64;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

/** Checks the flags; throws a CliError (exit 2) with one sentence for the first wrong one. */
export function controllerSettings(
  flags: ControllerFlags,
  load: (options: LoadKubeConfigOptions) => LoadedKubeConfig = loadKubeConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ControllerSettings {
  if (flags.namespace !== undefined && flags.allNamespaces) throw usage('--namespace and --all-namespaces exclude each other: choose one');
  if (flags.namespace !== undefined && (!NAMESPACE.test(flags.namespace) || flags.namespace.length > 63)) {
    throw usage(`--namespace: "${flags.namespace}" is not a namespace name (lower case letters, digits and -, at most 63)`);
  }
  for (const [flag, value] of [['--health-addr', flags.healthAddr], ['--metrics-addr', flags.metricsAddr]] as const) {
    try {
      parseListenAddress(value);
    } catch (error) {
      if (error instanceof ListenAddressError) throw usage(`${flag}: ${error.message}`);
      throw error;
    }
  }
  const health = parseListenAddress(flags.healthAddr);
  const metrics = parseListenAddress(flags.metricsAddr);
  if (health.port !== 0 && health.port === metrics.port && (health.host === metrics.host || health.host === '0.0.0.0' || metrics.host === '0.0.0.0')) {
    throw usage(`--health-addr and --metrics-addr must be different addresses, both are ${flags.healthAddr === flags.metricsAddr ? flags.healthAddr : `port ${health.port}`}`);
  }
  if (!/^[0-9]+$/.test(flags.workers) || Number(flags.workers) < 1 || Number(flags.workers) > MAX_WORKERS) {
    throw usage(`--workers must be a whole number from 1 to ${MAX_WORKERS}, not "${flags.workers}"`);
  }
  let loaded: LoadedKubeConfig;
  try {
    loaded = load({ ...(flags.kubeconfig === undefined ? {} : { kubeconfigPath: flags.kubeconfig }), env });
  } catch (error) {
    if (!(error instanceof KubeConfigError)) throw error;
    if (error.code === 'no-current-context') throw usage('the kubeconfig names no cluster for its current context: pass --kubeconfig or --context');
    const cause = (error.cause as Error | undefined)?.message ?? error.message;
    throw usage(flags.kubeconfig !== undefined ? `--kubeconfig: cannot load ${flags.kubeconfig}: ${cause}` : `cannot load a kubeconfig: ${error.message}`);
  }
  const { kubeConfig } = loaded;
  if (flags.prometheusUrl !== undefined && !/^https?:\/\/[^/]/.test(flags.prometheusUrl)) throw usage(`--prometheus-url: "${flags.prometheusUrl}" is not an http(s) URL (e.g. http://prometheus.monitoring:9090)`);
  const guardIntervalMs = secondOrMore('--guard-interval', flags.guardInterval, '5s');
  const requestTimeoutMs = secondOrMore('--request-timeout', flags.requestTimeout, '60s');
  if (flags.context !== undefined) {
    const names = kubeConfig.getContexts().map((c) => c.name);
    if (!names.includes(flags.context)) throw usage(`--context: the kubeconfig has no context "${flags.context}" (it has: ${names.join(', ') || 'none'})`);
    kubeConfig.setCurrentContext(flags.context);
  }
  if (!kubeConfig.getCurrentCluster()) throw usage('the kubeconfig names no cluster for its current context: pass --kubeconfig or --context');
  const leaseNamespace = env.POD_NAMESPACE !== undefined && env.POD_NAMESPACE !== '' ? env.POD_NAMESPACE : undefined;
  const contextNamespace = flags.context === undefined ? loaded.namespace : kubeConfig.getContextObject(flags.context)?.namespace ?? 'default';
  return {
    kubeConfig,
    namespace: flags.allNamespaces ? undefined : flags.namespace ?? contextNamespace,
    leaderElect: flags.leaderElect === true,
    leaseNamespace: leaseNamespace ?? contextNamespace,
    identity: defaultIdentity(env),
    healthAddr: flags.healthAddr,
    metricsAddr: flags.metricsAddr,
    workers: Number(flags.workers),
    argoRollouts: flags.argoRollouts === true,
    notificationsConfigMap: notificationsConfigMap(flags.notificationsConfigmap, leaseNamespace ?? contextNamespace),
    prometheusUrl: flags.prometheusUrl,
    guardIntervalMs,
    requestTimeoutMs,
  };
}

/** A duration flag of 1 s or more, in ms; undefined when absent. */
function secondOrMore(flag: string, value: string | undefined, example: string): number | undefined {
  if (value === undefined) return undefined;
  let ms = NaN;
  try {
    ms = parseDurationMs(value);
  } catch {
    // Said below, with the flag's name.
  }
  if (!(ms >= 1000)) throw usage(`${flag}: "${value}" is not a duration of 1s or more (e.g. ${example})`);
  return ms;
}

/** `NAME` or `NAMESPACE/NAME` of `--notifications-configmap`; a bare name is in the controller's namespace. */
function notificationsConfigMap(flag: string | undefined, namespace: string): { namespace: string; name: string } {
  if (flag === undefined) return { namespace, name: NOTIFICATIONS_CONFIGMAP };
  const parts = flag.split('/');
  const ok = parts.length <= 2 && parts.every((p) => NAMESPACE.test(p) && p.length <= 63);
  if (!ok) throw usage(`--notifications-configmap: "${flag}" is not NAME or NAMESPACE/NAME`);
  return parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : { namespace, name: parts[0]! };
}

/** Something that emits process signals (the process, or a test's emitter). */
export interface SignalSource {
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/** The controller lost its Lease and stopped working: the process must end (exit 1) and start again as a candidate. */
export class LeaseLostError extends Error {
  /** Stable code for callers. */
  readonly code = 'LeaseLost';
  constructor() {
    super('the controller lost its leader Lease and stopped; it exits so that it starts again as a candidate');
    this.name = 'LeaseLostError';
  }
}

/**
 * Starts `controller` and resolves once SIGTERM or SIGINT stopped it cleanly (running passes
 * finished, servers closed). A failed start is logged and rethrown; a lost Lease stops the
 * controller and rejects with {@link LeaseLostError}.
 */
export async function runUntilSignal(options: { controller: Pick<KubernetesController, 'start' | 'stop'> & { done?: Promise<ControllerEnd> }; signals: SignalSource; log: ControllerLog }): Promise<void> {
  const { controller, signals, log } = options;
  let received: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (received = resolve));
  const onTerm = (): void => received('SIGTERM');
  const onInt = (): void => received('SIGINT');
  signals.once('SIGTERM', onTerm);
  signals.once('SIGINT', onInt);
  try {
    await controller.start();
    const lost = controller.done?.then((end) => (end === 'lease-lost' ? 'lease-lost' : new Promise<never>(() => undefined)));
    const signal = await (lost ? Promise.race([stopped, lost]) : stopped);
    if (signal === 'lease-lost') {
      await controller.stop();
      throw new LeaseLostError();
    }
    log('info', 'stopping', { signal });
    await controller.stop();
  } catch (error) {
    // Already stopped, and said so when the Lease was lost.
    if (error instanceof LeaseLostError) throw error;
    log('error', 'the controller failed', { error: (error as Error).message });
    await controller.stop();
    throw error;
  } finally {
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
  }
}

/** Runs `graylane controller` with its flags as typed, until a signal or a lost Lease. */
export async function runControllerCommand(flags: ControllerFlags, ctx: CliContext): Promise<void> {
  const settings = controllerSettings(flags, loadKubeConfig, ctx.io.env);
  const log = jsonLog({ write: (line) => ctx.io.out(line) });
  const leaderElection: LeaderElectionSettings | undefined = settings.leaderElect
    ? { namespace: settings.leaseNamespace, name: LEASE_NAME, identity: settings.identity }
    : undefined;
  const controller = new KubernetesController({
    kubeConfig: settings.kubeConfig, namespace: settings.namespace, workers: settings.workers, leaderElection,
    healthAddr: settings.healthAddr, metricsAddr: settings.metricsAddr, log, argoRollouts: settings.argoRollouts,
    notifications: { configMap: settings.notificationsConfigMap },
    prometheusUrl: settings.prometheusUrl, guardIntervalMs: settings.guardIntervalMs, requestTimeoutMs: settings.requestTimeoutMs,
  });
  try {
    await runUntilSignal({ controller, signals: process, log });
  } catch (error) {
    if (error instanceof LeaseLostError) throw new CliError(error.message, EXIT.degraded);
    throw error;
  }
}
