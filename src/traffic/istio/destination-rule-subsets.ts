/**
 * What a DestinationRule's subsets must say for one decision (subset-level splitting): the stable
 * and canary subsets select their revision's pods by `rollouts-pod-template-hash`, every other
 * label, subset and field (circuit breaking in `trafficPolicy` included) kept as written. Pure,
 * shared by `apply` and `verify`.
 */
import { POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import { IstioRoutingError } from './istio-routing-error.js';
import type { Json } from './virtual-service-routes.js';

/** A rollout's `trafficRouting.istio.destinationRule` (Argo's fields). */
export interface DestinationRuleRef {
  /** Its name. */
  name: string;
  /** The subset the canary's pods are selected by. */
  canarySubsetName: string;
  /** The subset the stable's pods are selected by. */
  stableSubsetName: string;
}

/** The subsets list `spec` must have so that each side selects its revision; throws when a subset is missing. */
export function desiredSubsets(spec: Json, ref: DestinationRuleRef, hashes: { stable: string; canary: string }): Json[] {
  const subsets = Array.isArray(spec.subsets) ? (spec.subsets as Json[]) : [];
  for (const [field, name] of [['stableSubsetName', ref.stableSubsetName], ['canarySubsetName', ref.canarySubsetName]] as const) {
    if (!subsets.some((s) => s.name === name)) {
      throw new IstioRoutingError('subset-not-found', `DestinationRule/${ref.name}`, `DestinationRule "${ref.name}" has no subset named "${name}" (${field})`);
    }
  }
  return subsets.map((s) => {
    const hash = s.name === ref.stableSubsetName ? hashes.stable : s.name === ref.canarySubsetName ? hashes.canary : undefined;
    return hash === undefined ? s : { ...s, labels: { ...(s.labels as Record<string, string> | undefined), [POD_TEMPLATE_HASH_LABEL]: hash } };
  });
}
