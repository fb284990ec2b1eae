/**
 * What the daemon's API, the CLI and the console can ask of a controller. The local controller
 * implements it over processes and the built-in router; a Kubernetes one would over the cluster.
 */
import type { ServiceView, RevisionView, AnalysisRunView } from '../view/view-model.js';
import type { ApplyResult, ControlPlaneErrorCode, EventView, Operation } from '../api/contract/index.js';

// The operation vocabulary, events, apply results and error codes are the API contract's, defined once.
export type { ApplyResult, ControlPlaneErrorCode, EventView, Operation };

/** Options of {@link ControlPlane.operate}. */
export interface OperateOptions {
  /** The status version (ServiceView.version) the operation was decided on; absent: no check. */
  expectedVersion?: number | undefined;
}

/** The controller as its clients see it. */
export interface ControlPlane {
  /**
   * Validates an App file's text and applies it as one unit: all services or none. Services the
   * file does not name are removed only with `prune` or when the App keeps its `metadata.name`;
   * otherwise the apply is refused (ControlPlaneError InvalidOperation) and nothing changes.
   */
  apply(input: { text: string; file: string; prune?: boolean }): Promise<ApplyResult>;
  /** Every service's current view. */
  list(): ServiceView[];
  /** One service's view; throws ControlPlaneError NotFound. */
  get(name: string): ServiceView;
  /**
   * Runs an operation; throws ControlPlaneError InvalidOperation when it makes no sense now, and
   * Conflict when `expectedVersion` (the view's `version` it was decided on) is no longer current.
   */
  operate(name: string, operation: Operation, options?: OperateOptions): Promise<ServiceView>;
  /** Revisions of a service, newest first; environment values are masked unless `showEnv`. */
  history(name: string, options?: { showEnv?: boolean }): RevisionView[];
  /** Analysis runs of a service, newest first. */
  analysis(name: string): AnalysisRunView[];
  /** Events, oldest first. */
  events(options?: { service?: string; afterId?: number; limit?: number }): EventView[];
  /** Calls listener on every new event and every view change; returns the unsubscribe function. */
  subscribe(listener: (change: { event?: EventView; view?: ServiceView }) => void): () => void;
  /** Log lines of a service's instances (the last `tailLines` of each, or those since `sinceMs`); follows new lines until signal aborts when follow is set. */
  logs(options: { service: string; revision?: string; follow?: boolean; tailLines?: number; sinceMs?: number; signal?: AbortSignal }): AsyncIterable<string>;
}

/** A control-plane error; `message` reads like a sentence and says what to do. */
export class ControlPlaneError extends Error {
  constructor(
    readonly code: ControlPlaneErrorCode,
    message: string,
    /** Extra lines (validation errors one per line). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}
