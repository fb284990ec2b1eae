import { describe, expect, it } from 'vitest';
import type { CanaryStep, CanaryStrategy, IntOrPercent, RolloutSpec } from '../documents/schema.js';
import { resolveFenceposts } from './fenceposts.js';
import { approximateWeightedCounts, desiredReplicaCounts, trafficWeightToReplicas, type RevisionReplicas, type TrafficWeights } from './replica-counts.js';
import { canaryReplicasOrWeight, currentSetWeight } from './steps.js';

const rs = (name: string, replicas: number, availableReplicas: number): RevisionReplicas => ({ name, replicas, availableReplicas });

interface Extra {
  promoteFull?: boolean; abort?: boolean; older?: RevisionReplicas[]; step?: CanaryStep; trafficRouting?: boolean;
  dynamicStableScale?: boolean; weights?: [number, number]; abortScaleDownDelaySeconds?: number;
}

/**
 * A canary at `setWeight: weight` with stable "stable" and canary "canary", as Argo's own tests
 * build it; `step` adds one more step after it and makes that one current.
 */
function canaryCase(replicas: number, weight: number, maxSurge: IntOrPercent, maxUnavailable: IntOrPercent, stable: [number, number], canary: [number, number], x: Extra = {}) {
  const strategy: CanaryStrategy = { maxSurge, maxUnavailable, steps: [{ setWeight: weight }, ...(x.step ? [x.step] : [])] };
  if (x.trafficRouting) strategy.trafficRouting = { builtin: {} };
  if (x.dynamicStableScale) strategy.dynamicStableScale = true;
  if (x.abortScaleDownDelaySeconds !== undefined) strategy.abortScaleDownDelaySeconds = x.abortScaleDownDelaySeconds;
  const weights: TrafficWeights | undefined = x.weights && { canary: { weight: x.weights[0] }, stable: { weight: x.weights[1] } };
  return desiredReplicaCounts({
    rollout: {
      spec: { replicas, strategy: { canary: strategy } },
      status: { currentStepIndex: x.step ? 1 : 0, stableRS: 'stable', currentPodHash: 'canary', promoteFull: x.promoteFull, abort: x.abort, canary: { weights } },
    },
    stable: rs('stable', ...stable), canary: rs('canary', ...canary), older: x.older,
  });
}

