/**
 * Registers `graylane controller`. Its code (the Kubernetes client among it) is loaded when the
 * command runs: every other command, `graylane up` (the daemon) included, runs this same CLI.
 */
import type { Command } from 'commander';
import { NOTIFICATIONS_CONFIGMAP, NOTIFICATIONS_KEY } from '../../controller/kubernetes/notification-names.js';
import type { CliContext } from '../context.js';
import type { ControllerFlags } from './controller.js';

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
    .option('--notifications-configmap <[ns/]name>', `ConfigMap whose ${NOTIFICATIONS_KEY} lists notification receivers (default: ${NOTIFICATIONS_CONFIGMAP} in the controller's namespace; none there: no notifications)`)
    .option('--prometheus-url <url>', 'Prometheus the guard reads canaries\' requests from (a Rollout may name its own in guard.prometheus.address)')
    .option('--guard-interval <duration>', 'how often the guard judges canaries from Prometheus', '5s')
    .option('--request-timeout <duration>', 'how long one request to the API server may wait for its answer before it is cut and retried', '60s')
    .option('--argo-rollouts', 'reconcile Argo Rollouts (argoproj.io/v1alpha1) in place of Argo\'s controller, instead of graylane Rollouts')
    .action(async (flags: ControllerFlags) => {
      const { runControllerCommand } = await import('./controller.js');
      await runControllerCommand(flags, ctx);
    });
}
