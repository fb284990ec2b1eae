import type { AnalysisTemplate, AnalysisTemplateSpec, BackgroundAnalysis, RolloutAnalysis, RolloutSpec, SetHeaderRoute, SetMirrorRoute } from '../documents/schema.js';

export type HeaderRouteMatch = NonNullable<SetHeaderRoute['match']>[number];
export type MirrorRouteMatch = NonNullable<SetMirrorRoute['match']>[number];

/** Where a rollout stands: `Completed` is transient (new revision stable, old ones still scaling down). */
export type RolloutPhase = 'Healthy' | 'Progressing' | 'Paused' | 'Degraded' | 'Completed';

/** Why a rollout is paused. */
export type PauseReason = 'CanaryPauseStep' | 'BlueGreenPause' | 'UserPause' | 'InconclusiveAnalysis';

export interface PauseCondition {
  reason: PauseReason;
  /** When the pause began (epoch ms); a timed pause ends at this plus its duration. */
  startedAtMs: number;
}

/** An analysis run's state as the analysis layer reports it (`Pending` until first observed). */
export type AnalysisPhase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
/** A rollout hook (`spec.hooks`): when it runs. */
export type HookName = 'preRollout' | 'prePromotion' | 'postPromotion';
/** The analysis kind a hook's run has: hooks run through the analysis machinery as one-metric runs. */
export type HookKind = `${HookName}Hook`;
export type AnalysisKind = 'step' | 'background' | 'prePromotion' | 'postPromotion' | HookKind;

export interface AnalysisRunRecord {
  /** Unique per revision, attempt and place: `<revision>.<attempt>.<kind>[.<step>]`. */
  name: string;
  kind: AnalysisKind;
  revision: string;
  /** Index of the analysis step (kind `step` only). */
  stepIndex?: number | undefined;
  phase: AnalysisPhase;
  message?: string | undefined;
  /** A person promoted past this run's inconclusive result. */
  acknowledged?: boolean | undefined;
}

/** A header (or cookie) route in force: requests matching go to the canary whatever the weight. */
export interface HeaderRoute {
  name: string;
  match: HeaderRouteMatch[];
}

/** A mirror route in force: a copy of matching requests (percentage of them) goes to the canary. */
export interface MirrorRoute {
  name: string;
  percentage: number;
  match: MirrorRouteMatch[];
}

/** One rollout's state between reconciles; the engine's only memory. Plain JSON. */
export interface RolloutStatus {
  phase: RolloutPhase;
  /** Machine-readable cause of the phase (`ProgressDeadlineExceeded`, `AnalysisFailed`, …). */
  reason?: string | undefined;
  /** One line for people. */
  message?: string | undefined;
  /** The revision serving users; absent before the first one. */
  stableRevision?: string | undefined;
  /** The revision being rolled out; equal to stable when nothing is in progress. */
  canaryRevision?: string | undefined;
  /** Canary step in progress; `steps.length` once all are done. */
  currentStepIndex: number;
  abort: boolean;
  abortedAtMs?: number | undefined;
  promoteFull: boolean;
  /**
   * Going back to one of the last `rollbackWindow.revisions` revisions: steps, pauses and
   * analyses (background ones included) are skipped, as with promoteFull; cleared by the next rollout.
   */
  rollbackWithinWindow?: true | undefined;
  pauseConditions: PauseCondition[];
  /** The engine paused at the current step already: a missing pause condition now means resumed. */
  controllerPause: boolean;
  /** Traffic weights in force, on the rollout's weight scale (percent unless `trafficRouting.maxTrafficWeight`). */
  weights: { canary: number; stable: number };
  headerRoutes: HeaderRoute[];
  mirrorRoutes: MirrorRoute[];
  /** A manual canary weight (operation setWeight); holds until the next step or promote. */
  manualWeight?: number | undefined;
  blueGreen: {
    /** When traffic switched to the new revision (blue-green), before post-promotion analysis passed. */
    switchedAtMs?: number | undefined;
  };
  /** Old revisions kept up until a deadline (scaleDownDelaySeconds, abortScaleDownDelaySeconds). */
  scaleDownDeadlines: { revision: string; atMs: number }[];
  progress: {
    /** Last time something moved (epoch ms); the deadline counts from here. */
    lastProgressMs: number;
    /** What "something moved" is compared against. */
    fingerprint: string;
    deadlineExceeded: boolean;
    /** The clock stands still (paused, waiting on analysis, or nothing in progress); it restarts when this goes. */
    clockStopped?: boolean;
  };
  /** Analysis runs of the current attempt, by name. */
  analysisRuns: AnalysisRunRecord[];
  /**
   * The postPromotion hook the last promotion owes: the run's name, until the run ends (a roll
   * forward only). Cleared by the next rollout.
   */
  postPromotionHook?: string | undefined;
  /** Why the postPromotion hook failed: the new revision stays stable; Degraded until the next rollout. */
  hookFailure?: string | undefined;
  /** Bumped by retry so that new analysis runs get new names. */
  attempt: number;
  /**
   * What the canary served during the current step, when the controller reports it: the
   * canary's request counter when the step began, and whether the step's time is up and it now
   * waits for `guard.minCanaryRequests`.
   */
  evidence?: { attempt: number; stepIndex: number; baselineRequests: number; waitingSinceMs?: number | undefined } | undefined;
  /** "promoted without evidence: the canary served N requests", once a step ended that way; cleared by the next rollout. */
  evidenceWarning?: string | undefined;
}

