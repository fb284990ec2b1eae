/** Why the Kubernetes state adapter could not do what was asked (a conflict is a `StateConflictError` instead). */
export type KubernetesStateErrorCode =
  | 'RolloutNotFound' | 'ReleasesUnsupported' | 'StatusWriteFailed'
  /** An Argo Rollout's memory annotation was not written (see engine-memory.ts). */
  | 'MemoryWriteFailed'
  /** An Argo Rollout's memory annotation is not graylane's memory (someone edited it). */
  | 'MemoryUnreadable';

/** A failure of the Kubernetes state adapter other than a conflict. */
export class KubernetesStateError extends Error {
  constructor(
    /** Machine-readable. */
    readonly code: KubernetesStateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubernetesStateError';
  }
}
