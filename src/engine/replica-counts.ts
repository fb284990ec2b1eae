import type { BlueGreenStrategy, CanaryStrategy, RolloutSpec } from '../documents/schema.js';
import { resolveFenceposts } from './fenceposts.js';
import { canaryReplicasOrWeight, setCanaryScaleInForce, type StepPosition } from './steps.js';

/** One revision's instances as the runtime reports them (a ReplicaSet's spec and status). */
export interface RevisionReplicas {
  /** The revision's name (its pod-template hash). */
  name: string;
  /** Instances asked for (ReplicaSet `spec.replicas`). */
  replicas: number;
  /** Instances ready and available (ReplicaSet `status.availableReplicas`). */
  availableReplicas: number;
}

/** Traffic weights in force, as Argo's `status.canary.weights`. */
export interface TrafficWeights {
  canary: { weight: number };
  stable: { weight: number };
}

/** The status fields of a Rollout that the replica math reads, with Argo's names. */
export interface ReplicaStatus extends StepPosition {
  /** Traffic weights in force (used by `dynamicStableScale`). */
  canary?: { weights?: TrafficWeights | undefined } | undefined;
}

/** A Rollout document, or just the parts the replica math reads. */
export interface RolloutForReplicas {
  spec: RolloutSpec;
  status?: ReplicaStatus | undefined;
}

export interface DesiredReplicaCountsInput {
  rollout: RolloutForReplicas;
  /** The stable revision's instances; absent before there is one. */
  stable?: RevisionReplicas | undefined;
  /** The revision being rolled out; absent before its instances exist. */
  canary?: RevisionReplicas | undefined;
  /** Every other revision that may still have instances, oldest first. */
  older?: readonly RevisionReplicas[] | undefined;
}

export interface DesiredReplicaCounts {
  /** Instances the canary (new) revision should have now. */
  canary: number;
  /** Instances the stable revision should have now (0 when stable and canary are one revision). */
  stable: number;
  /** Instances each older revision should have now, in the order given. */
  older: { name: string; replicas: number }[];
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * The instance counts each revision should have at this moment of a rollout, the same numbers
 * Argo Rollouts gives for a canary (with and without traffic routing, `setCanaryScale`,
 * `dynamicStableScale`, abort, promote-full) and the Kubernetes Deployment controller gives for a
 * rolling update (a canary without steps). Call it again as instances become available: each
 * answer is one move within `maxSurge` and `maxUnavailable`, not the end state.
 *
 * @example
 * desiredReplicaCounts({
 *   rollout: { spec: { replicas: 10, strategy: { canary: { steps: [{ setWeight: 20 }] } } },
 *              status: { currentStepIndex: 0, stableRS: 'a', currentPodHash: 'b' } },
 *   stable: { name: 'a', replicas: 10, availableReplicas: 10 },
 * }) // → { canary: 3, stable: 10, older: [] } with the default 25% surge
 */
export function desiredReplicaCounts(input: DesiredReplicaCountsInput): DesiredReplicaCounts {
  const { rollout } = input;
  const { strategy } = rollout.spec;
  const replicas = rollout.spec.replicas ?? 1;
  const status = rollout.status ?? {};
  const older = input.older ?? [];
  if (strategy.blueGreen) return blueGreenCounts(strategy.blueGreen, replicas, status, input.stable, input.canary, older);
  const canary = strategy.canary;
  if (!canary) throw new RangeError('strategy: exactly one of canary, blueGreen is required');
  const fence = resolveFenceposts({ maxSurge: canary.maxSurge, maxUnavailable: canary.maxUnavailable, replicas });
  const stable = input.stable && input.canary && input.stable.name === input.canary.name ? undefined : input.stable;
  if ((canary.steps ?? []).length === 0) {
    // A canary without steps is a rolling update; an abort rolls the same way back to stable.
    if (status.abort && stable) {
      const back = rollingUpdate(replicas, fence, stable, [...older, ...(input.canary ? [input.canary] : [])]);
      return { stable: back.next, canary: input.canary ? back.old[back.old.length - 1] ?? 0 : 0, older: older.map((o, i) => ({ name: o.name, replicas: back.old[i] ?? 0 })) };
    }
    const forward = rollingUpdate(replicas, fence, input.canary, [...older, ...(stable ? [stable] : [])]);
    return { canary: forward.next, stable: stable ? forward.old[forward.old.length - 1] ?? 0 : 0, older: older.map((o, i) => ({ name: o.name, replicas: forward.old[i] ?? 0 })) };
  }
  if (canary.trafficRouting) {
    // As Argo, stable's count does not depend on a stable revision existing yet: the caller scales
    // only a revision it has.
    const counts = trafficRoutedCanaryCounts(canary, replicas, status, stable, input.canary);
    return { ...counts, older: scaleDownOlderForCanary(older, [input.canary, stable], replicas, fence, true) };
  }
  const counts = basicCanaryCounts(canary, replicas, fence, status, stable, input.canary, older);
  return { ...counts, older: scaleDownOlderForCanary(older, [input.canary, stable], replicas, fence, false) };
}

/**
 * The canary/stable split closest to `weight` using `replicas` instances, or one more when a
 * surge is allowed; a weight strictly between 0 and 100 never leaves either side at zero when
 * there are two or more instances to share.
 */
export function approximateWeightedCounts(replicas: number, weight: number, maxSurge: number): { canary: number; stable: number } {
  if (replicas === 0) return { canary: 0, stable: 0 };
  const exact = (replicas * weight) / 100;
  const ceil = Math.ceil(exact);
  const floor = Math.floor(exact);
  // When the floor and the ceiling are equally far from the weight, the larger canary wins.
  const tied = (total: number) => (total * weight) % 100 === 50;
  const zeroAllowed = weight === 100 || weight === 0 || (replicas === 1 && maxSurge === 0);
  const options: { canary: number; total: number }[] = [];
  if (ceil < replicas || zeroAllowed) options.push({ canary: ceil, total: replicas });
  if (!tied(replicas) && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: replicas });
  if (maxSurge > 0) {
    options.push({ canary: ceil, total: replicas + 1 });
    if (!tied(replicas + 1) && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: replicas + 1 });
  }
  const delta = (o: { canary: number; total: number }) => Math.abs((o.canary * 100) / o.total - weight);
  let best = options[0] ?? { canary: 0, total: replicas };
  for (const o of options.slice(1)) if (delta(o) < delta(best)) best = o;
  return { canary: best.canary, stable: best.total - best.canary };
}