describe('desiredReplicaCounts: basic canary (replicas are the traffic split)', () => {
  // name | replicas weight surge unavail | stable spec/avail | canary spec/avail | → stable canary | extra
  it.each([
    ['stable spec below its available instances is not counted on', 10, 100, 3, 0, [7, 8], [6, 3], 7, 6, {}],
    ['max surge as an integer grows the canary', 10, 20, 2, 0, [10, 10], [0, 0], 10, 2, {}],
    ['max surge as a percentage grows the canary', 10, 20, '20%', 0, [10, 10], [0, 0], 10, 2, {}],
    ['extra stable instances are scaled down once the canary is up', 10, 20, '20%', 0, [10, 10], [2, 2], 8, 2, {}],
    ['never past max surge', 10, 30, 2, 0, [10, 10], [0, 0], 10, 2, {}],
    ['max unavailable as an integer shrinks stable', 10, 20, 0, 2, [10, 10], [0, 0], 8, 0, {}],
    ['max unavailable as a percentage shrinks stable', 10, 20, 0, '20%', [10, 10], [0, 0], 8, 0, {}],
    ['never past max unavailable', 10, 30, 0, 2, [10, 10], [0, 0], 8, 0, {}],
    ['surge and unavailability together', 10, 50, 2, 1, [10, 10], [0, 0], 9, 2, {}],
    ['setWeight 0 scales the canary to zero', 10, 0, 1, 1, [10, 10], [1, 1], 10, 0, {}],
    ['setWeight 100 scales stable to zero', 10, 100, 1, 1, [1, 1], [10, 10], 0, 10, {}],
    ['a non-zero weight never leaves the canary at zero', 1, 20, 1, 0, [1, 1], [0, 0], 1, 1, {}],
    ['a weight below 100 never leaves stable at zero', 1, 90, 1, 0, [1, 1], [0, 0], 1, 1, {}],
    ['stable is topped up before the canary grows', 10, 30, 1, 0, [1, 1], [0, 0], 7, 1, { older: [rs('older', 3, 3)] }],
    ['canary and stable both shrink toward the weight', 10, 30, 0, 3, [8, 5], [4, 4], 7, 3, {}],
    ['shrinks stable by what the canary made available', 10, 100, 1, 0, [10, 2], [10, 8], 2, 9, {}],
    ['older revisions shrink before canary or stable', 10, 30, 0, 1, [8, 6], [4, 2], 8, 4, { older: [rs('older', 3, 3)] }],
    ['no rounding past max surge with an uneven weight', 10, 5, 0, 1, [10, 10], [0, 0], 9, 0, {}],
    ['no rounding past max surge with an uneven weight, next move', 10, 5, 0, 1, [9, 9], [0, 0], 9, 1, {}],
    ['both fenceposts 0% resolve to maxUnavailable 1', 10, 10, '0%', '0%', [10, 10], [0, 0], 9, 0, {}],
    ['max surge holds while stable is unavailable', 4, 100, 1, 0, [4, 1], [0, 0], 4, 1, {}],
    ['shrinks to max unavailable without passing max surge', 3, 99, 0, 2, [3, 3], [0, 0], 1, 0, {}],
    ['shrinks to max unavailable without passing max surge, next move', 3, 99, 0, 2, [1, 1], [0, 0], 1, 2, {}],
    ['max unavailable holds while stable is unavailable', 4, 100, 1, 0, [4, 1], [1, 1], 3, 1, {}],
    ['lowering the weight surges stable before the canary shrinks', 4, 0, 1, 0, [0, 0], [4, 4], 1, 4, {}],
    ['lowering the weight waits for the surged stable', 4, 0, 1, 0, [1, 0], [4, 4], 1, 4, {}],
    ['lowering the weight removes one canary per available stable', 4, 0, 1, 0, [1, 1], [4, 4], 1, 3, {}],
    ['abort sets the weight to 0 whatever the step', 4, 50, 1, 0, [1, 1], [4, 4], 1, 3, { abort: true }],
    ['promote full ignores the weight', 4, 1, 4, 4, [4, 4], [0, 0], 0, 4, { promoteFull: true }],
    ['promote full still honours surge and unavailability', 4, 1, 3, 0, [4, 4], [0, 0], 4, 3, { promoteFull: true }],
    ['setCanaryScale is ignored without traffic routing', 10, 20, '20%', 0, [10, 10], [0, 0], 10, 2, { step: { setCanaryScale: { replicas: 9 } } }],
    ['defaults 25%/25% on 10 instances: surge 3, unavailable 2', 10, 20, '25%', '25%', [10, 10], [0, 0], 8, 2, {}],
  ] as const)('%s', (_name, replicas, weight, surge, unavail, stable, canary, expStable, expCanary, extra) => {
    const got = canaryCase(replicas, weight, surge, unavail, [...stable], [...canary], { ...extra, older: 'older' in extra ? [...extra.older] : undefined });
    expect({ stable: got.stable, canary: got.canary }).toEqual({ stable: expStable, canary: expCanary });
  });

  it('a canary equal to stable goes to full size with nothing left on stable', () => {
    const got = desiredReplicaCounts({
      rollout: { spec: { replicas: 10, strategy: { canary: { maxSurge: 0, maxUnavailable: 1, steps: [{ setWeight: 10 }] } } }, status: { stableRS: 'a', currentPodHash: 'b' } },
      stable: rs('same', 10, 0), canary: rs('same', 10, 0),
    });
    expect(got).toEqual({ canary: 10, stable: 0, older: [] });
  });

  it('with no stable yet the first revision goes to full size', () => {
    const got = desiredReplicaCounts({ rollout: { spec: { replicas: 10, strategy: { canary: { maxSurge: 0, maxUnavailable: 1, steps: [{ setWeight: 10 }] } } } }, canary: rs('first', 9, 9) });
    expect(got).toEqual({ canary: 10, stable: 0, older: [] });
  });

  // older (oldest first) | → older after
  it.each([
    ['within the availability budget, newest first', [rs('o1', 2, 2), rs('o2', 2, 2)], [1, 0], 1],
    ['unready instances go first', [rs('o1', 3, 1)], [1], 1],
    ['nothing beyond the budget', [rs('o1', 2, 2)], [2], 0],
  ] as const)('older revisions: %s', (_n, older, expected, extraAvailable) => {
    const got = desiredReplicaCounts({
      rollout: { spec: { replicas: 4, strategy: { canary: { steps: [{ setWeight: 25 }] } } }, status: { stableRS: 'stable', currentPodHash: 'canary' } },
      stable: rs('stable', 2, 1 + extraAvailable), canary: rs('canary', 0, 0), older: [...older],
    });
    expect(got.older.map((o) => o.replicas)).toEqual(expected);
  });
});

