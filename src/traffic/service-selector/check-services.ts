/**
 * The Service checks made before anything is applied, for the Rollout's InvalidSpec condition:
 * a Service the spec names must exist, select the pod template's pods (its selector without the
 * hash key must match the template's labels, or pointing it at a revision would select nothing),
 * and not be managed by another Rollout. Each problem is a sentence naming the Service; the
 * controller refuses the whole spec on any of them, so nothing is half-applied.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { namedServices } from './service-targets.js';

/** Input of {@link checkServices}. */
export interface CheckServicesInput {
  /** The Rollout's spec. */
  spec: RolloutSpec;
  /** The Rollout's namespace. */
  namespace: string;
  /** The Rollout's name (what the managed-by annotation says). */
  rollout: string;
  /** The cluster's Services. */
  services: ObjectCache<V1Service>;
  /** The labels of the Rollout's pod template (`spec.template.metadata.labels`). */
  templateLabels: Readonly<Record<string, string>>;
}

/**
 * Every problem with the Services `spec` names, as sentences naming each Service; empty when
 * there is none, or when the cache has not listed yet (an empty copy then means "not known").
 */
export function checkServices(input: CheckServicesInput): string[] {
  if (!input.services.synced()) return [];
  const out: string[] = [];
  for (const { service, role } of namedServices(input.spec)) {
    const field = `${role}Service`;
    const svc = input.services.get(input.namespace, service);
    if (!svc) {
      out.push(`${field} "${service}" does not exist in namespace "${input.namespace}"`);
      continue;
    }
    const owner = svc.metadata?.annotations?.[MANAGED_BY_ANNOTATION];
    if (owner !== undefined && owner !== input.rollout) out.push(`${field} "${service}" is managed by Rollout "${owner}"`);
    const mismatched = Object.entries(svc.spec?.selector ?? {})
      .filter(([k, v]) => k !== POD_TEMPLATE_HASH_LABEL && input.templateLabels[k] !== v)
      .map(([k, v]) => `${k}=${v}`);
    if (mismatched.length > 0) {
      out.push(`${field} "${service}" selects ${mismatched.join(', ')}, which the pod template's labels do not carry`);
    }
  }
  return out;
}
