/** Errors of the Kubernetes runtime; each carries a stable `code` like every runtime error. */
import { RuntimeError } from '../errors.js';

/**
 * A ReplicaSet with the name graylane would use exists and is not this Rollout's (another owner,
 * no owner, or the same owner with another pod template): graylane never takes one over.
 */
export class ForeignReplicaSetError extends RuntimeError {
  constructor(
    /** `namespace/name` of the ReplicaSet. */
    readonly replicaSet: string,
    reason: string,
  ) {
    super('ForeignReplicaSet', `ReplicaSet ${replicaSet} ${reason}; graylane does not take over a ReplicaSet it did not create for this Rollout: delete or rename it`);
  }
}

/** A ReplicaSet write kept conflicting with other writers (409) after a re-read and one retry. */
export class ReplicaSetConflictError extends RuntimeError {
  constructor(
    /** `namespace/name` of the ReplicaSet. */
    readonly replicaSet: string,
  ) {
    super('ReplicaSetConflict', `ReplicaSet ${replicaSet} was changed by another writer twice while graylane updated it (409 Conflict); the next reconcile tries again`);
  }
}

/**
 * The API server refused a write (an invalid template, a missing namespace, no permission …), or
 * shed it (429, 503): then `retryAfterMs` is the wait it asked for, which the work queue honours.
 */
export class KubernetesWriteError extends RuntimeError {
  /** The delay the server asked for with Retry-After (see src/lib/retry-after.ts), if it asked. */
  readonly retryAfterMs: number | undefined;

  constructor(
    /** What was being written, e.g. `create ReplicaSet default/web-abc`. */
    readonly operation: string,
    /** The HTTP status the API server answered. */
    readonly statusCode: number,
    detail: string,
    options?: ErrorOptions & { retryAfterMs?: number | undefined },
  ) {
    const wait = options?.retryAfterMs === undefined ? '' : ` (the server asked to retry after ${options.retryAfterMs} ms)`;
    super('KubernetesWrite', `${operation} failed: HTTP ${statusCode}: ${detail}${wait}`, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}
