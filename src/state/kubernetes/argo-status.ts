/**
 * The differences between graylane's Rollout status and Argo Rollouts' where the field names are
 * the same (`graylane controller --argo-rollouts`): Argo's CRD types `observedGeneration` as a
 * string (a number would be refused by its schema), and its scale subresource reads the replica
 * count from `HPAReplicas`, which `kubectl scale` and an HPA need.
 */
import type { RolloutStatusDoc } from '../../documents/status-schema.js';

/** `status` as Argo's CRD takes it (a copy). */
export function inArgoShape(status: RolloutStatusDoc): RolloutStatusDoc {
  const out: Record<string, unknown> = { ...status };
  if (status.observedGeneration !== undefined) out.observedGeneration = String(status.observedGeneration);
  if (status.replicas !== undefined) out.HPAReplicas = status.replicas;
  return out;
}
