/**
 * What the daemon's API, the CLI and the console can ask of a controller. The local controller
 * implements it over processes and the built-in router; a Kubernetes one would over the cluster.
 */
import type { ServiceView, RevisionView, AnalysisRunView } from './view-model.js';

/** An operation on a service (or a release), as the CLI, the API and the console name them. */
export type Operation =
  | { type: 'promote'; full?: boolean }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'abort' }
  | { type: 'retry' }
  | { type: 'undo'; toRevision?: number }
  | { type: 'setWeight'; percent: number }
  | { type: 'restart' };

/** Options of {@link ControlPlane.operate}. */
export interface OperateOptions {
  /** The status version (ServiceView.version) the operation was decided on; absent: no check. */
  expectedVersion?: number | undefined;
}

/** What `apply` did to each service. */
export interface ApplyResult {
  /** One line per service in the file. */
  services: { name: string; revision: string; revisionNumber: number; change: 'created' | 'updated' | 'unchanged' | 'rollback' }[];
  /** Things the user should know that did not stop the apply. */
  warnings: string[];
  /** Services the file no longer names that were removed, with their history (asked for with `prune` or the same App name). */
  removed: string[];
}

/** One history line of what happened. */
export interface EventView {
  /** Increasing id, for resuming a stream. */
  id: number;
  /** Service it concerns. */
  service: string;
  /** Epoch ms. */
  atMs: number;
  /** Severity. */
  level: 'info' | 'warning' | 'error';
  /** Machine-readable reason. */
  reason: string;
  /** A sentence. */
  message: string;
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

/** Why a control-plane call failed. */
export type ControlPlaneErrorCode = 'NotFound' | 'InvalidOperation' | 'ValidationFailed' | 'Conflict' | 'Internal';

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
