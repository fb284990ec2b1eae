import type { CanaryStep, CanaryStrategy, SetCanaryScale } from '../documents/schema.js';

/** The step fields read by the weight rules: a subset of a rollout's status. */
export interface StepPosition {
  /** Index of the step in progress; `steps.length` once every step is done. Absent means 0. */
  currentStepIndex?: number | undefined;
  /** Aborted: the canary weight is 0 whatever the step. */
  abort?: boolean | undefined;
  /** Promoted fully: the canary goes to 100% at once, skipping the remaining steps. */
  promoteFull?: boolean | undefined;
  /** The stable revision; absent before the first revision became stable. */
  stableRS?: string | undefined;
  /** The revision being rolled out (the desired one). */
  currentPodHash?: string | undefined;
}

/** The step in progress and its index, or `step: undefined` when there are no steps or all are done. */
export function currentCanaryStep(canary: CanaryStrategy, position: StepPosition): { step: CanaryStep | undefined; index: number | undefined } {
  const steps = canary.steps ?? [];
  if (steps.length === 0) return { step: undefined, index: undefined };
  const index = position.currentStepIndex ?? 0;
  return { step: steps[index], index };
}

/**
 * The traffic weight the steps ask for now: the last `setWeight` at or before the current step,
 * 0 before the first one, 100 once every step is done, 0 when aborted.
 */
export function currentSetWeight(canary: CanaryStrategy, position: StepPosition): number {
  if (position.abort) return 0;
  const { step, index } = currentCanaryStep(canary, position);
  if (step === undefined || index === undefined) return canary.trafficRouting?.maxTrafficWeight ?? 100;
  return lastSetWeightAtOrBefore(canary.steps ?? [], index) ?? 0;
}

/** The last `setWeight` value among steps[0..index], if any. */
export function lastSetWeightAtOrBefore(steps: readonly CanaryStep[], index: number): number | undefined {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const s = steps[i];
    if (s && 'setWeight' in s) return s.setWeight;
  }
  return undefined;
}

/**
 * The `setCanaryScale` in force, if any: only with traffic routing (without it, instances are
 * the traffic split), the last one at or before the current step unless it says
 * `matchTrafficWeight`, and ignored once aborted unless `abortScaleDownDelaySeconds: 0` asked to
 * leave the canary up.
 */
export function setCanaryScaleInForce(canary: CanaryStrategy, position: StepPosition): SetCanaryScale | undefined {
  if (!canary.trafficRouting) return undefined;
  if (position.abort && canary.abortScaleDownDelaySeconds !== 0) return undefined;
  const { step, index } = currentCanaryStep(canary, position);
  if (step === undefined || index === undefined) return undefined;
  const steps = canary.steps ?? [];
  for (let i = index; i >= 0; i--) {
    const s = steps[i];
    if (!s || !('setCanaryScale' in s)) continue;
    if (s.setCanaryScale.matchTrafficWeight) return undefined;
    return s.setCanaryScale;
  }
  return undefined;
}

/** Either a fixed canary instance count (from setCanaryScale.replicas) or a weight to size it by. */
export type CanaryScale = { replicas: number } | { weight: number };

/** What sizes the canary now, as Argo's GetCanaryReplicasOrWeight. */
export function canaryReplicasOrWeight(canary: CanaryStrategy, position: StepPosition): CanaryScale {
  // "All of it" is the whole of the traffic router's weight scale (100 unless maxTrafficWeight).
  if (position.promoteFull || !position.stableRS || position.currentPodHash === position.stableRS) return { weight: canary.trafficRouting?.maxTrafficWeight ?? 100 };
  const scs = setCanaryScaleInForce(canary, position);
  if (scs?.replicas !== undefined) return { replicas: scs.replicas };
  if (scs?.weight !== undefined) return { weight: scs.weight };
  return { weight: currentSetWeight(canary, position) };
}
