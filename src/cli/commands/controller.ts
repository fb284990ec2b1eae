/**
 * `graylane controller`: the Kubernetes controller in the foreground. Its flags are parsed and
 * checked here, each wrong one refused with one sentence and exit 2, before anything starts. The
 * controller itself cannot run yet (see KUBERNETES_CONTROLLER_MISSING): the command says so and
 * exits 2 rather than pretend.
 */
import type { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { KUBERNETES_CONTROLLER_MISSING, type ControllerLog, type KubernetesController } from '../../controller/kubernetes/kubernetes-controller.js';
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
  healthAddr: string;
  metricsAddr: string;
  workers: string;
}

/** The flags checked: what a KubernetesController is built from. */
export interface ControllerSettings {
  /** The client configuration: the file, else KUBECONFIG / ~/.kube/config / in-cluster. */
  kubeConfig: KubeConfig;
  /** One namespace, or undefined for all. */
  namespace: string | undefined;
  /** Whether to take a Lease before reconciling. */
  leaderElect: boolean;
  /** `host:port` of the probes. */
  healthAddr: string;
  /** `host:port` of `/metrics`. */
  metricsAddr: string;
  /** Keys reconciled at once. */
  workers: number;
}

const MAX_WORKERS = 64;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

/** Checks the flags; throws a CliError (exit 2) with one sentence for the first wrong one. */
export function controllerSettings(flags: ControllerFlags, loadDefault: (kc: KubeConfig) => void = (kc) => kc.loadFromDefault()): ControllerSettings {
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
  const kubeConfig = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) kubeConfig.loadFromFile(flags.kubeconfig);
    else loadDefault(kubeConfig);
  } catch (error) {
    throw usage(`${flags.kubeconfig !== undefined ? `--kubeconfig: cannot load ${flags.kubeconfig}` : 'cannot load a kubeconfig'}: ${(error as Error).message}`);
  }
  if (flags.context !== undefined) {
    const names = kubeConfig.getContexts().map((c) => c.name);
    if (!names.includes(flags.context)) throw usage(`--context: the kubeconfig has no context "${flags.context}" (it has: ${names.join(', ') || 'none'})`);
    kubeConfig.setCurrentContext(flags.context);
  }
  if (!kubeConfig.getCurrentCluster()) throw usage('the kubeconfig names no cluster for its current context: pass --kubeconfig or --context');
  return {
    kubeConfig,
    namespace: flags.allNamespaces ? undefined : flags.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default',
    leaderElect: flags.leaderElect === true,
    healthAddr: flags.healthAddr,
    metricsAddr: flags.metricsAddr,
    workers: Number(flags.workers),
  };
}

/** Something that emits process signals (the process, or a test's emitter). */
export interface SignalSource {
  once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/**
 * Starts `controller` and resolves once SIGTERM or SIGINT stopped it cleanly (running passes
 * finished, servers closed). A failed start is logged and rethrown.
 */
export async function runUntilSignal(options: { controller: Pick<KubernetesController, 'start' | 'stop'>; signals: SignalSource; log: ControllerLog }): Promise<void> {
  const { controller, signals, log } = options;
  let received: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (received = resolve));
  const onTerm = (): void => received('SIGTERM');
  const onInt = (): void => received('SIGINT');
  signals.once('SIGTERM', onTerm);
  signals.once('SIGINT', onInt);
  try {
    await controller.start();
    const signal = await stopped;
    log('info', 'stopping', { signal });
    await controller.stop();
  } catch (error) {
    log('error', 'the controller failed', { error: (error as Error).message });
    await controller.stop();
    throw error;
  } finally {
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
  }
}

/** Registers `graylane controller`. */
export function registerControllerCommand(program: Command, ctx: CliContext): void {
  program
    .command('controller')
    .description('Run the Kubernetes controller (in a pod it uses the in-cluster configuration).')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('-n, --namespace <ns>', 'watch one namespace (default: the context\'s)')
    .option('-A, --all-namespaces', 'watch every namespace')
    .option('--leader-elect', 'take the graylane-controller Lease before reconciling (several replicas)')
    .option('--health-addr <host:port>', '/healthz and /readyz', ':8081')
    .option('--metrics-addr <host:port>', 'Prometheus /metrics', ':8090')
    .option('--workers <n>', 'rollouts reconciled at once', '4')
    .action((flags: ControllerFlags) => {
      const settings = controllerSettings(flags);
      const log = jsonLog({ write: (line) => ctx.io.out(line) });
      if (KUBERNETES_CONTROLLER_MISSING !== undefined) {
        log('error', KUBERNETES_CONTROLLER_MISSING, { namespace: settings.namespace ?? '*', leaderElect: settings.leaderElect, workers: settings.workers });
        throw usage(KUBERNETES_CONTROLLER_MISSING);
      }
    });
}
