/**
 * The same view a daemon shows, built from what a cluster holds: the Rollout (its spec, and the
 * engine's memory in `status.graylane`), its ReplicaSets (one per revision, numbered by the
 * `graylane.dev/revision` annotation) and their pods. Pure.
 */
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { instanceView } from '../../controller/local/views.js';
import type { RevisionView, ServiceView } from '../../controller/view-model.js';
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import { POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../../kube/names.js';
import { instanceOfPod } from '../../runtime/kubernetes/pod-instance.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { buildRolloutView } from '../../view/rollout-view.js';

/** A Rollout with the objects it owns, as read at one moment. */
export interface RolloutSnapshot {
  /** The Rollout. */
  rollout: RolloutObject;
  /** The ReplicaSets it owns. */
  replicaSets: V1ReplicaSet[];
  /** Pods of its namespace (those of its ReplicaSets are picked by owner). */
  pods: V1Pod[];
}

/** A ReplicaSet's revision number from its annotation; 0 when it has none. */
export function revisionNumberOf(rs: V1ReplicaSet): number {
  const n = Number(rs.metadata?.annotations?.[REVISION_ANNOTATION]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** A ReplicaSet's revision name: its pod-template hash. */
export function revisionNameOf(rs: V1ReplicaSet): string {
  return rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? rs.metadata?.name ?? '';
}

/** The ReplicaSets newest revision first. */
export function byRevisionNewestFirst(replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet[] {
  return [...replicaSets].sort((a, b) => revisionNumberOf(b) - revisionNumberOf(a));
}

/** The engine's memory in the Rollout's status, when the controller has written it. */
export function engineMemoryOf(rollout: RolloutObject): { version: number; status: RolloutStatus; traffic: TrafficInForce | undefined } | undefined {
  const memory = rollout.status?.graylane;
  if (!memory) return undefined;
  return { version: memory.version, status: memory.engine as RolloutStatus, traffic: memory.traffic as TrafficInForce | undefined };
}

/**
 * The traffic a routed canary's view shows: the weights of its status, which are what its routers
 * carry (a release holds a member's canary weight until every member's canary serves), on the
 * decision remembered; the decision alone for anything else.
 */
function routedTraffic(rollout: RolloutObject, traffic: TrafficInForce | undefined): TrafficInForce | undefined {
  const weights = rollout.status?.canary?.weights;
  if (traffic === undefined || weights === undefined || !rollout.spec.strategy.canary?.trafficRouting) return traffic;
  return { ...traffic, stableRevision: weights.stable.podTemplateHash ?? traffic.stableRevision, canaryRevision: weights.canary.podTemplateHash ?? traffic.canaryRevision, canaryWeight: weights.canary.weight };
}

/** The view of a Rollout at `nowMs` (pods count as ready after their ReplicaSet's minReadySeconds). */
export function clusterRolloutView(snapshot: RolloutSnapshot, nowMs: number): ServiceView {
  const { rollout } = snapshot;
  const name = rollout.metadata?.name ?? '';
  const memory = engineMemoryOf(rollout);
  // The engine can be done before its traffic switch is verified; the status then shows the
  // Rollout Progressing (see status-projection.ts), and `status --wait` must not return either.
  const pending = memory !== undefined && rollout.status?.graylane?.trafficVerified === false && (memory.status.phase === 'Healthy' || memory.status.phase === 'Completed');
  const status = pending ? { ...memory.status, phase: 'Progressing' as const, message: rollout.status?.message ?? 'waiting for the traffic switch to be in force' } : memory?.status;
  const revisions = byRevisionNewestFirst(snapshot.replicaSets).map((rs) => {
    const revision = revisionNameOf(rs);
    const owner = { service: name, revision, minReadySeconds: rs.spec?.minReadySeconds ?? 0 };
    const pods = snapshot.pods.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === rs.metadata?.uid));
    return {
      name: revision,
      number: revisionNumberOf(rs),
      // Ordered by name: a redraw of `status --watch` must not shuffle rows the cluster did not change.
      instances: pods
        .map((pod) => instanceView(instanceOfPod({ pod, owner, memory: {}, nowMs, stopping: false })))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    };
  });
  return buildRolloutView({
    name,
    namespace: rollout.metadata?.namespace,
    static: false,
    spec: rollout.spec,
    status,
    traffic: routedTraffic(rollout, memory?.traffic),
    revisions,
    // The cluster has no router figures to show (a service mesh's would come with its provider).
    stats: {},
    version: memory?.version ?? 0,
  });
}

/** `graylane history` of a Rollout: its ReplicaSets newest first, with their images. */
export function clusterHistory(snapshot: Omit<RolloutSnapshot, 'pods'>): RevisionView[] {
  const memory = engineMemoryOf(snapshot.rollout)?.status;
  const blueGreen = snapshot.rollout.spec.strategy.blueGreen !== undefined;
  const canary = memory?.canaryRevision !== memory?.stableRevision ? memory?.canaryRevision : undefined;
  return byRevisionNewestFirst(snapshot.replicaSets).map((rs): RevisionView => {
    const name = revisionNameOf(rs);
    let role: RevisionView['role'] = (rs.spec?.replicas ?? 0) > 0 ? 'old' : 'retired';
    if (name === memory?.stableRevision) role = blueGreen ? 'active' : 'stable';
    else if (name === canary) role = blueGreen ? 'preview' : 'canary';
    const containers = rs.spec?.template?.spec?.containers ?? [];
    const created = rs.metadata?.creationTimestamp;
    return {
      number: revisionNumberOf(rs),
      name,
      createdAtMs: created === undefined ? 0 : new Date(created).getTime(),
      role,
      summary: containers.map((c) => `${c.name}=${c.image ?? '?'}`).join(' ') || 'no containers',
    };
  });
}
