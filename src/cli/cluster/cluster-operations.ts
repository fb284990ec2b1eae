/**
 * A person's operation on a Rollout in a cluster, done as the daemon does it on a single host:
 * read the Rollout, run the pure engine operation on the engine's memory in its status, commit
 * through the Kubernetes state adapter at the version read. The controller acts on its next pass
 * (the watch wakes it). A conflict is retried once on fresh data (the engine decides again
 * whether the operation still makes sense), then reported as the daemon's 409 is; with a version
 * given by the person (`--expected-version`) it is never retried. Undo and restart change the
 * spec instead, as Argo's kubectl plugin does: the pod template of an earlier revision, or
 * `spec.restartAt`.
 */
import type { V1PodTemplateSpec, V1ReplicaSet } from '@kubernetes/client-node';
import { ApiError } from '../../api/client.js';
import type { Operation } from '../../controller/control-plane.js';
import { fromApiOperation } from '../../controller/core/operations.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { applyOperation, OperationError, type UserOperation } from '../../engine/index.js';
import { FIELD_MANAGER, ISTIO_REVISION_LABEL, POD_TEMPLATE_HASH_LABEL } from '../../kube/names.js';
import { KubernetesStateError } from '../../state/kubernetes/kubernetes-state-error.js';
import { KubernetesState, type RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { rfc3339 } from '../../state/kubernetes/status-projection.js';
import { StateConflictError } from '../../state/state-port.js';
import { validationRegistry } from '../../traffic/registry.js';
import { routerAbilities } from '../../traffic/router-abilities.js';
import { clusterFailure, httpStatusOf } from './cluster-errors.js';
import { ROLLOUTS, type ClusterReader } from './cluster-reader.js';
import { byRevisionNewestFirst, engineMemoryOf, revisionNameOf, revisionNumberOf } from './cluster-view.js';
import { SnapshotCache } from './snapshot-cache.js';

/** Options of {@link ClusterOperations}. */
export interface ClusterOperationsOptions {
  /** Reads (and, through its client, writes) the namespace. */
  reader: ClusterReader;
  /** Clock, epoch ms. */
  nowMs: () => number;
}

/** One try at a write: whether it lost a race (and may be tried again on fresh data). */
type Attempt = 'done' | 'conflict';

function invalid(message: string): ApiError {
  return new ApiError('InvalidOperation', message, 409);
}

/** See the file comment. */
export class ClusterOperations {
  private readonly reader: ClusterReader;
  private readonly now: () => number;

  constructor(options: ClusterOperationsOptions) {
    this.reader = options.reader;
    this.now = options.nowMs;
  }

  /** Runs `operation` on the Rollout `name`; see the file comment. */
  async run(name: string, operation: Operation, expectedVersion: number | undefined): Promise<void> {
    const op = fromApiOperation(operation);
    for (let attempt = 1; ; attempt++) {
      const rollout = await this.reader.rollout(name);
      const memory = engineMemoryOf(rollout);
      const version = memory?.version ?? 0;
      if (expectedVersion !== undefined && version !== expectedVersion) throw this.conflict(name, op.type, expectedVersion, version, rollout);
      let outcome: Attempt;
      if (op.type === 'undo') outcome = await this.writeSpec(rollout, await this.undoTemplate(rollout, op.toRevision));
      else if (op.type === 'restart') outcome = await this.writeSpec(rollout, { restartAt: rfc3339(this.now()) });
      else outcome = await this.engineOperation(rollout, op);
      if (outcome === 'done') return;
      if (attempt >= 2 || expectedVersion !== undefined) {
        const fresh = await this.reader.rollout(name);
        throw this.conflict(name, op.type, version, engineMemoryOf(fresh)?.version ?? 0, fresh, attempt >= 2);
      }
    }
  }

  /** The engine's operation on its memory, committed at the version read. */
  private async engineOperation(rollout: RolloutObject, op: UserOperation): Promise<Attempt> {
    const name = rollout.metadata?.name ?? '';
    const namespace = this.reader.namespace;
    const memory = engineMemoryOf(rollout);
    if (!memory) {
      throw invalid(`${name} has no status from the graylane controller yet: nothing to ${op.type} until the controller has acted on it (is it running in the cluster?)`);
    }
    const now = this.now();
    let result;
    try {
      // Route operations are refused here when the Rollout's routers cannot carry them (read from its spec).
      const router = op.type === 'setHeaderRoute' || op.type === 'setMirrorRoute' ? routerAbilities(validationRegistry(), rollout.spec, 'kubernetes') : undefined;
      result = applyOperation({ spec: rollout.spec, status: memory.status, operation: op, now, service: name, router });
    } catch (error) {
      if (error instanceof OperationError) throw invalid(error.message);
      throw error;
    }
    const events = result.actions.flatMap((a) => (a.type === 'event' ? [{ atMs: now, level: a.level, reason: a.reason, message: a.message }] : []));
    const state = new KubernetesState({
      kubeConfig: this.reader.target.kubeConfig,
      rollouts: new SnapshotCache([rollout]),
      replicaSets: new SnapshotCache<V1ReplicaSet>(await this.reader.replicaSetsOf(rollout)),
      nowMs: () => now,
    });
    try {
      // The traffic in force stays as it is: the controller gives the provider what the new status asks for.
      await state.commit({ namespace, name }, { status: result.status, events }, memory.version);
      return 'done';
    } catch (error) {
      if (error instanceof StateConflictError) return 'conflict';
      if (error instanceof KubernetesStateError && error.code === 'RolloutNotFound') throw await this.reader.notFound(name);
      if (error instanceof KubernetesStateError) throw new ApiError('ClusterError', error.message, 0);
      throw error;
    }
  }

  /** The spec fields an undo sets: an earlier revision's pod template, as its ReplicaSet holds it. */
  private async undoTemplate(rollout: RolloutObject, toRevision: number | undefined): Promise<Partial<RolloutSpec>> {
    const name = rollout.metadata?.name ?? '';
    const ref = rollout.spec.workloadRef;
    if (ref !== undefined) {
      throw invalid(`${name} takes its pod template from ${ref.kind} ${ref.name} (workloadRef), so graylane cannot put an older one back: roll that ${ref.kind} back instead, e.g. \`kubectl rollout undo ${ref.kind.toLowerCase()}/${ref.name}\``);
    }
    const replicaSets = byRevisionNewestFirst(await this.reader.replicaSetsOf(rollout));
    const memory = engineMemoryOf(rollout)?.status;
    const currentName = memory ? (memory.canaryRevision ?? memory.stableRevision) : replicaSets[0] && revisionNameOf(replicaSets[0]);
    const current = replicaSets.find((rs) => revisionNameOf(rs) === currentName);
    let target: V1ReplicaSet | undefined;
    if (toRevision !== undefined) {
      target = replicaSets.find((rs) => revisionNumberOf(rs) === toRevision);
      if (!target) throw new ApiError('NotFound', `${name} has no revision #${toRevision}; see \`graylane history ${name}\``, 404);
    } else if (memory?.stableRevision !== undefined && memory.canaryRevision !== memory.stableRevision) {
      // During a rollout, back to the stable revision (as on a single host).
      target = replicaSets.find((rs) => revisionNameOf(rs) === memory.stableRevision);
    } else {
      const below = current ? revisionNumberOf(current) : Number.POSITIVE_INFINITY;
      target = replicaSets.find((rs) => revisionNumberOf(rs) < below);
    }
    if (!target?.spec?.template) throw invalid(`${name} has no earlier revision to go back to`);
    if (revisionNameOf(target) === currentName) throw invalid(`${name} already runs revision #${revisionNumberOf(target)}`);
    const template: V1PodTemplateSpec = structuredClone(target.spec.template);
    // The hash and Istio's revision label are the controller's, set from the template: copied, they would name the old revision.
    if (template.metadata?.labels) {
      delete template.metadata.labels[POD_TEMPLATE_HASH_LABEL];
      delete template.metadata.labels[ISTIO_REVISION_LABEL];
    }
    return { template };
  }

  /** Replaces the Rollout with `changes` in its spec, at the resourceVersion read. */
  private async writeSpec(rollout: RolloutObject, changes: Partial<RolloutSpec>): Promise<Attempt> {
    const name = rollout.metadata?.name ?? '';
    const body: RolloutObject = { ...rollout, spec: { ...rollout.spec, ...changes } };
    try {
      await this.reader.custom.replaceNamespacedCustomObject({ ...ROLLOUTS, namespace: this.reader.namespace, name, body, fieldManager: FIELD_MANAGER });
      return 'done';
    } catch (error) {
      const status = httpStatusOf(error);
      if (status === 409) return 'conflict';
      if (status === 404) throw await this.reader.notFound(name);
      throw clusterFailure(error, this.reader.target, `writing rollout ${this.reader.namespace}/${name}`);
    }
  }

  /** The daemon's 409, in its words. */
  private conflict(name: string, what: string, expected: number, actual: number, rollout: RolloutObject, retried = false): ApiError {
    const phase = rollout.status?.phase;
    return new ApiError(
      'Conflict',
      `${what} not done: ${name} ${retried ? 'kept changing while it was decided' : 'changed since you looked'} (version ${expected}, now ${actual}${phase ? `, ${phase}` : ''}). Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`,
      409,
    );
  }
}