describe('desiredReplicaCounts: canary with traffic routing', () => {
  // name | replicas weight | stable | canary | → stable canary | extra
  it.each([
    ['canary sized from the weight, stable stays full', 10, 10, [10, 10], [0, 0], 10, 1, {}],
    ['setCanaryScale.replicas overrides the weight', 1, 100, [1, 1], [0, 0], 1, 9, { step: { setCanaryScale: { replicas: 9 } } }],
    ['setCanaryScale.weight overrides the weight', 4, 100, [4, 4], [0, 0], 4, 2, { step: { setCanaryScale: { weight: 50 } } }],
    ['matchTrafficWeight follows setWeight', 10, 20, [10, 10], [0, 0], 10, 2, { step: { setCanaryScale: { matchTrafficWeight: true } } }],
    ['abort with abortScaleDownDelaySeconds 0 keeps setCanaryScale', 1, 0, [1, 1], [1, 1], 1, 1, { step: { setCanaryScale: { replicas: 1 } }, abort: true, abortScaleDownDelaySeconds: 0 }],
    ['abort with a delay scales the canary down', 1, 0, [1, 1], [1, 1], 1, 0, { step: { setCanaryScale: { replicas: 1 } }, abort: true, abortScaleDownDelaySeconds: 30 }],
    ['abort without dynamic scaling: canary to zero, stable full', 10, 40, [10, 10], [4, 4], 10, 0, { abort: true }],
    ['dynamicStableScale shrinks stable with the traffic', 10, 10, [10, 10], [1, 1], 9, 1, { dynamicStableScale: true, weights: [10, 90] }],
    ['dynamicStableScale: canary grows to the new weight, stable waits for traffic to move', 10, 20, [9, 9], [1, 1], 9, 2, { dynamicStableScale: true, weights: [10, 90] }],
    ['dynamicStableScale abort keeps the canary while traffic is on it', 10, 20, [10, 10], [2, 2], 10, 2, { dynamicStableScale: true, abort: true, weights: [20, 80] }],
    ['dynamicStableScale abort shrinks the canary as traffic leaves', 10, 20, [10, 10], [2, 2], 10, 1, { dynamicStableScale: true, abort: true, weights: [10, 90] }],
    ['dynamicStableScale without weights in force sizes stable from the step', 10, 30, [10, 10], [0, 0], 7, 3, { dynamicStableScale: true }],
    ['a weight rounds up to whole instances', 10, 25, [10, 10], [0, 0], 10, 3, {}],
    ['promote full: canary full, stable still full', 4, 10, [4, 4], [1, 1], 4, 4, { promoteFull: true }],
  ] as const)('%s', (_name, replicas, weight, stable, canary, expStable, expCanary, extra) => {
    const got = canaryCase(replicas, weight, 0, 1, [...stable], [...canary], { trafficRouting: true, ...extra, weights: 'weights' in extra ? [...extra.weights] : undefined });
    expect({ stable: got.stable, canary: got.canary }).toEqual({ stable: expStable, canary: expCanary });
  });

  it('once every step is done the canary goes to full size', () => {
    const spec: RolloutSpec = { replicas: 10, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 10 }] } } };
    expect(desiredReplicaCounts({ rollout: { spec, status: { currentStepIndex: 1, stableRS: 's', currentPodHash: 'c' } } })).toMatchObject({ canary: 10, stable: 10 });
    expect(desiredReplicaCounts({ rollout: { spec, status: { currentStepIndex: 1, stableRS: 's', currentPodHash: 'c' } }, stable: rs('s', 10, 10) })).toMatchObject({ canary: 10, stable: 10 });
  });

  it.each([
    ['older revisions go to zero at once while the budget allows', [rs('o1', 2, 2)], [4, 4], [0]],
    ['older revisions stay while nothing more is available than the minimum', [rs('o1', 2, 2)], [1, 1], [2]],
  ] as const)('%s', (_n, older, stable, expected) => {
    const got = desiredReplicaCounts({
      rollout: { spec: { replicas: 4, strategy: { canary: { trafficRouting: {}, steps: [{ setWeight: 25 }] } } }, status: { stableRS: 'stable', currentPodHash: 'canary' } },
      stable: rs('stable', stable[0], stable[1]), canary: rs('canary', 0, 0), older: [...older],
    });
    expect(got.older.map((o) => o.replicas)).toEqual(expected);
  });
});

