/** `graylane install kubernetes`: prints what to `kubectl apply` to run graylane in a cluster. */
import type { Command } from 'commander';
import { CliError, EXIT, type CliContext } from '../context.js';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEFAULT_REPLICAS } from '../install/install-names.js';
import { InstallOptionError, checkNamespace, kubernetesManifests, manifestsYaml } from '../install/kubernetes-manifests.js';

/** Options of `graylane install kubernetes`, as commander parses them. */
interface InstallKubernetesOptions {
  namespace: string;
  crdsOnly?: boolean;
  image?: string;
  replicas?: string;
  argoRollouts?: boolean;
  prometheusUrl?: string;
}

/** Registers `install kubernetes`. */
export function registerInstallCommand(program: Command, ctx: CliContext): void {
  const install = program
    .command('install')
    .description('Print the manifests that install graylane somewhere (only kubernetes so far).');
  const kubernetes = install
    .command('kubernetes')
    .description('Print the Kubernetes manifests of graylane as YAML, for kubectl apply -f -.')
    .option('-n, --namespace <ns>', 'namespace of the controller (the CRDs and the ClusterRole are cluster-wide)', DEFAULT_NAMESPACE)
    .option('--crds-only', 'print only the CustomResourceDefinitions (Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun, Release)')
    .option('--image <image>', `controller image (default ${DEFAULT_IMAGE})`)
    .option('--replicas <n>', `controller replicas; one leads, the others stand by (default ${DEFAULT_REPLICAS})`)
    .option('--prometheus-url <url>', 'Prometheus the controller\'s guard reads canaries\' requests from')
    .option('--argo-rollouts', "run the controller on Argo Rollouts' argoproj.io Rollouts (in place of Argo's controller), with RBAC for those instead of graylane's")
    .addHelpText('after', [
      '',
      'Prints, in the order to create them: the Namespace, the CRDs (generated from the schema',
      '`graylane validate` uses), the controller\'s ServiceAccount, a ClusterRole listing its verbs per',
      'resource and a Role for its leader-election Lease, the controller Deployment and a metrics Service.',
      'The Helm chart in deploy/helm/graylane renders the same objects.',
      '',
      'Examples:',
      '  graylane install kubernetes | kubectl apply -f -',
      '  graylane install kubernetes --namespace delivery --replicas 3 > graylane.yaml',
      '  graylane install kubernetes --crds-only | kubectl apply -f -',
      '  graylane install kubernetes --argo-rollouts | kubectl apply -f -   # after scaling Argo\'s controller to 0',
    ].join('\n'))
    .action((o: InstallKubernetesOptions) => {
      try {
        checkNamespace(o.namespace);
        if (o.crdsOnly && (o.image !== undefined || o.replicas !== undefined || o.argoRollouts === true || o.prometheusUrl !== undefined)) {
          // The CRDs are the same whatever the controller looks like: a flag that changes
          // nothing in the output is a mistake worth saying.
          throw new CliError(`${o.prometheusUrl !== undefined ? '--prometheus-url' : '--image, --replicas and --argo-rollouts'} describe${o.prometheusUrl !== undefined ? 's' : ''} the controller, which --crds-only does not print`, EXIT.usage);
        }
        if (o.replicas !== undefined && !/^\d+$/.test(o.replicas)) {
          throw new CliError(`--replicas "${o.replicas}" is not a whole number of at least 1`, EXIT.usage);
        }
        const replicas = o.replicas === undefined ? undefined : Number(o.replicas);
        ctx.io.out(manifestsYaml(kubernetesManifests({
          namespace: o.namespace,
          crdsOnly: o.crdsOnly === true,
          argoRollouts: o.argoRollouts === true,
          ...(o.prometheusUrl === undefined ? {} : { prometheusUrl: o.prometheusUrl }),
          ...(o.image === undefined ? {} : { image: o.image }),
          ...(replicas === undefined ? {} : { replicas }),
        })));
      } catch (error) {
        if (error instanceof InstallOptionError) throw new CliError(error.message, EXIT.usage);
        throw error;
      }
    });
  // main.ts sets these on top-level commands only; a nested one needs them too, or a usage
  // error would end the process instead of returning exit 2.
  for (const cmd of [install, kubernetes]) cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
}
