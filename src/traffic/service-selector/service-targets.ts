/**
 * Which Service points at which revision, from a rollout's spec and the engine's decision, pure.
 * Argo Rollouts' rules: blue-green's `activeService` follows the revision users get (the engine
 * switches it only once the new one is fully available) and `previewService` the preview while
 * there is one, else the active revision; a canary's `stableService` follows stable and its
 * `canaryService` the canary while one exists, else stable.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';

/** The role a Service plays for its rollout. */
export type ServiceRole = 'active' | 'preview' | 'stable' | 'canary';

/** One Service and the revision (pod-template hash) its selector should name. */
export interface ServiceTarget {
  /** The Service's name, in the rollout's namespace. */
  service: string;
  /** What the spec calls it. */
  role: ServiceRole;
  /** The revision's pod-template hash. */
  revision: string;
}

/** The Services `spec` names, with their roles, in spec order; none without a strategy naming one. */
export function namedServices(spec: RolloutSpec | undefined): { service: string; role: ServiceRole }[] {
  const bg = spec?.strategy.blueGreen;
  const canary = spec?.strategy.canary;
  const out: { service: string; role: ServiceRole }[] = [];
  if (bg?.activeService !== undefined) out.push({ service: bg.activeService, role: 'active' });
  if (bg?.previewService !== undefined) out.push({ service: bg.previewService, role: 'preview' });
  if (canary?.stableService !== undefined) out.push({ service: canary.stableService, role: 'stable' });
  if (canary?.canaryService !== undefined) out.push({ service: canary.canaryService, role: 'canary' });
  return out;
}

/** Where each Service `spec` names should point under `traffic`. */
export function serviceTargets(spec: RolloutSpec | undefined, traffic: TrafficInForce): ServiceTarget[] {
  const stable = traffic.stableRevision;
  const canary = traffic.canaryRevision !== undefined && traffic.canaryRevision !== '' ? traffic.canaryRevision : stable;
  const preview = traffic.previewRevision !== undefined && traffic.previewRevision !== '' ? traffic.previewRevision : stable;
  const revisionOf: Record<ServiceRole, string> = { active: stable, preview, stable, canary };
  return namedServices(spec).map((s) => ({ ...s, revision: revisionOf[s.role] }));
}