describe('desiredReplicaCounts: traffic-routed rows of Argo Rollouts\' own tests', () => {
  interface Row {
    replicas: number; steps: number[]; surge?: IntOrPercent; unavail?: IntOrPercent; stable?: [number, number]; canary?: [number, number];
    abort?: boolean; promoteFull?: boolean; dynamic?: boolean; weights?: [number, number]; abortDelay?: number; minPods?: number; maxWeight?: number;
  }
  // Argo's fixtures: stable "stable", canary "canary", at step 0; a revision whose tuple is absent has no ReplicaSet.
  const argoRouted = (r: Row) => {
    const strategy: CanaryStrategy = {
      maxSurge: r.surge ?? 0, maxUnavailable: r.unavail ?? 1, steps: r.steps.map((w) => ({ setWeight: w })),
      trafficRouting: r.maxWeight === undefined ? {} : { maxTrafficWeight: r.maxWeight },
    };
    if (r.dynamic) strategy.dynamicStableScale = true;
    if (r.abortDelay !== undefined) strategy.abortScaleDownDelaySeconds = r.abortDelay;
    if (r.minPods !== undefined) strategy.minPodsPerReplicaSet = r.minPods;
    const weights: TrafficWeights | undefined = r.weights && { canary: { weight: r.weights[0] }, stable: { weight: r.weights[1] } };
    const got = desiredReplicaCounts({
      rollout: { spec: { replicas: r.replicas, strategy: { canary: strategy } }, status: { currentStepIndex: 0, stableRS: 'stable', currentPodHash: 'canary', abort: r.abort, promoteFull: r.promoteFull, canary: { weights } } },
      stable: r.stable && rs('stable', ...r.stable), canary: r.canary && rs('canary', ...r.canary),
    });
    return { canary: got.canary, stable: got.stable };
  };
  // Argo case (file: test › case) | rollout | → canary, stable
  it.each<[string, Row, number, number]>([
    ['canary_test.go: TestCalculateReplicaCountsForCanaryTrafficRouting (no ReplicaSets yet: stable desired at spec.replicas)', { replicas: 10, steps: [10] }, 1, 10],
    ['canary_test.go: DynamicScale › Should scale stable replica up depending on next expected canary downscale step, if abort is true', { replicas: 10, steps: [20, 60], dynamic: true, abort: true, weights: [60, 40], canary: [6, 6], stable: [4, 4] }, 6, 8],
    ['canary_test.go: DynamicScale › Should scale stable replica up depending on available canary replicas, if actual number of canaries is less than expected and abort is true', { replicas: 10, steps: [20, 60], dynamic: true, abort: true, weights: [60, 40], canary: [1, 1], stable: [4, 4] }, 6, 8],
    ['canary_test.go: DynamicScale › Should scale stable replica up depending on available stable replicas, if abort is true', { replicas: 10, steps: [20, 60], dynamic: true, abort: true, weights: [60, 40], canary: [2, 2], stable: [8, 4] }, 6, 8],
    ['canary_test.go: DynamicScale › Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, and abort is true', { replicas: 10, steps: [20, 60], dynamic: true, abort: true, weights: [60, 40] }, 6, 10],
    ['canary_test.go: DynamicScale › Should scale down stable', { replicas: 10, steps: [10], dynamic: true, weights: [10, 90] }, 1, 9],
    ['canary_test.go: DynamicScale › Should take max of desired canary (20) > actual (10)', { replicas: 10, steps: [20], dynamic: true, weights: [10, 90] }, 2, 9],
    ['canary_test.go: DynamicScale › Should leave canary scaled up if there is still traffic to it on abort', { replicas: 10, steps: [20], dynamic: true, abort: true, weights: [20, 80] }, 2, 10],
    ['canary_test.go: DynamicScale › Should reduce canary when there is less traffic to it on abort', { replicas: 10, steps: [20], dynamic: true, abort: true, weights: [10, 90] }, 1, 10],
    ['canary_test.go: OnAbortWithScaleDownDelay › no explicit delay: weight is held up by canary size (weight 10)', { replicas: 10, steps: [10, 50], surge: 1, unavail: 0, dynamic: true, abort: true, canary: [5, 5], stable: [9, 9] }, 1, 9],
    ['canary_test.go: OnAbortWithScaleDownDelay › explicit delay: weight steps down gradually while stable is scaling up (weight 10)', { replicas: 10, steps: [10, 50], surge: 1, unavail: 0, dynamic: true, abort: true, abortDelay: 30, canary: [5, 5], stable: [5, 5] }, 1, 9],
    ['canary_test.go: OnAbortWithScaleDownDelay › explicit delay: weight reaches zero once stable nearly covers spec.Replicas (weight 0)', { replicas: 10, steps: [10, 50], surge: 1, unavail: 0, dynamic: true, abort: true, abortDelay: 30, canary: [5, 5], stable: [9, 9] }, 0, 10],
    ['canary_test.go: OnAbortWithScaleDownDelay › explicit zero delay: weight is held up by canary size (weight 10)', { replicas: 10, steps: [10, 50], surge: 1, unavail: 0, dynamic: true, abort: true, abortDelay: 0, canary: [5, 5], stable: [9, 9] }, 1, 9],
    ['canary_test.go: OnAbortWithScaleDownDelay › stable scales to spec.Replicas once weight reaches zero', { replicas: 10, steps: [10, 50], surge: 1, unavail: 0, dynamic: true, abort: true, abortDelay: 30, weights: [10, 90], canary: [5, 5], stable: [9, 9] }, 1, 10],
    ['canary_test.go: TestCalculateReplicaCountsForCanary › Honor MinPodsPerReplicaSet when using trafficRouting and starting canary', { replicas: 10, steps: [5], minPods: 2 }, 2, 10],
    ['canary_test.go: TestCalculateReplicaCountsForCanary › Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting', { replicas: 1, steps: [100], promoteFull: true, minPods: 2 }, 1, 1],
    ['rollout/canary_test.go: TestCanaryRolloutWithMaxWeightInTrafficRouting › max weight 100', { replicas: 10, steps: [10], surge: 1, unavail: 0, maxWeight: 100, stable: [10, 10] }, 1, 10],
    ['rollout/canary_test.go: TestCanaryRolloutWithMaxWeightInTrafficRouting › max weight 1000', { replicas: 10, steps: [200], surge: 1, unavail: 0, maxWeight: 1000, stable: [10, 10] }, 2, 10],
  ])('%s', (_argoCase, row, canary, stable) => {
    expect(argoRouted(row)).toEqual({ canary, stable });
  });
});

