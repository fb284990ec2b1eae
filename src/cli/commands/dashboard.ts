/**
 * `graylane dashboard`: the web console for a cluster, served from a workstation, as `kubectl argo
 * rollouts dashboard` is. The same API server the daemon runs, on loopback, answering from the
 * cluster with the kubeconfig's credentials (the browser never sees them). There is no daemon
 * token: each run makes a one-time sign-in code and prints it to the terminal only.
 */
import { GRAYLANE_VERSION } from '../install/install-names.js';
import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { CliError, EXIT, type CliContext } from '../context.js';
import { ClusterTargetError, resolveClusterTarget } from '../cluster/cluster-target.js';

/** Letters and digits nobody misreads (no 0/O, 1/I/L). */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** A one-time sign-in code, `XXXX-XXXX-XXXX` (about 59 bits). */
export function signInCode(): string {
  const group = () => Array.from({ length: 4 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `${group()}-${group()}-${group()}`;
}

interface DashboardFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  port: string;
  address: string;
}

/** Registers dashboard. */
export function registerDashboardCommand(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description('Serve the web console for the Rollouts of a Kubernetes namespace on this machine (loopback), with your kubeconfig\'s credentials.')
    .option('--kubeconfig <file>', 'the cluster of this kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'the cluster of this kubeconfig context (default: the current one)')
    .option('-n, --namespace <namespace>', 'the namespace served (default: the context\'s)')
    .option('-A, --all-namespaces', 'not supported yet: a dashboard serves one namespace')
    .option('--port <port>', 'the port to listen on (0: any free one)', '3100')
    .option('--address <address>', 'the loopback address to listen on', '127.0.0.1')
    .addHelpText('after', `
One dashboard serves one namespace; its names are the Rollouts' and Releases' names there. For
another namespace, run another dashboard (-n NS --port P). Sign in with the code printed at start;
it is new on every run and is never written anywhere else. Ctrl-C stops it.

Examples:
  graylane dashboard -n shop
  kubectl graylane dashboard --context prod -n shop --port 3200`)
    .action(async (o: DashboardFlags) => {
      if (o.allNamespaces === true) {
        throw new CliError('--all-namespaces is not supported yet: a dashboard serves one namespace; run one per namespace with -n NS (and --port P)', EXIT.usage);
      }
      const port = Number(o.port);
      if (!/^[0-9]+$/.test(o.port) || port > 65_535) throw new CliError(`--port: "${o.port}" is not a port number (0-65535, 0: any free one)`, EXIT.usage);
      let target;
      try {
        target = await resolveClusterTarget({ kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace }, ctx.io.env);
      } catch (err) {
        if (err instanceof ClusterTargetError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
      const { ClusterApiBackend } = await import('../cluster/cluster-api-backend.js');
      const { startApiServer } = await import('../../api/server.js');
      const backend = await ClusterApiBackend.start({ target, onWatchError: (message) => ctx.warn(`warning: ${message} (retrying)`) });
      const code = signInCode();
      let server;
      try {
        server = await startApiServer({ backend, token: code, host: o.address, port, version: GRAYLANE_VERSION });
      } catch (err) {
        await backend.stop();
        const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `port ${port} is in use; choose another with --port` : (err as Error).message;
        throw new CliError(`cannot serve the dashboard on ${o.address}:${port}: ${why}`, EXIT.usage);
      }
      ctx.keepRunningWhenOutputCloses = true;
      ctx.print(`graylane dashboard: ${server.url}/ — sign in with code ${code}`);
      ctx.print(`serving namespace ${target.namespace} of context ${target.context} (${target.server}); Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      await backend.stop();
    });
}
