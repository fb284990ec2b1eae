/** Why the Kubernetes state adapter could not do what was asked (a conflict is a `StateConflictError` instead). */
export type KubernetesStateErrorCode =
  | 'RolloutNotFound' | 'ReleasesUnsupported' | 'StatusWriteFailed'
  /** A Release whose status was to be written is not there (deleted meanwhile). */
  | 'ReleaseNotFound'
  /** An Argo Rollout's memory annotation was not written (see engine-memory.ts). */
  | 'MemoryWriteFailed'
  /** An Argo Rollout's memory annotation is not graylane's memory (someone edited it). */
  | 'MemoryUnreadable';

/**
 * A failure of the Kubernetes state adapter other than a conflict. A write the server shed (429,
 * 503) carries the wait it asked for as `retryAfterMs`, which the work queue honours.
 */
export class KubernetesStateError extends Error {
  /** The delay the server asked for with Retry-After (see src/lib/retry-after.ts), if it asked. */
  readonly retryAfterMs: number | undefined;

  constructor(
    /** Machine-readable. */
    readonly code: KubernetesStateErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options);
    this.name = 'KubernetesStateError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}
