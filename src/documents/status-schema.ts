/**
 * What the Kubernetes controller writes in the `status` of graylane's custom resources, declared
 * in TypeBox beside the documents' schema so that the CRDs (and the controller's types) come from
 * one source. Users never write a status: `graylane validate` does not check it. Field names are
 * Argo Rollouts', so `kubectl get rollout -o yaml` reads the same.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Closed } from './schema.js';

/** RFC 3339 time as Kubernetes writes it (`2024-05-01T10:00:00Z`). */
const Time = (description: string) => Type.String({ format: 'date-time', description });

const Count = (description: string) => Type.Integer({ minimum: 0, description });

/** One of a few words, as a union of literals (an enum in the CRD). */
const OneOf = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), description === undefined ? {} : { description });

/** A status condition, Kubernetes' shape with Argo's `lastUpdateTime`. */
export const Condition = Closed({
  type: Type.String({ minLength: 1, description: 'Progressing, Available, Paused, Healthy, Completed, InvalidSpec, …' }),
  status: OneOf(['True', 'False', 'Unknown'] as const),
  reason: Type.Optional(Type.String({ description: 'a machine-readable word, e.g. NewReplicaSetAvailable' })),
  message: Type.Optional(Type.String({ description: 'a sentence for people' })),
  lastTransitionTime: Type.Optional(Time('when status last changed')),
  lastUpdateTime: Type.Optional(Time('when this condition was last written')),
});

/** Why a rollout is paused, and since when (Argo's `pauseConditions`). */
export const PauseCondition = Closed({
  reason: Type.String({ minLength: 1, description: 'CanaryPauseStep, BlueGreenPause, InconclusiveAnalysis, …' }),
  startTime: Time('when the pause began'),
});

/** Where a share of the traffic goes (Argo's `WeightDestination`). */
export const WeightDestination = Closed({
  weight: Type.Integer({ minimum: 0, description: 'share of traffic on the rollout\'s scale: percent unless trafficRouting.maxTrafficWeight' }),
  podTemplateHash: Type.Optional(Type.String()),
  serviceName: Type.Optional(Type.String()),
});

/** The state of a Rollout as the controller last wrote it. */
export const RolloutStatus = Closed({
  phase: Type.Optional(OneOf(['Healthy', 'Progressing', 'Paused', 'Degraded', 'Completed'] as const, 'Healthy, Progressing, Paused, Degraded or Completed')),
  message: Type.Optional(Type.String({ description: 'why the phase is what it is' })),
  observedGeneration: Type.Optional(Count('the metadata.generation this status was decided on')),
  currentPodHash: Type.Optional(Type.String({ description: 'pod-template hash of the revision being rolled out (the stable one when nothing moves)' })),
  stableRS: Type.Optional(Type.String({ description: 'pod-template hash of the stable revision' })),
  currentStepIndex: Type.Optional(Count('the canary step the rollout is at')),
  canary: Type.Optional(Closed({
    weights: Type.Optional(Closed({
      canary: WeightDestination,
      stable: WeightDestination,
      additional: Type.Optional(Type.Array(WeightDestination)),
      verified: Type.Optional(Type.Boolean({ description: 'the traffic provider confirmed the weights are in force' })),
    })),
  })),
  blueGreen: Type.Optional(Closed({
    activeSelector: Type.Optional(Type.String({ description: 'pod-template hash the active Service selects' })),
    previewSelector: Type.Optional(Type.String({ description: 'pod-template hash the preview Service selects' })),
  })),
  pauseConditions: Type.Optional(Type.Array(PauseCondition)),
  controllerPause: Type.Optional(Type.Boolean({ description: 'the controller (not spec.paused) paused the rollout' })),
  abort: Type.Optional(Type.Boolean({ description: 'the rollout was aborted: traffic is on stable' })),
  abortedAt: Type.Optional(Time('when it was aborted')),
  conditions: Type.Optional(Type.Array(Condition)),
  replicas: Type.Optional(Count('pods of every revision')),
  updatedReplicas: Type.Optional(Count('pods of the current revision')),
  readyReplicas: Type.Optional(Count('ready pods')),
  availableReplicas: Type.Optional(Count('pods ready for minReadySeconds')),
  selector: Type.Optional(Type.String({ description: 'label selector of the pods, in string form (for the scale subresource and an HPA)' })),
  restartedAt: Type.Optional(Time('the last spec.restartAt acted on')),
  graylane: Type.Optional(Closed({
    version: Count('bumped by every commit of the controller: what the next commit is decided on'),
    engine: Type.Unknown({ description: "the engine's memory between passes (graylane's own format; read the fields above instead)" }),
    traffic: Type.Optional(Type.Unknown({ description: 'the traffic decision in force, as last given to the traffic provider' })),
    trafficVerified: Type.Optional(Type.Boolean({ description: 'the traffic provider found that decision in force when this status was written; until then the rollout is not Healthy' })),
  }, { description: "the controller's own memory; never edit it" })),
});

