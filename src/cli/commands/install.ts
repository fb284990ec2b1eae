/** `graylane install kubernetes`: prints what to `kubectl apply` to run graylane in a cluster. */
import type { Command } from 'commander';
import { CliError, EXIT, type CliContext } from '../context.js';

/** A namespace name is a DNS label (RFC 1123). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Options of `graylane install kubernetes`. */
interface InstallKubernetesOptions {
  namespace: string;
  crdsOnly?: boolean;
}

/** Registers `install kubernetes`. */
export function registerInstallCommand(program: Command, ctx: CliContext): void {
  const install = program
    .command('install')
    .description('Print the manifests that install graylane somewhere (only kubernetes so far).');
  const kubernetes = install
    .command('kubernetes')
    .description('Print the Kubernetes manifests of graylane as YAML, for kubectl apply -f -.')
    .option('-n, --namespace <ns>', 'namespace of the controller (the CRDs are cluster-wide)', 'graylane')
    .option('--crds-only', 'print only the CustomResourceDefinitions (Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun, Release)')
    .addHelpText('after', [
      '',
      'The CRDs are generated from the same schema `graylane validate` uses. The controller\'s RBAC and',
      'Deployment are not available yet: for now only --crds-only prints anything.',
      '',
      'Examples:',
      '  graylane install kubernetes --crds-only | kubectl apply -f -',
      '  graylane install kubernetes --crds-only > graylane-crds.yaml',
    ].join('\n'))
    .action(async (o: InstallKubernetesOptions) => {
      if (!DNS_LABEL.test(o.namespace) || o.namespace.length > 63) {
        throw new CliError(`--namespace "${o.namespace}" is not a namespace name: lower case letters, digits and -, at most 63`, EXIT.usage);
      }
      if (!o.crdsOnly) {
        // Printing the CRDs alone under the full command would look like a complete install
        // and leave a cluster with resources nobody reconciles.
        throw new CliError('the controller\'s RBAC and Deployment are not available yet; `graylane install kubernetes --crds-only` prints the CRDs', EXIT.usage);
      }
      const { crdsYaml } = await import('../../documents/crds.js');
      ctx.io.out(crdsYaml());
    });
  // main.ts sets these on top-level commands only; a nested one needs them too, or a usage
  // error would end the process instead of returning exit 2.
  for (const cmd of [install, kubernetes]) cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) });
}
