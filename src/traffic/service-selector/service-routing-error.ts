/** Why the Service-selector provider left a Service as it was. */

/** What kept one Service from being pointed where the decision says. */
export type ServiceRefusalReason =
  /** No Service of that name in the namespace. */
  | 'not-found'
  /** Another Rollout's managed-by annotation is on it. */
  | 'managed-elsewhere'
  /** The revision has no ready pod the Service would select: pointing it there would fail every request. */
  | 'no-ready-pod';

/** One Service left as it was, and why, as a sentence naming it. */
export interface ServiceRefusal {
  /** The Service's name. */
  service: string;
  /** Why. */
  reason: ServiceRefusalReason;
  /** A sentence naming the Service, for the RoutingFailed event. */
  message: string;
}

/**
 * `apply` left one or more Services as they were (it still wrote every other one): the
 * reconciler turns this into the pass's RoutingFailed event and tries again on the next pass.
 */
export class ServiceRoutingError extends Error {
  readonly code = 'ServiceRoutingRefused';
  constructor(
    /** Every Service left as it was. */
    readonly refusals: readonly ServiceRefusal[],
  ) {
    super(refusals.map((r) => r.message).join('; '));
    this.name = 'ServiceRoutingError';
  }
}