/**
 * Instances for a weight out of `maxWeight` (100 unless `trafficRouting.maxTrafficWeight` says
 * otherwise), rounded up: a weight above 0 always gets at least one instance.
 */
export function trafficWeightToReplicas(replicas: number, weight: number, maxWeight = 100): number {
  return Math.ceil((weight * replicas) / maxWeight);
}

/** The weight scale traffic is split on: `trafficRouting.maxTrafficWeight`, else 100. */
export function maxTrafficWeight(canary: CanaryStrategy): number {
  return canary.trafficRouting?.maxTrafficWeight ?? 100;
}

/**
 * `minPodsPerReplicaSet` applied to a count: a revision that has instances at all has at least
 * that many (capped at spec.replicas, so the two never fight), for availability behind a router.
 */
function atLeastMinPods(canary: CanaryStrategy, replicas: number, count: number): number {
  if (count === 0 || canary.minPodsPerReplicaSet === undefined || !canary.trafficRouting) return count;
  return Math.max(count, Math.min(canary.minPodsPerReplicaSet, replicas));
}

/**
 * The canary weight an aborted `dynamicStableScale` rollout sizes by: not 0 at once (stable would
 * surge to full while the canary still holds its instances) but the next `setWeight` below what
 * the canary still has, walking the steps back down as stable instances become available.
 */
function abortStepDownWeight(canary: CanaryStrategy, replicas: number, stableRS: RevisionReplicas, newRS: RevisionReplicas): number {
  const maxWeight = maxTrafficWeight(canary);
  const expectedCanary = replicas - stableRS.availableReplicas;
  // An explicit delay keeps the canary at full size until its deadline, which is only set once
  // stable is full: its size must not hold the weight up, or the abort could never finish.
  const explicitDelay = canary.abortScaleDownDelaySeconds !== undefined && canary.abortScaleDownDelaySeconds > 0;
  const canaryNow = explicitDelay ? expectedCanary : Math.max(expectedCanary, newRS.availableReplicas);
  const steps = canary.steps ?? [];
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if (step && 'setWeight' in step && trafficWeightToReplicas(replicas, step.setWeight, maxWeight) < canaryNow) return step.setWeight;
  }
  return 0;
}