describe('desiredReplicaCounts: rolling update (canary without steps) as the Deployment controller', () => {
  const roll = (replicas: number, surge: IntOrPercent | undefined, unavail: IntOrPercent | undefined, stable: RevisionReplicas | undefined, canary: RevisionReplicas | undefined, older: RevisionReplicas[] = [], abort = false) =>
    desiredReplicaCounts({
      rollout: { spec: { replicas, strategy: { canary: { maxSurge: surge, maxUnavailable: unavail } } }, status: { stableRS: stable?.name, currentPodHash: canary?.name ?? 'new', abort } },
      stable, canary, older,
    });
  // name | replicas surge unavail | stable | canary | older | → stable canary older
  it.each([
    ['defaults 25%: surge 3 (rounded up), unavailable 2 (rounded down)', 10, undefined, undefined, rs('s', 10, 10), undefined, [], 8, 3, []],
    ['next move once the first new instances are ready', 10, undefined, undefined, rs('s', 8, 8), rs('c', 3, 3), [], 5, 5, []],
    ['both fenceposts 0 resolve to maxUnavailable 1', 3, 0, 0, rs('s', 3, 3), undefined, [], 2, 0, []],
    ['both percentages rounding to 0 resolve to maxUnavailable 1', 10, '0%', '0%', rs('s', 10, 10), undefined, [], 9, 0, []],
    ['maxUnavailable 0: surge first, nothing removed until new is ready', 3, 1, 0, rs('s', 3, 3), undefined, [], 3, 1, []],
    ['maxUnavailable 0: one old instance removed per ready new one', 3, 1, 0, rs('s', 3, 3), rs('c', 1, 1), [], 2, 1, []],
    ['5 instances at 25%: surge 2, unavailable 1', 5, undefined, undefined, rs('s', 5, 5), undefined, [], 4, 2, []],
    ['1 instance at 25%: surge 1, unavailable 0', 1, undefined, undefined, rs('s', 1, 1), undefined, [], 1, 1, []],
    ['1 instance: old goes once the new one is ready', 1, undefined, undefined, rs('s', 1, 1), rs('c', 1, 1), [], 0, 1, []],
    ['unready old instances are cleaned up first', 4, 0, 1, rs('s', 4, 2), undefined, [], 3, 0, []],
    ['oldest revisions shrink first', 4, 0, 2, rs('s', 2, 2), undefined, [rs('o1', 2, 2)], 2, 0, [0]],
    ['a new revision above the desired size is trimmed', 3, undefined, undefined, rs('s', 0, 0), rs('c', 5, 5), [], 0, 3, []],
    ['zero replicas scales everything down', 0, undefined, undefined, rs('s', 2, 2), undefined, [], 0, 0, []],
    ['stalled when the new revision never becomes ready', 4, 1, 1, rs('s', 3, 3), rs('c', 2, 0), [], 3, 2, []],
  ] as const)('%s', (_n, replicas, surge, unavail, stable, canary, older, expStable, expCanary, expOlder) => {
    const got = roll(replicas, surge, unavail, stable, canary, [...older]);
    expect(got).toEqual({ stable: expStable, canary: expCanary, older: older.map((o, i) => ({ name: o.name, replicas: expOlder[i] })) });
  });

  it('an abort rolls back the same way, growing stable first', () => {
    expect(roll(4, undefined, undefined, rs('s', 1, 1), rs('c', 4, 4), [], true)).toEqual({ stable: 1, canary: 2, older: [] });
  });
});

