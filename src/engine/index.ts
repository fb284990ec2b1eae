/**
 * graylane's pure rollout engine: replica math, the reconcile step, operations and the plan.
 * No I/O, no clock, no randomness: time comes in as an argument.
 */
export { desiredReplicaCounts, approximateWeightedCounts, trafficWeightToReplicas, rollingUpdate } from './replica-counts.js';
export type { DesiredReplicaCounts, DesiredReplicaCountsInput, ReplicaStatus, RevisionReplicas, RolloutForReplicas, TrafficWeights } from './replica-counts.js';
export { resolveFenceposts, resolveIntOrPercent, DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE, type Fenceposts } from './fenceposts.js';
export { canaryReplicasOrWeight, currentCanaryStep, currentSetWeight, setCanaryScaleInForce, type CanaryScale, type StepPosition } from './steps.js';
export { reconcile } from './reconcile.js';
export { applyOperation, staticServiceStatus, type ApplyOperationInput, type StaticServiceStatusInput } from './operations.js';
export { DEFAULT_CLUSTER_GUARD_TICK_MS, DEFAULT_SCRAPE_INTERVAL_MS, PROPAGATION_MS, guardWorstCase, type ClusterGuardTiming, type ClusterTrafficProvider, type GuardWorstCase } from './guard-timing.js';
export { planRollout, type PlanRolloutInput, type PlanRow, type PlannedAnalysis, type PlannedGuard, type RolloutPlan } from './plan.js';
export { describeStep } from './describe.js';
export { initialStatus, CRASH_LOOP_REASON, CRASH_LOOP_RESTARTS, DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, DEFAULT_PROGRESS_DEADLINE_SECONDS, DEFAULT_SCALE_DOWN_DELAY_SECONDS } from './context.js';
export { statusProblem } from './status-check.js';
export { EngineInputError, OperationError } from './types.js';
export type {
  Action, AnalysisKind, AnalysisPhase, AnalysisRunRecord, EngineResult, EventAction, HeaderRoute, HeaderRouteMatch, MirrorRoute, MirrorRouteMatch,
  ControllerOperation, Observed, ObservedAnalysisRun, ObservedRevision, Operation, OperationErrorCode, UserOperation, PauseCondition, PauseReason, ReconcileInput, RetireRevisionAction, RouterAbilities,
  RolloutPhase, RolloutStatus, ScaleAction, SetTrafficAction, StartAnalysisAction, StopAnalysisAction, TrafficInForce,
} from './types.js';