export interface ObservedRevision {
  name: string;
  /** Instances asked for. */
  replicas: number;
  /** Instances ready to take traffic. */
  readyReplicas: number;
  /**
   * The most relaunches any of its instances went through since it was last ready (or since it
   * started, when it never was); absent when the runtime does not restart instances.
   */
  restartsSinceReady?: number | undefined;
  /** What went wrong last with that instance, in one line (exit code and last output, probe result). */
  lastError?: string | undefined;
}

export interface ObservedAnalysisRun {
  name: string;
  phase: 'Running' | 'Successful' | 'Failed' | 'Inconclusive' | 'Error';
  message?: string | undefined;
}

/** What the runtime and the analysis layer see now. */
export interface Observed {
  /** Every revision of the service that exists, oldest first. */
  revisions: ObservedRevision[];
  analysisRuns?: ObservedAnalysisRun[] | undefined;
  /**
   * Requests the canary revision has served so far: a counter that only grows (it may start
   * again from 0 when the router restarts). Absent when nothing counts them; steps are then
   * neither gated on nor reported for evidence.
   */
  canaryRequests?: number | undefined;
  /**
   * Whether the traffic provider has the traffic decision in force (the last setTraffic) in
   * effect on the data plane. `false` holds a canary's steps: no step completes and no timed
   * pause starts its clock until it is, and a step that changes the weight ends the pass's
   * advancing so the next step waits for the new weight to be verified (as Argo waits for weight
   * verification). Absent when the controller does not verify: steps go on as if verified.
   */
  trafficVerified?: boolean | undefined;
}

export interface ScaleAction { type: 'scale'; revision: string; replicas: number }
export interface SetTrafficAction {
  type: 'setTraffic';
  stableRevision: string;
  canaryRevision?: string | undefined;
  /**
   * The canary's share of requests on the rollout's weight scale: out of
   * `trafficRouting.maxTrafficWeight` when set, else percent (0–100); the rest go to stable.
   */
  canaryWeight: number;
  headerRoutes: HeaderRoute[];
  mirrorRoutes: MirrorRoute[];
  /** Blue-green: the revision the preview route should reach (no user traffic). */
  previewRevision?: string | undefined;
}
/** The traffic decision in force for a service: the engine's last setTraffic, persisted beside its status. */
export type TrafficInForce = Omit<SetTrafficAction, 'type'>;
export interface StartAnalysisAction {
  type: 'startAnalysis';
  name: string;
  kind: AnalysisKind;
  analysis: RolloutAnalysis | BackgroundAnalysis;
  revision: string;
  /**
   * A hook's run (kind `…Hook`): which hook, and the one-metric template (a `command` or `job`
   * provider, count 1) to run instead of resolving `analysis.templates`, which is empty then.
   */
  hook?: { name: HookName; template: AnalysisTemplateSpec } | undefined;
}
export interface StopAnalysisAction { type: 'stopAnalysis'; name: string }
export interface EventAction { type: 'event'; level: 'info' | 'warning'; reason: string; message: string }
export interface RetireRevisionAction { type: 'retireRevision'; revision: string }