describe('desiredReplicaCounts: blue-green', () => {
  const bg = (status: { abort?: boolean; promoteFull?: boolean; stableRS?: string }, previewReplicaCount?: number) =>
    desiredReplicaCounts({ rollout: { spec: { replicas: 3, strategy: { blueGreen: { previewReplicaCount } } }, status: { currentPodHash: 'b', stableRS: 'a', ...status } } });
  it.each([
    ['preview sized by previewReplicaCount', {}, 1, 1, 3],
    ['preview at full size without previewReplicaCount', {}, undefined, 3, 3],
    ['promotion brings the preview to full size', { promoteFull: true }, 1, 3, 3],
    ['abort scales the preview down', { abort: true }, 1, 0, 3],
    ['the first revision is active at full size', { stableRS: '' }, 1, 3, 0],
  ] as const)('%s', (_n, status, preview, expCanary, expStable) => {
    expect(bg(status, preview)).toMatchObject({ canary: expCanary, stable: expStable });
  });
});

describe('approximateWeightedCounts (Argo TestApproximateWeightedNewStableReplicaCounts)', () => {
  // replicas weight maxSurge → canary stable
  it.each([
    [0, 0, 0, 0, 0], [0, 50, 0, 0, 0], [0, 100, 0, 0, 0], [0, 0, 1, 0, 0], [0, 50, 1, 0, 0], [0, 100, 1, 0, 0],
    [1, 0, 0, 0, 1], [1, 1, 0, 0, 1], [1, 49, 0, 0, 1], [1, 50, 0, 1, 0], [1, 99, 0, 1, 0], [1, 100, 0, 1, 0],
    [1, 0, 1, 0, 1], [1, 1, 1, 1, 1], [1, 49, 1, 1, 1], [1, 50, 1, 1, 1], [1, 99, 1, 1, 1], [1, 100, 1, 1, 0],
    [2, 0, 0, 0, 2], [2, 1, 0, 1, 1], [2, 50, 0, 1, 1], [2, 99, 0, 1, 1], [2, 100, 0, 2, 0],
    [2, 0, 1, 0, 2], [2, 1, 1, 1, 2], [2, 50, 1, 1, 1], [2, 99, 1, 2, 1], [2, 100, 1, 2, 0],
    [3, 10, 0, 1, 2], [3, 25, 0, 1, 2], [3, 33, 0, 1, 2], [3, 34, 0, 1, 2], [3, 49, 0, 1, 2], [3, 50, 0, 2, 1],
    [3, 10, 1, 1, 3], [3, 25, 1, 1, 3], [3, 33, 1, 1, 2], [3, 34, 1, 1, 2], [3, 49, 1, 2, 2], [3, 50, 1, 2, 2],
    [10, 0, 1, 0, 10], [10, 1, 0, 1, 9], [10, 14, 0, 1, 9], [10, 15, 0, 2, 8], [10, 16, 0, 2, 8], [10, 99, 0, 9, 1], [10, 100, 1, 10, 0],
    [10, 1, 1, 1, 10], [10, 18, 1, 2, 9], [10, 19, 1, 2, 9], [10, 20, 1, 2, 8], [10, 23, 1, 2, 8], [10, 24, 1, 3, 8], [10, 25, 1, 3, 8], [10, 99, 1, 10, 1],
  ])('%i replicas, weight %i, surge %i → canary %i, stable %i', (replicas, weight, surge, canary, stable) => {
    expect(approximateWeightedCounts(replicas, weight, surge)).toEqual({ canary, stable });
  });
});

