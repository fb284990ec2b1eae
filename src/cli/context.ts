/** What every command gets: where to write, how to reach the daemon, and how to fail. */
import { AmbiguousDaemonError, discoverStateDir, EndedDaemonsError } from '../api/daemon-registry.js';
import type { ApiClient } from '../api/client.js';
import { clientFromStateDir } from '../api/daemon-client.js';
import { ClusterTargetError, TARGET_ENV, resolveClusterTarget, wantsCluster, type ClusterFlags } from './cluster/cluster-target.js';
import { DaemonRolloutClient } from './daemon-rollout-client.js';
import type { RolloutClient } from './rollout-client.js';

/** Exit codes for pipelines. */
export const EXIT = { ok: 0, degraded: 1, usage: 2, unreachable: 3 } as const;

/** A failure the CLI reports as one sentence and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Output streams and environment, injectable for tests. */
export interface CliIo {
  /** Standard output. */
  out: (text: string) => void;
  /** Standard error. */
  err: (text: string) => void;
  /** Whether stdout is a terminal (live views redraw in place). */
  isTty: boolean;
  /** Environment. */
  env: NodeJS.ProcessEnv;
  /** Working directory. */
  cwd: string;
}

/** The context commands run in. */
export class CliContext {
  /** Exit code a command sets when it did not fail but the outcome is not healthy. */
  exitCode = 0;
  /**
   * Set by commands that must outlive a closed stdout (`graylane up`: its app must still be drained
   * and stopped); every other command ends with exit 0 when its reader goes away (`… | head`).
   */
  keepRunningWhenOutputCloses = false;
  /**
   * Set by a command that started processes it must stop before it ends (`graylane demo`): called
   * instead of exiting when its reader goes away; the command then stops them and returns.
   */
  onOutputClosed: (() => void) | undefined;
  constructor(readonly io: CliIo) {}

  /** Prints a line to stdout. */
  print(text: string): void {
    this.io.out(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Prints a line to stderr. */
  warn(text: string): void {
    this.io.err(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** The state dir for a command given its flags. */
  stateDir(options: { stateDir?: string; file?: string }): string {
    try {
      return discoverStateDir({ flag: options.stateDir, appFile: options.file, cwd: this.io.cwd, env: this.io.env });
    } catch (err) {
      if (err instanceof AmbiguousDaemonError) throw new CliError(err.message, EXIT.usage);
      if (err instanceof EndedDaemonsError) throw new CliError(err.message, EXIT.unreachable);
      throw err;
    }
  }

  /** A client of the daemon found through the state dir; refused in cluster mode (`kubectl graylane`). */
  client(options: { stateDir?: string; file?: string }): ApiClient {
    if (this.io.env[TARGET_ENV] === 'cluster') {
      throw new CliError(`this command works with the graylane daemon only, not against a cluster (${TARGET_ENV}=cluster, as \`kubectl graylane\` sets); on Kubernetes use kubectl, e.g. \`kubectl logs\``, EXIT.usage);
    }
    return clientFromStateDir(this.stateDir(options));
  }

  /**
   * The rollouts of the daemon, or of a cluster when a cluster flag (or `GRAYLANE_TARGET=cluster`)
   * says so: see src/cli/cluster/cluster-target.ts for the rule.
   */
  async rollouts(options: ClusterFlags & { stateDir?: string }): Promise<RolloutClient> {
    if (!wantsCluster(options, this.io.env)) return new DaemonRolloutClient(this.client(options));
    if (options.stateDir !== undefined) throw new CliError('--state-dir names a daemon and the cluster flags a cluster: give one or the other', EXIT.usage);
    try {
      const target = await resolveClusterTarget(options, this.io.env);
      // Loaded only for a cluster, as the kubeconfig is: see resolveClusterTarget.
      const { ClusterClient } = await import('./cluster/cluster-client.js');
      return new ClusterClient({ target });
    } catch (err) {
      if (err instanceof ClusterTargetError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  }
}
