/**
 * The Argo-shaped fields of a Rollout's status, projected from the engine's memory, the Rollout's
 * spec and its revisions' ReplicaSets. Pure: the Kubernetes state adapter writes what this
 * returns beside `status.graylane`, so that `kubectl get rollout -o yaml`, `kubectl wait
 * --for=condition=Healthy`, Argo's dashboards and an HPA (through `selector` and `replicas`) read
 * what they already know.
 */
import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import type { Condition, RolloutStatusDoc } from '../../documents/status-schema.js';
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import { POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';

/** The condition types graylane writes, Argo's. */
export type ConditionType = 'Progressing' | 'Available' | 'Paused' | 'Healthy' | 'Completed' | 'InvalidSpec';

/** Argo's reasons for the `Progressing` condition. */
export type ProgressingReason =
  | 'NewReplicaSetCreated' | 'ReplicaSetUpdated' | 'RolloutPaused' | 'RolloutResumed'
  | 'NewReplicaSetAvailable' | 'ProgressDeadlineExceeded' | 'RolloutAborted'
  /** graylane's: the engine is done, but the traffic provider has not yet shown its last switch in force. */
  | 'TrafficSwitchPending';

/** Input of {@link projectStatus}. */
export interface StatusProjectionInput {
  /** The Rollout's name (ReplicaSet names are `<name>-<hash>` when one is not found). */
  name: string;
  /** The Rollout's `metadata.generation`, if any. */
  generation?: number | undefined;
  /** The Rollout's spec. */
  spec: RolloutSpec;
  /** The engine's memory. */
  engine: RolloutStatus;
  /** The traffic decision in force, if any. */
  traffic?: TrafficInForce | undefined;
  /**
   * What the Rollout's routers carry when more than its own decision shapes it (a release on a
   * cluster holds a member's canary weight until every member's canary serves, and keeps a member
   * done early on its old revision for stable pins): the weights shown are these. Undefined: the
   * decision's own.
   */
  routed?: TrafficInForce | undefined;
  /**
   * Whether the traffic provider found `traffic` in force; false holds Healthy, Completed and the
   * fields that claim the switch (`stableRS`, `blueGreen.activeSelector`) where they were.
   * Undefined: nothing verifies it, and the decision counts as in force.
   */
  trafficVerified?: boolean | undefined;
  /** The Rollout's ReplicaSets (every revision's), as the cache has them now. */
  replicaSets: readonly V1ReplicaSet[];
  /** The status written before, whose conditions keep their `lastTransitionTime`. */
  previous?: RolloutStatusDoc | undefined;
  /** Why the spec is invalid; undefined: it is valid. */
  invalidSpec?: string | undefined;
  /** Epoch ms of the write. */
  nowMs: number;
}

/** The status fields that count the ReplicaSets' pods. */
export interface ReplicaCounts {
  /** Pods of every revision. */
  replicas: number;
  /** Pods of the current revision. */
  updatedReplicas: number;
  /** Ready pods. */
  readyReplicas: number;
  /** Pods ready for minReadySeconds. */
  availableReplicas: number;
}

/** RFC 3339 at second precision, as Kubernetes writes times. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function hashOf(rs: V1ReplicaSet): string | undefined {
  return rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
}

/** The current revision: the one being rolled out, else the stable one. */
export function currentPodHash(engine: RolloutStatus): string | undefined {
  return engine.canaryRevision ?? engine.stableRevision;
}

/** What the ReplicaSets count now; `updatedReplicas` counts those of `currentHash`. */
export function replicaCounts(replicaSets: readonly V1ReplicaSet[], currentHash: string | undefined): ReplicaCounts {
  const counts: ReplicaCounts = { replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0 };
  for (const rs of replicaSets) {
    const s = rs.status;
    counts.replicas += s?.replicas ?? 0;
    counts.readyReplicas += s?.readyReplicas ?? 0;
    counts.availableReplicas += s?.availableReplicas ?? 0;
    if (currentHash !== undefined && hashOf(rs) === currentHash) counts.updatedReplicas += s?.replicas ?? 0;
  }
  return counts;
}

/** A Kubernetes label selector (the spec's type declares only `matchLabels`, and lets the rest through). */
export interface LabelSelector {
  /** Labels with exactly these values. */
  matchLabels?: Record<string, string> | undefined;
  /** `In`, `NotIn`, `Exists`, `DoesNotExist` requirements. */
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | undefined }> | undefined;
}

