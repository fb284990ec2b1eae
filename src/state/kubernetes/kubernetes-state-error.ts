/** Why the Kubernetes state adapter could not do what was asked (a conflict is a `StateConflictError` instead). */
export type KubernetesStateErrorCode = 'RolloutNotFound' | 'ReleasesUnsupported' | 'StatusWriteFailed';

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
