/** Why the ingress-nginx provider could not put a decision in force. */

/** What kept the canary Ingress from being written as the decision says. */
export type NginxIngressErrorCode =
  /** The Rollout's spec names no `trafficRouting.nginx` (or no canary strategy). */
  | 'NginxNotConfigured'
  /** A stable Ingress the spec names does not exist. */
  | 'StableIngressNotFound'
  /** A stable Ingress has no path whose backend is the stable Service: nothing to clone. */
  | 'NoStableServiceRule'
  /** The root could not say which Rollout object owns the canary Ingress (not in its cache yet). */
  | 'RolloutOwnerUnknown'
  /** An Ingress with the canary Ingress's name exists and is not this Rollout's. */
  | 'CanaryIngressTaken'
  /** The routes in force need more than one header or more than one cookie, or several conditions at once. */
  | 'UnrepresentableRoutes';

/**
 * A decision the provider refused to write, with a sentence naming the Ingress or route; the
 * reconciler reports it as the pass's RoutingFailed event and tries again on the next pass. Every
 * canary Ingress the provider could write before the refusal is written.
 */
export class NginxIngressError extends Error {
  constructor(
    /** Why. */
    readonly code: NginxIngressErrorCode,
    message: string,
    /** The Ingress concerned, when there is one. */
    readonly ingress?: string | undefined,
  ) {
    super(message);
    this.name = 'NginxIngressError';
  }
}