/** A label selector in its string form (`app=web,tier in (a,b)`), keys sorted as the API server prints them. */
export function selectorString(selector: LabelSelector | undefined): string | undefined {
  if (selector === undefined) return undefined;
  const parts: Array<[string, string]> = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => [k, `${k}=${v}`]);
  const expressions = selector.matchExpressions ?? [];
  for (const e of expressions) {
    const values = [...(e.values ?? [])].sort().join(',');
    const text = e.operator === 'In' ? `${e.key} in (${values})`
      : e.operator === 'NotIn' ? `${e.key} notin (${values})`
        : e.operator === 'Exists' ? e.key
          : `!${e.key}`;
    parts.push([e.key, text]);
  }
  return parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, t]) => t).join(',');
}

function percentOf(value: number | string | undefined, total: number, fallbackPercent: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const percent = value === undefined ? fallbackPercent : Number.parseInt(value, 10);
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** Whether enough pods are available: the active revision's all (blue-green), all but maxUnavailable (canary). */
function hasMinimumAvailability(input: StatusProjectionInput, counts: ReplicaCounts): boolean {
  const desired = input.spec.replicas ?? 1;
  const blueGreen = input.spec.strategy.blueGreen;
  if (blueGreen) {
    const active = activeSelector(input);
    const available = input.replicaSets.filter((rs) => hashOf(rs) === active).reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    return available >= desired;
  }
  const maxUnavailable = percentOf(input.spec.strategy.canary?.maxUnavailable, desired, 25, false);
  return counts.availableReplicas >= desired - maxUnavailable;
}

function activeSelector(input: StatusProjectionInput): string | undefined {
  const { traffic, engine } = input;
  if (!traffic) return engine.stableRevision;
  // After a blue-green switch the new revision takes all traffic before it is marked stable.
  if (traffic.canaryRevision !== undefined && traffic.canaryWeight >= (input.spec.strategy.canary?.trafficRouting?.maxTrafficWeight ?? 100)) return traffic.canaryRevision;
  return traffic.stableRevision;
}

/**
 * The engine is done but its last traffic switch is not verified: a Healthy shown now would let
 * `kubectl wait --for=condition=Healthy` return while users are still on the old revision.
 */
function switchPending(input: StatusProjectionInput): boolean {
  const { engine } = input;
  return input.trafficVerified === false && (engine.phase === 'Healthy' || engine.phase === 'Completed') && !engine.abort;
}

/** Why the status holds, for its `message` and the `Progressing` condition. */
function switchPendingMessage(input: StatusProjectionInput): string {
  const target = input.traffic ? activeSelector(input) : undefined;
  return `Waiting for the traffic switch${target === undefined ? '' : ` to revision ${target}`} to be in force (the traffic provider has not verified it yet)`;
}

function replicaSetName(input: StatusProjectionInput, hash: string): string {
  return input.replicaSets.find((rs) => hashOf(rs) === hash)?.metadata?.name ?? `${input.name}-${hash}`;
}

type Wanted = Pick<Condition, 'status' | 'reason' | 'message'>;

function progressing(input: StatusProjectionInput, paused: boolean): Wanted {
  const { engine, previous } = input;
  const hash = currentPodHash(engine);
  if (engine.abort) return { status: 'False', reason: 'RolloutAborted', message: engine.message ?? `Rollout aborted update to revision ${hash ?? ''}`.trim() };
  if (engine.progress.deadlineExceeded) return { status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${replicaSetName(input, hash ?? '')}" has timed out progressing.` };
  if (paused) return { status: 'Unknown', reason: 'RolloutPaused', message: 'Rollout is paused' };
  if (switchPending(input)) return { status: 'True', reason: 'TrafficSwitchPending', message: switchPendingMessage(input) };
  if (engine.phase === 'Healthy' || engine.phase === 'Completed') {
    return { status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${replicaSetName(input, hash ?? '')}" has successfully progressed.` };
  }
  const before = previous?.conditions?.find((c) => c.type === 'Progressing');
  if (before?.reason === 'RolloutPaused') return { status: 'True', reason: 'RolloutResumed', message: 'Rollout is resumed' };
  if (hash !== undefined && previous?.currentPodHash !== hash) {
    return { status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${replicaSetName(input, hash)}"` };
  }
  // Argo keeps the reason that started the progress until the next transition.
  if (before?.status === 'True' && (before.reason === 'NewReplicaSetCreated' || before.reason === 'RolloutResumed' || before.reason === 'ReplicaSetUpdated')) {
    return { status: 'True', reason: before.reason, message: before.message ?? '' };
  }
  return { status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${replicaSetName(input, hash ?? '')}" is progressing.` };
}

/** The conditions as they should be, before times are set. */
function wantedConditions(input: StatusProjectionInput, counts: ReplicaCounts): Map<ConditionType, Wanted> {
  const { engine } = input;
  const paused = engine.pauseConditions.length > 0 || input.spec.paused === true;
  const pending = switchPending(input);
  const done = (engine.phase === 'Healthy' || engine.phase === 'Completed') && !engine.abort && engine.canaryRevision === engine.stableRevision && !pending;
  const healthy = engine.phase === 'Healthy' && !engine.abort && input.invalidSpec === undefined && !pending;
  const wanted = new Map<ConditionType, Wanted>();
  if (input.invalidSpec !== undefined) wanted.set('InvalidSpec', { status: 'True', reason: 'InvalidSpec', message: input.invalidSpec });
  wanted.set('Progressing', progressing(input, paused));
  wanted.set('Available', hasMinimumAvailability(input, counts)
    ? { status: 'True', reason: 'AvailableReason', message: 'Rollout has minimum availability' }
    : { status: 'False', reason: 'AvailableReason', message: 'Rollout does not have minimum availability' });
  wanted.set('Paused', paused
    ? { status: 'True', reason: 'RolloutPaused', message: 'Rollout is paused' }
    : { status: 'False', reason: 'RolloutResumed', message: 'Rollout is resumed' });
  wanted.set('Healthy', healthy
    ? { status: 'True', reason: 'RolloutHealthy', message: 'Rollout is healthy' }
    : { status: 'False', reason: 'RolloutHealthy', message: 'Rollout is not healthy' });
  wanted.set('Completed', done
    ? { status: 'True', reason: 'RolloutCompleted', message: `Rollout completed update to revision ${currentPodHash(engine) ?? ''}`.trim() }
    : { status: 'False', reason: 'RolloutCompleted', message: 'Rollout not completed' });
  return wanted;
}

/**
 * Conditions with times: `lastTransitionTime` moves only when a condition's status changes,
 * `lastUpdateTime` when anything of it changes; an unchanged condition is the one written before.
 */
function timedConditions(wanted: Map<ConditionType, Wanted>, previous: readonly Condition[], nowMs: number): Condition[] {
  const now = rfc3339(nowMs);
  const out: Condition[] = [];
  for (const [type, w] of wanted) {
    const before = previous.find((c) => c.type === type);
    if (before && before.status === w.status && before.reason === w.reason && before.message === w.message) {
      out.push(before);
      continue;
    }
    out.push({
      type, status: w.status,
      ...(w.reason === undefined ? {} : { reason: w.reason }),
      ...(w.message === undefined ? {} : { message: w.message }),
      lastTransitionTime: before && before.status === w.status ? before.lastTransitionTime ?? now : now,
      lastUpdateTime: now,
    });
  }
  return out;
}

/** A side of `status.canary.weights`: its revision and weight. */
export interface ShownSide {
  revision: string | undefined;
  weight: number;
}

/**
 * The weights a canary Rollout's status shows: what its routers carry (`routed`, on the rollout's
 * scale: `maxWeight`), else the engine's own.
 */
export function shownWeights(engine: RolloutStatus, routed: TrafficInForce | undefined, maxWeight: number): { canary: ShownSide; stable: ShownSide } {
  if (routed === undefined) return { canary: { revision: engine.canaryRevision, weight: engine.weights.canary }, stable: { revision: engine.stableRevision, weight: engine.weights.stable } };
  return { canary: { revision: routed.canaryRevision ?? engine.canaryRevision, weight: routed.canaryWeight }, stable: { revision: routed.stableRevision, weight: maxWeight - routed.canaryWeight } };
}

/** The Argo-shaped status fields (everything but `status.graylane`). */
export function projectStatus(input: StatusProjectionInput): RolloutStatusDoc {
  const { engine, spec } = input;
  const hash = currentPodHash(engine);
  const counts = replicaCounts(input.replicaSets, hash);
  const pending = switchPending(input);
  const message = input.invalidSpec ?? (pending ? switchPendingMessage(input) : engine.message);
  // Until traffic is verified, the fields that claim a switch keep what was shown before it.
  const unverified = input.trafficVerified === false;
  const stableRS = unverified ? input.previous?.stableRS : engine.stableRevision;
  const out: RolloutStatusDoc = {
    phase: input.invalidSpec !== undefined ? 'Degraded' : pending ? 'Progressing' : engine.phase,
    ...(message === undefined ? {} : { message }),
    ...(input.generation === undefined ? {} : { observedGeneration: input.generation }),
    ...(hash === undefined ? {} : { currentPodHash: hash }),
    ...(stableRS === undefined ? {} : { stableRS }),
  };
  const canary = spec.strategy.canary;
  if (canary) {
    if ((canary.steps?.length ?? 0) > 0) out.currentStepIndex = engine.currentStepIndex;
    const t = input.traffic;
    const shown = shownWeights(engine, input.routed, canary.trafficRouting?.maxTrafficWeight ?? 100);
    out.canary = {
      weights: {
        canary: { weight: shown.canary.weight, ...(shown.canary.revision === undefined ? {} : { podTemplateHash: shown.canary.revision }), ...(canary.canaryService === undefined ? {} : { serviceName: canary.canaryService }) },
        stable: { weight: shown.stable.weight, ...(shown.stable.revision === undefined ? {} : { podTemplateHash: shown.stable.revision }), ...(canary.stableService === undefined ? {} : { serviceName: canary.stableService }) },
        // The weights are "verified" once the traffic provider was given exactly these.
        verified: t !== undefined && input.trafficVerified !== false && t.canaryWeight === engine.weights.canary && t.stableRevision === engine.stableRevision
          && (engine.weights.canary === 0 || t.canaryRevision === engine.canaryRevision),
      },
    };
  }
  if (spec.strategy.blueGreen) {
    const decided = activeSelector(input);
    const active = unverified ? input.previous?.blueGreen?.activeSelector : decided;
    const preview = input.traffic?.previewRevision ?? (engine.canaryRevision !== engine.stableRevision ? engine.canaryRevision : decided);
    out.blueGreen = { ...(active === undefined ? {} : { activeSelector: active }), ...(preview === undefined ? {} : { previewSelector: preview }) };
  }
  out.pauseConditions = engine.pauseConditions.map((p) => ({ reason: p.reason, startTime: rfc3339(p.startedAtMs) }));
  out.controllerPause = engine.controllerPause;
  out.abort = engine.abort;
  if (engine.abort && engine.abortedAtMs !== undefined) out.abortedAt = rfc3339(engine.abortedAtMs);
  out.conditions = timedConditions(wantedConditions(input, counts), input.previous?.conditions ?? [], input.nowMs);
  Object.assign(out, counts);
  const selector = selectorString(spec.selector);
  if (selector !== undefined) out.selector = selector;
  return out;
}

/**
 * The status of a Rollout whose spec cannot be acted on: `InvalidSpec` True with the sentence,
 * phase Degraded, `Healthy` False; everything else (the engine's memory included) as it was.
 */
export function invalidSpecStatus(previous: RolloutStatusDoc | undefined, message: string, nowMs: number): RolloutStatusDoc {
  const before = previous?.conditions ?? [];
  const wanted = new Map<ConditionType, Wanted>([
    ['InvalidSpec', { status: 'True', reason: 'InvalidSpec', message }],
    ['Healthy', { status: 'False', reason: 'RolloutHealthy', message: 'Rollout is not healthy' }],
  ]);
  const changed = timedConditions(wanted, before, nowMs);
  const kept = before.filter((c) => !wanted.has(c.type as ConditionType));
  return { ...previous, phase: 'Degraded', message, conditions: [...kept, ...changed] };
}