function trafficRoutedCanaryCounts(
  canary: CanaryStrategy, replicas: number, status: ReplicaStatus, stableRS: RevisionReplicas | undefined, newRS: RevisionReplicas | undefined,
): { canary: number; stable: number } {
  const maxWeight = maxTrafficWeight(canary);
  let scale = canaryReplicasOrWeight(canary, status);
  const separateStable = !status.promoteFull && !!status.stableRS && status.currentPodHash !== status.stableRS;
  if (status.abort && canary.dynamicStableScale && separateStable && stableRS && newRS && !setCanaryScaleInForce(canary, status)) {
    scale = { weight: abortStepDownWeight(canary, replicas, stableRS, newRS) };
  }
  let canaryCount = 'replicas' in scale ? scale.replicas : atLeastMinPods(canary, replicas, trafficWeightToReplicas(replicas, scale.weight, maxWeight));
  // Without dynamic stable scaling the stable stays fully scaled: it takes all traffic back at once.
  if (!canary.dynamicStableScale) return { canary: canaryCount, stable: replicas };
  const desiredWeight = 'weight' in scale ? scale.weight : 0;
  let stableCount = trafficWeightToReplicas(replicas, maxWeight - desiredWeight, maxWeight);
  const weights = status.canary?.weights;
  if (weights) {
    // Stable shrinks only once traffic has left it, and grows before traffic comes back.
    stableCount = Math.max(stableCount, trafficWeightToReplicas(replicas, weights.stable.weight, maxWeight));
    // An aborting canary keeps what its remaining traffic needs until the weight has moved.
    if (status.abort) canaryCount = Math.max(canaryCount, trafficWeightToReplicas(replicas, weights.canary.weight, maxWeight));
  }
  return { canary: atLeastMinPods(canary, replicas, canaryCount), stable: atLeastMinPods(canary, replicas, stableCount) };
}

/** How many of an RS's instances a scale-down may count on; `ignoreAvailability` counts the asked-for ones. */
function replicasForScaleDown(rs: RevisionReplicas | undefined, ignoreAvailability: boolean): number {
  if (!rs) return 0;
  // Instances already on their way out are not counted on to stay available.
  if (rs.replicas < rs.availableReplicas) return rs.replicas;
  return ignoreAvailability ? rs.replicas : rs.availableReplicas;
}

function basicCanaryCounts(
  canary: CanaryStrategy, replicas: number, fence: { maxSurge: number; maxUnavailable: number }, status: ReplicaStatus,
  stableRS: RevisionReplicas | undefined, newRS: RevisionReplicas | undefined, older: readonly RevisionReplicas[],
): { canary: number; stable: number } {
  const scale = canaryReplicasOrWeight({ ...canary, trafficRouting: undefined }, status);
  const weight = 'weight' in scale ? scale.weight : 100;
  let { canary: desiredNew, stable: desiredStable } = approximateWeightedCounts(replicas, weight, fence.maxSurge);
  let newCount = newRS?.replicas ?? 0;
  let stableCount = 0;
  if (stableRS) stableCount = stableRS.replicas;
  else {
    // No separate stable: the new revision simply goes to full size.
    desiredNew = replicas;
    desiredStable = 0;
  }
  const maxTotal = replicas + fence.maxSurge;
  let scaleUp = maxTotal - sum([...older.map((r) => r.replicas), newRS?.replicas ?? 0, stableRS?.replicas ?? 0]);
  // Stable is topped up before the canary grows.
  if (stableRS && stableRS.replicas < desiredStable && scaleUp > 0) {
    const grow = Math.min(scaleUp, desiredStable - stableRS.replicas);
    stableCount = stableRS.replicas + grow;
    scaleUp -= grow;
  }
  if (newRS && newRS.replicas < desiredNew && scaleUp > 0) newCount = Math.min(desiredNew, newRS.replicas + scaleUp);
  // Older revisions are scaled down before either of these two.
  if (sum(older.map((r) => r.replicas)) > 0) return { canary: newCount, stable: stableCount };

  const minAvailable = replicas - fence.maxUnavailable;
  // Growing the canary may ignore whether stable instances are available; shrinking it (abort,
  // lower weight) may ignore the canary's availability instead.
  const increasing = !newRS || desiredNew >= newRS.replicas;
  const countable = replicasForScaleDown(newRS, !increasing) + replicasForScaleDown(stableRS, increasing);
  if (countable <= minAvailable) return { canary: newCount, stable: stableCount };
  const scaleDown = countable - minAvailable;
  if (!increasing) {
    if (newRS && newRS.replicas > desiredNew) newCount = Math.max(desiredNew, newRS.replicas - scaleDown);
    [newCount, stableCount] = keepWithinLimits(newRS, stableRS, newCount, stableCount, maxTotal, minAvailable);
  } else if (stableRS) {
    if (stableRS.replicas > desiredStable) stableCount = Math.max(desiredStable, stableRS.replicas - scaleDown);
    [stableCount, newCount] = keepWithinLimits(stableRS, newRS, stableCount, newCount, maxTotal, minAvailable);
  }
  return { canary: newCount, stable: stableCount };
}

/**
 * After shrinking `drain`, trims `adjust` back under the surge limit, but gives it back what the
 * trim would cost in availability, and takes any remaining excess from `drain`.
 */