describe('trafficWeightToReplicas', () => {
  it.each([[10, 0, 0], [10, 20, 2], [10, 25, 3], [10, 33, 4], [10, 99, 10], [10, 100, 10], [3, 1, 1]])('%i replicas, weight %i → %i', (r, w, n) => {
    expect(trafficWeightToReplicas(r, w)).toBe(n);
  });
});

describe('resolveFenceposts', () => {
  // surge unavailable replicas → surge unavailable
  it.each([
    [undefined, undefined, 10, 3, 2], [undefined, undefined, 4, 1, 1], [undefined, undefined, 1, 1, 0], [undefined, undefined, 0, 0, 0],
    [0, 0, 5, 0, 1], ['0%', '0%', 5, 0, 1], ['10%', '10%', 5, 1, 0], [2, 7, 5, 2, 5], ['100%', '100%', 3, 3, 3], ['30%', '30%', 10, 3, 3],
  ] as const)('maxSurge %j maxUnavailable %j on %i → %i, %i', (maxSurge, maxUnavailable, replicas, s, u) => {
    expect(resolveFenceposts({ maxSurge, maxUnavailable, replicas })).toEqual({ maxSurge: s, maxUnavailable: u });
  });
  it('rejects what is neither a count nor a percentage', () => {
    expect(() => resolveFenceposts({ maxSurge: 'ten', replicas: 3 })).toThrow(/not an integer or a percentage: "ten"/);
  });
});

describe('current weight rules', () => {
  const canary: CanaryStrategy = { trafficRouting: {}, steps: [{ pause: {} }, { setWeight: 10 }, { setCanaryScale: { weight: 20 } }, { pause: {} }, { setCanaryScale: { matchTrafficWeight: true } }] };
  const at = (currentStepIndex: number, more: { abort?: boolean; promoteFull?: boolean } = {}) => ({ currentStepIndex, stableRS: 's', currentPodHash: 'c', ...more });
  // index → setWeight, replicasOrWeight
  it.each([
    [0, 0, { weight: 0 }], [1, 10, { weight: 10 }], [2, 10, { weight: 20 }], [3, 10, { weight: 20 }], [4, 10, { weight: 10 }], [5, 100, { weight: 100 }],
  ] as const)('at step %i: setWeight %i, canary sized by %j', (index, weight, scale) => {
    expect(currentSetWeight(canary, at(index))).toBe(weight);
    expect(canaryReplicasOrWeight(canary, at(index))).toEqual(scale);
  });
  it('abort makes the weight 0; promote full makes it 100; no stable makes it 100', () => {
    expect(currentSetWeight(canary, at(2, { abort: true }))).toBe(0);
    expect(canaryReplicasOrWeight(canary, at(2, { promoteFull: true }))).toEqual({ weight: 100 });
    expect(canaryReplicasOrWeight(canary, { currentStepIndex: 2, currentPodHash: 'c' })).toEqual({ weight: 100 });
  });
  it('a rollout without steps asks for 100', () => expect(currentSetWeight({}, {})).toBe(100));
});

describe('desiredReplicaCounts: bad input', () => {
  it('names the missing strategy', () => {
    expect(() => desiredReplicaCounts({ rollout: { spec: { strategy: {} } } })).toThrow(/strategy: exactly one of canary, blueGreen/);
  });
});
