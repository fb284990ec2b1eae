/**
 * A Rollout with a `workloadRef` takes over an existing Deployment: its pods give way to the
 * Rollout's as Argo Rollouts' `scaleDown` modes say, and the Deployment gets its replicas back
 * when the Rollout is removed. The decision is pure; the write is one merge patch of the
 * Deployment that also remembers the original replica count in an annotation, so that a restarted
 * controller (or the giving back) knows it.
 */
import { ApiException, PatchStrategy, setHeaderOptions, type AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import type { RolloutPhase } from '../../engine/index.js';
import { FIELD_MANAGER } from '../../kube/names.js';

/** Argo's modes: `never` leaves the Deployment alone (the default), `onsuccess` scales it to 0 once the Rollout is Healthy, `progressively` as the Rollout's pods become available. */
export type ScaleDownMode = 'never' | 'onsuccess' | 'progressively';

/** The Deployment's replica count before graylane scaled it: what it gets back. */
export const ORIGINAL_REPLICAS_ANNOTATION = 'graylane.dev/original-replicas';

/** What the decision needs to know of the Rollout. */
export interface WorkloadRolloutState {
  /** The Rollout's phase. */
  phase: RolloutPhase;
  /** The Rollout's pods available now (all revisions). */
  availableReplicas: number;
}

/**
 * The referenced Deployment's replicas, or undefined for "leave it as it is" (`never`).
 * Healthy (or Completed): none left. Degraded: all back, so that an aborted Rollout still serves
 * (Argo scales the Deployment back up when the Rollout fails). Otherwise `onsuccess` keeps all of
 * them and `progressively` keeps what the Rollout's available pods do not yet replace.
 */
export function deploymentReplicas(options: { mode: ScaleDownMode; originalReplicas: number; rollout: WorkloadRolloutState }): number | undefined {
  const { mode, originalReplicas, rollout } = options;
  if (mode === 'never') return undefined;
  if (rollout.phase === 'Healthy' || rollout.phase === 'Completed') return 0;
  if (rollout.phase === 'Degraded' || mode === 'onsuccess') return originalReplicas;
  return Math.max(0, originalReplicas - rollout.availableReplicas);
}

/** A referenced Deployment could not be scaled or given back. */
export class WorkloadRefError extends Error {
  /** Stable code for callers. */
  readonly code = 'WorkloadRef';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkloadRefError';
  }
}

/** The replicas the Deployment had before graylane touched it: the annotation, else its spec now. */
export function originalReplicasOf(deployment: V1Deployment): number {
  const remembered = deployment.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION];
  // An annotation someone edited into nonsense is ignored rather than trusted.
  if (remembered !== undefined && /^[0-9]+$/.test(remembered)) return Number(remembered);
  // A Deployment without spec.replicas runs 1, as the API server defaults it.
  return deployment.spec?.replicas ?? 1;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function patch(apps: AppsV1Api, namespace: string, name: string, body: object, doing: string): Promise<V1Deployment> {
  try {
    return await apps.patchNamespacedDeployment({ name, namespace, body, fieldManager: FIELD_MANAGER }, mergePatch);
  } catch (error) {
    const why = error instanceof ApiException ? `the API server answered ${error.code}` : (error as Error).message;
    throw new WorkloadRefError(`could not ${doing} Deployment "${namespace}/${name}": ${why}`, { cause: error });
  }
}

/**
 * Scales the referenced Deployment as {@link deploymentReplicas} decides, remembering its
 * original count first. Writes nothing when the Deployment already has that count (idempotent,
 * so every pass may call it). Returns the replicas it has now.
 */
export async function scaleReferencedDeployment(options: { apps: AppsV1Api; deployment: V1Deployment; mode: ScaleDownMode; rollout: WorkloadRolloutState }): Promise<number | undefined> {
  const { apps, deployment, mode, rollout } = options;
  const originalReplicas = originalReplicasOf(deployment);
  const replicas = deploymentReplicas({ mode, originalReplicas, rollout });
  if (replicas === undefined) return deployment.spec?.replicas;
  const remembered = deployment.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION] !== undefined;
  if (remembered && deployment.spec?.replicas === replicas) return replicas;
  const name = deployment.metadata?.name ?? '';
  const namespace = deployment.metadata?.namespace ?? 'default';
  await patch(apps, namespace, name, { metadata: { annotations: { [ORIGINAL_REPLICAS_ANNOTATION]: String(originalReplicas) } }, spec: { replicas } }, 'scale');
  return replicas;
}

/**
 * Gives the Deployment back when its Rollout is removed: the original replicas, and the
 * annotation gone. A Deployment graylane never scaled, or one already deleted, is left alone.
 * Returns whether it wrote.
 */
export async function releaseReferencedDeployment(options: { apps: AppsV1Api; namespace: string; name: string }): Promise<boolean> {
  const { apps, namespace, name } = options;
  let deployment: V1Deployment;
  try {
    deployment = await apps.readNamespacedDeployment({ name, namespace });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return false;
    const why = error instanceof ApiException ? `the API server answered ${error.code}` : (error as Error).message;
    throw new WorkloadRefError(`could not read Deployment "${namespace}/${name}" to give it back: ${why}`, { cause: error });
  }
  if (deployment.metadata?.annotations?.[ORIGINAL_REPLICAS_ANNOTATION] === undefined) return false;
  await patch(apps, namespace, name, { metadata: { annotations: { [ORIGINAL_REPLICAS_ANNOTATION]: null } }, spec: { replicas: originalReplicasOf(deployment) } }, 'give back');
  return true;
}
