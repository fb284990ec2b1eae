/**
 * What the rollout verbs (`get`, `status`, `promote` …) need of whatever holds the rollouts: the
 * daemon on a single host, or a Kubernetes cluster. One interface, so that a verb is written once
 * and behaves (output, exit codes) the same against either.
 */
import type { Operation } from '../controller/control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../controller/view-model.js';
import type { DataPlaneView } from '../api/contract/index.js';

/** Options of {@link RolloutClient.operate}. */
export interface OperateOptions {
  /**
   * The status version the operation was decided on, as given by the person (`--expected-version`);
   * absent: the version read just before, with a conflict retried (cluster) or refused (daemon).
   */
  expectedVersion?: number | undefined;
}

/** Reads and operates rollouts; errors are the daemon's (`ApiError` codes NotFound, InvalidOperation, Conflict) or an unreachable target. */
export interface RolloutClient {
  /** What `get` says when there are no rollouts, when the daemon's words (apply an App file) do not fit. */
  readonly noneMessage?: string | undefined;
  /** Every rollout's view. */
  list(): Promise<ServiceView[]>;
  /** One rollout's view; `ApiError` NotFound when there is none by that name. */
  get(name: string): Promise<ServiceView>;
  /** The revisions of a rollout, newest first. */
  history(name: string, options: { showEnv: boolean }): Promise<RevisionView[]>;
  /** The rollout's analysis runs with their metrics and measurements, newest first. */
  analysis(name: string): Promise<AnalysisRunView[]>;
  /** Runs a person's operation and returns the view after it. */
  operate(name: string, operation: Operation, options: OperateOptions): Promise<ServiceView>;
  /** The rollout's view each time it changes, until `signal` aborts. */
  watch(name: string, signal: AbortSignal): AsyncIterable<ServiceView>;
  /** The single host's data plane; absent on a cluster (its traffic goes through the cluster's). */
  dataPlane?(): Promise<DataPlaneView>;
}
