/** Why the Gateway API provider left a route as it was. */

/** What kept one route from carrying a decision. */
export type GatewayRouteRefusalReason =
  /** No route of that kind and name in the namespace. */
  | 'not-found'
  /** No rule of the route has backendRefs naming both the canary and the stable Service. */
  | 'backend-not-found'
  /** With graylane's rules added the route would hold more rules than the Gateway API allows (16). */
  | 'too-many-rules'
  /** Release pinning needs a header the user's rule already uses (a Set-Cookie added, a Cookie or pin header matched). */
  | 'pin-conflict';

/** One route left as it was, and why, as a sentence naming it. */
export interface GatewayRouteRefusal {
  /** `HTTPRoute namespace/name`. */
  route: string;
  /** Why. */
  reason: GatewayRouteRefusalReason;
  /** A sentence naming the route, for the RoutingFailed event. */
  message: string;
}

/**
 * `apply` left one or more routes as they were (it still wrote every other one): the reconciler
 * reports the pass's RoutingFailed event with this message and tries again on the next pass.
 */
export class GatewayRouteError extends Error {
  readonly code = 'GatewayRouteRefused';
  constructor(
    /** Every route left as it was. */
    readonly refusals: readonly GatewayRouteRefusal[],
  ) {
    super(refusals.map((r) => r.message).join('; '));
    this.name = 'GatewayRouteError';
  }
}

/**
 * The API server shed a route write (429 or 503 with Retry-After): the route is as it was, and
 * `retryAfterMs` is how long the server asked to be left alone, which the reconciler honours.
 */
export class GatewayRouteThrottledError extends Error {
  readonly code = 'GatewayRouteWriteThrottled';
  constructor(
    /** `HTTPRoute namespace/name`. */
    readonly route: string,
    /** The delay the server asked for. */
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(`${route} was not written: the API server is throttling and asked to retry after ${retryAfterMs} ms`, options);
    this.name = 'GatewayRouteThrottledError';
  }
}

/** A decision's spec has no usable Gateway API configuration (validate should have refused it). */
export class GatewayConfigError extends Error {
  readonly code = 'GatewayConfigInvalid';
  constructor(
    /** Each problem, as `path: reason`. */
    readonly problems: readonly string[],
  ) {
    super(`the Gateway API configuration cannot be carried out: ${problems.join('; ')}`);
    this.name = 'GatewayConfigError';
  }
}
