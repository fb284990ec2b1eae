/** Why the Istio traffic provider could not put a decision in force. */

/** What kept a decision out of the VirtualServices or the DestinationRule. */
export type IstioRefusalReason =
  /** The decision's spec names no `trafficRouting.istio`. */
  | 'config-missing'
  /** A VirtualService the spec names does not exist (graylane never creates one). */
  | 'virtual-service-not-found'
  /** A route the spec names (HTTP by name, TLS by port and SNI hosts, TCP by port) is not in its VirtualService. */
  | 'route-not-found'
  /** A route to split has no destination for the stable or the canary (Service or subset). */
  | 'destination-not-found'
  /** The DestinationRule the spec names does not exist. */
  | 'destination-rule-not-found'
  /** The DestinationRule lacks the stable or the canary subset. */
  | 'subset-not-found'
  /** A header route matches two cookies: Istio sees one Cookie header, matched by one pattern. */
  | 'cookie-conditions'
  /** Release pinning needs a header the user's route already uses (a Set-Cookie added, a cookie or pin header matched). */
  | 'pin-conflict';

/**
 * `apply` wrote nothing: the spec and the cluster's objects disagree, as the sentence says (it
 * names the object and the field). The reconciler reports it as the pass's RoutingFailed event
 * and tries again on the next pass, when someone may have fixed either side.
 */
export class IstioRoutingError extends Error {
  readonly code = 'IstioRoutingRefused';
  constructor(
    /** Why. */
    readonly reason: IstioRefusalReason,
    /** `VirtualService/name`, `DestinationRule/name` or `Rollout` (for the spec itself). */
    readonly object: string,
    message: string,
  ) {
    super(message);
    this.name = 'IstioRoutingError';
  }
}
