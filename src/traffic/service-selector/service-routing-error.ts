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

/**
 * The API server shed a Service write (429 or 503 with Retry-After): the Service is as it was,
 * and `retryAfterMs` is how long the server asked to be left alone, which the reconciler honours
 * before it routes this rollout again.
 */
export class ServiceWriteThrottledError extends Error {
  readonly code = 'ServiceWriteThrottled';
  constructor(
    /** `namespace/name` of the Service. */
    readonly service: string,
    /** The delay the server asked for (see src/lib/retry-after.ts). */
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(`Service ${service} was not patched: the API server is throttling (HTTP ${statusOf(options?.cause) ?? '429'}) and asked to retry after ${retryAfterMs} ms`, options);
    this.name = 'ServiceWriteThrottledError';
  }
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
