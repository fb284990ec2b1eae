/**
 * graylane's pure rollout engine: replica math, the reconcile step, operations and the plan.
 * No I/O, no clock, no randomness: time comes in as an argument.
 */
export { desiredReplicaCounts, approximateWeightedCounts, trafficWeightToReplicas, rollingUpdate } from './replica-counts.js';
export type { DesiredReplicaCounts, DesiredReplicaCountsInput, ReplicaStatus, RevisionReplicas, RolloutForReplicas, TrafficWeights } from './replica-counts.js';
export { resolveFenceposts, resolveIntOrPercent, DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE, type Fenceposts } from './fenceposts.js';
export { canaryReplicasOrWeight, currentCanaryStep, currentSetWeight, setCanaryScaleInForce, type CanaryScale, type StepPosition } from './steps.js';