/** What the engine asks the world to do; the controller applies them in order. */
export type Action = ScaleAction | SetTrafficAction | StartAnalysisAction | StopAnalysisAction | EventAction | RetireRevisionAction;

export interface ReconcileInput {
  spec: RolloutSpec;
  /** The status returned by the previous reconcile; absent the first time. */
  status?: RolloutStatus | undefined;
  observed: Observed;
  /** Epoch milliseconds. */
  now: number;
  /** The revision the service should run: a new one starts a rollout; the stable one rolls back. */
  desiredRevision: string;
  /**
   * Whether going back to a warm revision (switch at once) or one inside `rollbackWindow` (no
   * steps) may skip the steps; default true. False where something else moves the revisions
   * together (a release's members go back through the release's own gates).
   */
  fastRollback?: boolean | undefined;
  /** Analysis templates by name; when given, a reference to a missing one aborts the rollout. */
  templates?: readonly AnalysisTemplate[] | undefined;
}

export interface EngineResult {
  status: RolloutStatus;
  actions: Action[];
  /** When time-based logic next needs a reconcile (ms from now); absent when nothing waits on time. */
  requeueAfterMs?: number | undefined;
}

/** Input the engine cannot work with (a programming or validation error upstream). */
export class EngineInputError extends Error {
  readonly code = 'InvalidEngineInput';
  constructor(message: string) {
    super(message);
    this.name = 'EngineInputError';
  }
}

export type OperationErrorCode =
  | 'NothingToPromote' | 'NotAborted' | 'AlreadyAborted' | 'NotInProgress' | 'NotPaused' | 'AlreadyPaused'
  | 'Aborted' | 'InvalidWeight' | 'NeedsTrafficRouting' | 'InvalidRoute' | 'RouterCannot' | 'UnmanagedRoute' | 'NoSuchRoute'
  | 'NotPromoted' | 'NotWarm';

/** An operation that makes no sense in the rollout's current state. */
export class OperationError extends Error {
  constructor(readonly code: OperationErrorCode, message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

/**
 * An operation a person (or a pipeline) asks for, on a rollout or on a whole release. The CLI,
 * the API and the console map their words onto these (controller/core/operations.ts).
 */
export type UserOperation =
  | { type: 'promote' }
  | { type: 'promoteFull' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'abort' }
  | { type: 'retry' }
  | { type: 'setWeight'; weight: number }
  /** Adds or replaces the named header route (matching requests go to the canary); without `match`, removes it. */
  | { type: 'setHeaderRoute'; name: string; match?: HeaderRouteMatch[] | undefined }
  /** Adds or replaces the named mirror route; without `match` (and `percentage`), removes it. */
  | { type: 'setMirrorRoute'; name: string; percentage?: number | undefined; match?: MirrorRouteMatch[] | undefined };

/**
 * What the service's traffic router can do with a route set by hand, as the caller knows it
 * (the engine knows no providers): a route it cannot carry is refused at the operation, not
 * dropped when the decision reaches the router.
 */
export interface RouterAbilities {
  /** The router, as refusals name it ("a Service selector", "the ingress-nginx provider"). */
  name: string;
  /** What it declares; `headerRoute`, `cookieRoute` and `mirror` matter here. */
  capabilities: ReadonlySet<string>;
  /** Route names must be listed in `trafficRouting.managedRoutes` (Argo's rule, kept on Kubernetes). */
  managedRoutesRequired: boolean;
}

/** An operation the controller itself decides; never offered to people. */
export type ControllerOperation =
  /** The guard found the canary worse than stable: abort, saying so (reason `GuardFailed`). */
  | { type: 'guardAbort'; reason: string }
  /**
   * An old revision's scale-down delay ends now, or at `atMs` when that is earlier than its own
   * end (a release's skew window is over; on a cluster the data plane is given time to let go of it).
   */
  | { type: 'endScaleDownDelay'; revision: string; atMs?: number | undefined }
  /**
   * A release aborted after this member had finished on `promoted`: `previous`, still kept up by
   * its scale-down delay, is stable again at once, and `promoted` stands aborted as its canary, as
   * the release's other members do (a retry of the release runs it again).
   */
  | { type: 'revertPromoted'; promoted: string; previous: string; reason: string };

/** Every operation the engine applies: one vocabulary for the controller core. */
export type Operation = UserOperation | ControllerOperation;