function keepWithinLimits(
  drain: RevisionReplicas | undefined, adjust: RevisionReplicas | undefined, drainCount: number, adjustCount: number, maxTotal: number, minAvailable: number,
): [number, number] {
  if (!adjust) return [drainCount, adjustCount];
  let available = drain ? Math.min(drain.availableReplicas, drainCount) : 0;
  adjustCount -= Math.max(0, adjustCount + drainCount - maxTotal);
  available += Math.min(adjust.availableReplicas, adjustCount);
  const lostAvailability = Math.max(0, adjust.availableReplicas - adjustCount);
  const stillNeeded = Math.max(0, minAvailable - available);
  adjustCount += Math.min(lostAvailability, stillNeeded);
  drainCount -= Math.max(0, adjustCount + drainCount - maxTotal);
  return [drainCount, adjustCount];
}

/**
 * Older revisions of a canary go to zero: unready instances first, then, newest first, while
 * there are more available instances than the minimum.
 */
function scaleDownOlderForCanary(
  older: readonly RevisionReplicas[], current: readonly (RevisionReplicas | undefined)[], replicas: number,
  fence: { maxUnavailable: number }, trafficRouted: boolean,
): { name: string; replicas: number }[] {
  const counts = older.map((o) => (o.replicas > o.availableReplicas ? o.availableReplicas : o.replicas));
  const available = sum([...older, ...current].map((r) => r?.availableReplicas ?? 0));
  let budget = available - (replicas - fence.maxUnavailable);
  for (let i = older.length - 1; i >= 0 && budget > 0; i--) {
    const n = counts[i] ?? 0;
    if (n === 0) continue;
    // Behind a traffic router they serve nothing, so they go at once; otherwise within budget.
    const target = !trafficRouted && n > budget ? n - budget : 0;
    budget -= n - target;
    counts[i] = target;
  }
  return older.map((o, i) => ({ name: o.name, replicas: counts[i] ?? 0 }));
}

/**
 * One move of the Kubernetes Deployment controller's rolling update: grow the new revision within
 * maxSurge, then clean up unready old instances and shrink old revisions (oldest first) within
 * maxUnavailable. `old` lists old revisions oldest first; the answer keeps that order.
 */
export function rollingUpdate(
  replicas: number, fence: { maxSurge: number; maxUnavailable: number }, next: RevisionReplicas | undefined, old: readonly RevisionReplicas[],
): { next: number; old: number[] } {
  let nextCount = next?.replicas ?? 0;
  const oldCounts = old.map((o) => o.replicas);
  if (nextCount > replicas) nextCount = replicas;
  else if (nextCount < replicas) {
    const room = replicas + fence.maxSurge - (nextCount + sum(oldCounts));
    if (room > 0) nextCount += Math.min(room, replicas - nextCount);
  }
  if (sum(oldCounts) === 0) return { next: nextCount, old: oldCounts };
  const minAvailable = replicas - fence.maxUnavailable;
  const nextUnavailable = nextCount - (next?.availableReplicas ?? 0);
  const maxScaledDown = nextCount + sum(oldCounts) - minAvailable - nextUnavailable;
  if (maxScaledDown <= 0) return { next: nextCount, old: oldCounts };
  // Unready old instances go first: removing them costs no availability.
  let cleaned = 0;
  old.forEach((o, i) => {
    const count = oldCounts[i] ?? 0;
    if (cleaned >= maxScaledDown || count === 0 || count <= o.availableReplicas) return;
    const n = Math.min(maxScaledDown - cleaned, count - o.availableReplicas);
    oldCounts[i] = count - n;
    cleaned += n;
  });
  const available = (next?.availableReplicas ?? 0) + sum(old.map((o) => o.availableReplicas));
  if (available <= minAvailable) return { next: nextCount, old: oldCounts };
  const total = available - minAvailable;
  let done = 0;
  oldCounts.forEach((count, i) => {
    if (done >= total || count === 0) return;
    const n = Math.min(count, total - done);
    oldCounts[i] = count - n;
    done += n;
  });
  return { next: nextCount, old: oldCounts };
}

function blueGreenCounts(
  bg: BlueGreenStrategy, replicas: number, status: ReplicaStatus,
  stable: RevisionReplicas | undefined, canary: RevisionReplicas | undefined, older: readonly RevisionReplicas[],
): DesiredReplicaCounts {
  const zeroOlder = older.map((o) => ({ name: o.name, replicas: 0 }));
  const same = !status.stableRS || status.stableRS === status.currentPodHash || (stable && canary && stable.name === canary.name);
  if (same) return { canary: replicas, stable: 0, older: zeroOlder };
  // The preview is sized by previewReplicaCount until promotion; the active stays fully scaled.
  const preview = status.abort ? 0 : status.promoteFull ? replicas : bg.previewReplicaCount ?? replicas;
  return { canary: preview, stable: replicas, older: zeroOlder };
}