/** One measurement of a metric, as in Argo's AnalysisRun status. */
export const MeasurementStatus = Closed({
  phase: OneOf(['Running', 'Successful', 'Failed', 'Inconclusive', 'Error'] as const),
  value: Type.Optional(Type.Unknown({ description: 'what the provider returned' })),
  message: Type.Optional(Type.String()),
  startedAt: Type.Optional(Time('when the provider was asked')),
  finishedAt: Type.Optional(Time('when it answered')),
});

const AnalysisPhase = OneOf(['Pending', 'Running', 'Successful', 'Failed', 'Inconclusive', 'Error'] as const, 'Pending, Running, Successful, Failed, Inconclusive or Error');

/** The verdicts of an AnalysisRun so far. */
export const AnalysisRunStatus = Closed({
  phase: Type.Optional(AnalysisPhase),
  message: Type.Optional(Type.String()),
  startedAt: Type.Optional(Time('when the run started')),
  metricResults: Type.Optional(Type.Array(Closed({
    name: Type.String({ minLength: 1 }),
    phase: AnalysisPhase,
    measurements: Type.Optional(Type.Array(MeasurementStatus)),
    message: Type.Optional(Type.String()),
    count: Type.Optional(Count('measurements taken, errors excluded')),
    successful: Type.Optional(Count('Successful measurements')),
    failed: Type.Optional(Count('Failed measurements')),
    inconclusive: Type.Optional(Count('Inconclusive measurements')),
    error: Type.Optional(Count('Error measurements')),
    consecutiveError: Type.Optional(Count('Error measurements in a row')),
    dryRun: Type.Optional(Type.Boolean({ description: 'measured and shown, never deciding' })),
  }))),
  runSummary: Type.Optional(Closed({
    count: Type.Optional(Count('metrics')),
    successful: Type.Optional(Count('Successful metrics')),
    failed: Type.Optional(Count('Failed metrics')),
    inconclusive: Type.Optional(Count('Inconclusive metrics')),
    error: Type.Optional(Count('Error metrics')),
  })),
});

/**
 * The state of a Release. Its version-token key is deliberately not here: a status is readable by
 * anyone who may `get` the object, and the key lets a client forge its side.
 */
export const ReleaseStatus = Closed({
  phase: Type.Optional(OneOf(['idle', 'progressing', 'promoted', 'aborted'] as const, 'idle, progressing, promoted or aborted')),
  message: Type.Optional(Type.String({ description: 'why the phase is what it is' })),
  observedGeneration: Type.Optional(Count('the metadata.generation this status was decided on')),
  currentStepIndex: Type.Optional(Count('the release step every changed member is at')),
  paused: Type.Optional(Type.Boolean({ description: 'a person paused the release' })),
  members: Type.Optional(Type.Array(Closed({
    service: Type.String({ minLength: 1, description: 'the member Rollout' }),
    from: Type.String({ description: 'its stable pod-template hash' }),
    to: Type.String({ description: 'its new pod-template hash' }),
  }))),
  conditions: Type.Optional(Type.Array(Condition)),
  graylane: Type.Optional(Closed({
    version: Count('bumped by every commit of the controller: what the next commit is decided on'),
    state: Type.Unknown({ description: "the release's memory between passes (graylane's own format; read the fields above instead)" }),
  }, { description: "the controller's own memory; never edit it" })),
});

/** A status condition as the controller writes it. */
export type Condition = Static<typeof Condition>;
/** A Rollout's `status`, as written in the cluster. */
export type RolloutStatusDoc = Static<typeof RolloutStatus>;
/** An AnalysisRun's `status`, as written in the cluster. */
export type AnalysisRunStatusDoc = Static<typeof AnalysisRunStatus>;
/** A Release's `status`, as written in the cluster. */
export type ReleaseStatusDoc = Static<typeof ReleaseStatus>;
