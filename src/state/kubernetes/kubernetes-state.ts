/**
 * The state port on Kubernetes: a rollout's record lives in its Rollout, Argo's fields projected
 * into `status` from the engine's memory. On graylane's Rollouts the memory is `status.graylane`
 * and a commit is ONE PUT of the status subresource at the resourceVersion it was decided on, so
 * two controllers (or a person's `kubectl edit`) racing cannot both land, and nothing is ever
 * half-written. On Argo's Rollouts, whose CRD would prune `status.graylane`, the memory is an
 * annotation written first at that resourceVersion, then the status (engine-memory.ts says why
 * that order stays consistent through a crash). Reads come from the informer's copy.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject, type V1ReplicaSet } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import type { RolloutStatusDoc } from '../../documents/status-schema.js';
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import type { ReleaseState } from '../../engine/release/releases.js';
import { EventRecorder } from '../../kube/event-recorder.js';
import { ENGINE_MEMORY_ANNOTATION } from '../../kube/names.js';
import { rolloutApiVersion, rolloutGroupVersion, type RolloutFlavour } from '../../kube/rollout-flavour.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { serverRetryAfterMs } from '../../kube/retry-after.js';
import {
  StateConflictError, type CommitResult, type ObjectKey, type ReleaseRecord, type RolloutChange, type RolloutRecord, type StatePort,
} from '../state-port.js';
import { KubernetesStateError } from './kubernetes-state-error.js';
import { KubernetesReleaseState, type ReleaseObject } from './kubernetes-release-state.js';
import { inArgoShape } from './argo-status.js';
import { encodeEngineMemory, memoryVersion, readEngineMemory, statusDigest, type EngineMemory } from './engine-memory.js';
import { currentPodHash, invalidSpecStatus, projectStatus, replicaCounts, shownWeights } from './status-projection.js';

/** A graylane Rollout as the API server returns it. */
export interface RolloutObject extends KubernetesObject {
  /** The user's spec. */
  spec: RolloutSpec;
  /** What the controller wrote. */
  status?: RolloutStatusDoc | undefined;
}

/** Options of {@link KubernetesState}. */
export interface KubernetesStateOptions {
  /** Where to write. */
  kubeConfig: KubeConfig;
  /**
   * Whose Rollouts (default `graylane`). With `argo`, `status.observedGeneration` is written as
   * Argo's CRD types it, a string, and the engine's memory is an annotation (engine-memory.ts).
   */
  flavour?: RolloutFlavour | undefined;
  /** The informer's copy of the Rollouts (of the flavour's apiVersion). */
  rollouts: ObjectCache<RolloutObject>;
  /** The informer's copy of ReplicaSets (a Rollout's are those it owns). */
  replicaSets: ObjectCache<V1ReplicaSet>;
  /** Clock (epoch ms) for condition and pause times; default `Date.now`. */
  nowMs?: (() => number) | undefined;
  /** Posts the events of commits; default: one posting through `kubeConfig`. */
  events?: EventRecorder | undefined;
  /** The informer's copy of the Releases: releases are kept in their status; absent: releases are refused (`ReleasesUnsupported`). */
  releases?: ObjectCache<ReleaseObject> | undefined;
  /**
   * What a Rollout's routers carry for its traffic decision and its status (the release a member
   * belongs to reshapes it): the status shows those weights, and a Rollout whose status shows
   * others is stale, so that its next pass writes them. Absent: every Rollout shows its decision.
   */
  routedTraffic?: ((options: { key: ObjectKey; traffic: TrafficInForce; status: RolloutStatus }) => TrafficInForce) | undefined;
}

/** A write of ours the informer may not have shown yet. */
interface Written {
  object: RolloutObject;
  /** The resourceVersion the write replaced; undefined for a copy read fresh after a conflict. */
  replacedVersion: string | undefined;
}

const PLURAL = 'rollouts';

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

const id = (key: ObjectKey): string => `${key.namespace}/${key.name}`;

/** Whether a canary Rollout's status shows the weights its routers carry now (any other Rollout: yes). */
function weightsShown(rollout: RolloutObject, status: RolloutStatus, routed: TrafficInForce | undefined): boolean {
  const canary = rollout.spec.strategy.canary;
  const shown = rollout.status?.canary?.weights;
  if (canary === undefined || shown === undefined) return true;
  const want = shownWeights(status, routed, canary.trafficRouting?.maxTrafficWeight ?? 100);
  return shown.canary.weight === want.canary.weight && shown.stable.weight === want.stable.weight
    && shown.canary.podTemplateHash === want.canary.revision && shown.stable.podTemplateHash === want.stable.revision;
}

/** See the file comment. */
export class KubernetesState implements StatePort {
  readonly type = 'kubernetes';
  private readonly api: CustomObjectsApi;
  private readonly rollouts: ObjectCache<RolloutObject>;
  private readonly replicaSets: ObjectCache<V1ReplicaSet>;
  private readonly now: () => number;
  private readonly events: EventRecorder;
  private readonly flavour: RolloutFlavour;
  private readonly apiVersion: string;
  private readonly group: string;
  private readonly version: string;
  private readonly written = new Map<string, Written>();
  private eventSequence = 0;
  private readonly releaseState: KubernetesReleaseState | undefined;
  private readonly routedTraffic: KubernetesStateOptions['routedTraffic'];

  constructor(options: KubernetesStateOptions) {
    this.routedTraffic = options.routedTraffic;
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.flavour = options.flavour ?? 'graylane';
    this.apiVersion = rolloutApiVersion(this.flavour);
    ({ group: this.group, version: this.version } = rolloutGroupVersion(this.flavour));
    this.rollouts = options.rollouts;
    this.replicaSets = options.replicaSets;
    this.now = options.nowMs ?? Date.now;
    this.events = options.events ?? new EventRecorder({ kubeConfig: options.kubeConfig, nowMs: this.now });
    this.releaseState = options.releases && new KubernetesReleaseState({ kubeConfig: options.kubeConfig, releases: options.releases });
  }

  /**
   * The record in the Rollout; `stale` when its replica counts are not the ReplicaSets' now, or
   * (Argo) when its status is not the one written with the memory; `trafficVerified` as remembered.
   */
  load(key: ObjectKey): Promise<RolloutRecord | undefined> {
    const rollout = this.freshest(key);
    let memory: EngineMemory | undefined;
    try {
      memory = readEngineMemory(rollout, this.flavour);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (!rollout || !memory) return Promise.resolve(undefined);
    const status = structuredClone(memory.engine) as RolloutStatus;
    const record: RolloutRecord = { key: { ...key }, status, version: memory.version };
    if (memory.traffic !== undefined) record.traffic = structuredClone(memory.traffic) as TrafficInForce;
    if (memory.trafficVerified !== undefined) record.trafficVerified = memory.trafficVerified;
    const counts = replicaCounts(this.ownedReplicaSets(rollout), currentPodHash(status));
    const shown = rollout.status ?? {};
    if ((Object.keys(counts) as Array<keyof typeof counts>).some((k) => (shown[k] ?? 0) !== counts[k])) record.stale = true;
    // A crash (or a failed write) between an Argo commit's two writes left the status behind.
    if (memory.statusDigest !== undefined && memory.statusDigest !== statusDigest(shown)) record.stale = true;
    if (this.routedTraffic !== undefined && !weightsShown(rollout, status, this.routedOf(key, record.traffic, status))) record.stale = true;
    return Promise.resolve(record);
  }

  /** What the routers carry when it is not the decision itself; undefined: the decision. */
  private routedOf(key: ObjectKey, traffic: TrafficInForce | undefined, status: RolloutStatus): TrafficInForce | undefined {
    if (this.routedTraffic === undefined || traffic === undefined) return undefined;
    const routed = this.routedTraffic({ key, traffic, status });
    // Most Rollouts belong to no release: their decision comes back as it went, with nothing to compare.
    return routed === traffic || JSON.stringify(routed) === JSON.stringify(traffic) ? undefined : routed;
  }

  /**
   * Writes the status subresource once at the resourceVersion read (Argo: the memory annotation
   * first, at that resourceVersion); see {@link StatePort.commit}.
   */
  async commit(key: ObjectKey, change: RolloutChange, expectedVersion: number): Promise<CommitResult> {
    const rollout = this.freshest(key);
    if (!rollout) throw new KubernetesStateError('RolloutNotFound', `rollout ${id(key)} not found: its status cannot be written`);
    const actual = this.versionOf(rollout);
    if (actual !== expectedVersion) throw new StateConflictError(key, expectedVersion, actual);
    const previous = rollout.status;
    const traffic = change.traffic ?? (readEngineMemory(rollout, this.flavour)?.traffic as TrafficInForce | undefined);
    const projected = projectStatus({
      name: key.name, generation: rollout.metadata?.generation, spec: rollout.spec, engine: change.status, traffic, trafficVerified: change.trafficVerified,
      routed: this.routedOf(key, traffic, change.status),
      replicaSets: this.ownedReplicaSets(rollout), previous, nowMs: this.now(),
    });
    const status: RolloutStatusDoc = {
      ...(this.flavour === 'argo' ? inArgoShape(projected) : projected),
      ...(previous?.restartedAt === undefined ? {} : { restartedAt: previous.restartedAt }),
    };
    const memory: EngineMemory = {
      version: expectedVersion + 1, engine: structuredClone(change.status),
      ...(traffic === undefined ? {} : { traffic: structuredClone(traffic) }),
      ...(change.trafficVerified === undefined ? {} : { trafficVerified: change.trafficVerified }),
    };
    let stored: RolloutObject;
    if (this.flavour === 'argo') {
      const remembered = await this.writeMemory(key, rollout, { ...memory, statusDigest: statusDigest(status) }, expectedVersion);
      // The decision is durable now; a status write that fails here is redone by the next pass (stale).
      try {
        stored = await this.writeStatus(key, remembered, status, expectedVersion + 1);
      } catch (error) {
        // A 409 here means someone wrote after the memory landed (the controller's next pass, or a
        // spec edit): this commit happened all the same, and reporting a conflict would have the
        // caller apply its operation a second time on top of its own.
        if (!(error instanceof StateConflictError)) throw error;
        stored = remembered;
      }
    } else {
      stored = await this.writeStatus(key, rollout, { ...status, graylane: memory }, expectedVersion);
    }
    const eventIds: number[] = [];
    for (const event of change.events ?? []) {
      this.events.post({ object: this.involved(stored), ...event });
      eventIds.push(++this.eventSequence);
    }
    return { version: expectedVersion + 1, eventIds };
  }

  /** Resolves once the Events of every commit so far were posted (they go out in the background). */
  flushEvents(): Promise<void> {
    return this.events.flush();
  }

  /**
   * Sets the `InvalidSpec` condition (phase Degraded) with `message`, at the resourceVersion read,
   * leaving the engine's memory as it is; the next commit clears it. Posts an `InvalidSpec` Warning.
   */
  async markInvalid(key: ObjectKey, message: string): Promise<void> {
    const rollout = this.freshest(key);
    if (!rollout) throw new KubernetesStateError('RolloutNotFound', `rollout ${id(key)} not found: its status cannot be written`);
    const stored = await this.writeStatus(key, rollout, invalidSpecStatus(rollout.status, message, this.now()), this.versionOf(rollout));
    this.events.post({ object: this.involved(stored), level: 'warning', reason: 'InvalidSpec', message });
  }

  /** A release's record, from its Release's status (kubernetes-release-state.ts); refused without the Releases' cache. */
  loadRelease(key: ObjectKey): Promise<ReleaseRecord | undefined> {
    return this.releaseState ? this.releaseState.loadRelease(key) : Promise.reject(releasesUnsupported(key));
  }

  /** Commits a release's state in its Release's status at the version read; refused without the Releases' cache. */
  commitRelease(key: ObjectKey, state: ReleaseState, expectedVersion: number): Promise<CommitResult> {
    return this.releaseState ? this.releaseState.commitRelease(key, state, expectedVersion) : Promise.reject(releasesUnsupported(key));
  }

  /**
   * Argo flavour: a merge patch of the memory annotation carrying the resourceVersion read as a
   * precondition, so a rival's write (or a spec edited since the read) is a 409, not overwritten.
   */
  private async writeMemory(key: ObjectKey, rollout: RolloutObject, memory: EngineMemory, expectedVersion: number): Promise<RolloutObject> {
    const replaced = rollout.metadata?.resourceVersion;
    const body = { metadata: { ...(replaced === undefined ? {} : { resourceVersion: replaced }), annotations: { [ENGINE_MEMORY_ANNOTATION]: encodeEngineMemory(memory) } } };
    let stored: RolloutObject;
    try {
      stored = await this.api.patchNamespacedCustomObject(
        { group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, name: key.name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ) as RolloutObject;
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) throw new StateConflictError(key, expectedVersion, await this.versionNow(key));
      if (code === 404) throw new KubernetesStateError('RolloutNotFound', `rollout ${id(key)} not found: its status cannot be written`, { cause: error });
      throw new KubernetesStateError('MemoryWriteFailed', `the engine's memory (annotation ${ENGINE_MEMORY_ANNOTATION}) of rollout ${id(key)} was not written, so nothing of this pass was: ${(error as Error).message}`, { cause: error });
    }
    this.written.set(id(key), { object: stored, replacedVersion: replaced });
    return stored;
  }

  /** PUT of the status; a 409 becomes a conflict naming the version now stored. */
  private async writeStatus(key: ObjectKey, rollout: RolloutObject, status: RolloutStatusDoc, expectedVersion: number): Promise<RolloutObject> {
    const replaced = rollout.metadata?.resourceVersion;
    const body: RolloutObject = {
      apiVersion: this.apiVersion, kind: 'Rollout',
      metadata: { name: key.name, namespace: key.namespace, ...(replaced === undefined ? {} : { resourceVersion: replaced }) },
      spec: rollout.spec, status,
    };
    let stored: RolloutObject;
    try {
      stored = await this.api.replaceNamespacedCustomObjectStatus({ group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, name: key.name, body }) as RolloutObject;
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) throw new StateConflictError(key, expectedVersion, await this.versionNow(key));
      if (code === 404) throw new KubernetesStateError('RolloutNotFound', `rollout ${id(key)} not found: its status cannot be written`, { cause: error });
      const retryAfterMs = serverRetryAfterMs(error);
      const wait = retryAfterMs === undefined ? '' : ` (the server asked to retry after ${retryAfterMs} ms)`;
      throw new KubernetesStateError('StatusWriteFailed', `the status of rollout ${id(key)} was not written: ${(error as Error).message}${wait}`, { cause: error, retryAfterMs });
    }
    this.written.set(id(key), { object: stored, replacedVersion: replaced });
    return stored;
  }

  /** After a 409: the version stored now, read from the server (and kept, as the freshest copy known). */
  private async versionNow(key: ObjectKey): Promise<number> {
    try {
      const fresh = await this.api.getNamespacedCustomObject({ group: this.group, version: this.version, namespace: key.namespace, plural: PLURAL, name: key.name }) as RolloutObject;
      this.written.set(id(key), { object: fresh, replacedVersion: undefined });
      return this.versionOf(fresh);
    } catch {
      // The conflict stands either way; the informer will show what is there.
      return this.versionOf(this.rollouts.get(key.namespace, key.name));
    }
  }

  /**
   * The cache's copy, unless a write of ours is newer: the informer lags our writes, and a pass
   * right after a commit must not conflict with itself.
   */
  private freshest(key: ObjectKey): RolloutObject | undefined {
    const cached = this.rollouts.get(key.namespace, key.name);
    const mine = this.written.get(id(key));
    if (!mine) return cached;
    if (!cached) {
      if (this.rollouts.synced()) this.written.delete(id(key));
      return this.rollouts.synced() ? undefined : mine.object;
    }
    const cacheBehind = cached.metadata?.uid === mine.object.metadata?.uid
      && (this.versionOf(cached) < this.versionOf(mine.object)
        || (mine.replacedVersion !== undefined && cached.metadata?.resourceVersion === mine.replacedVersion));
    if (cacheBehind) return mine.object;
    this.written.delete(id(key));
    return cached;
  }

  private versionOf(rollout: RolloutObject | undefined): number {
    return memoryVersion(rollout, this.flavour);
  }

  private ownedReplicaSets(rollout: RolloutObject): V1ReplicaSet[] {
    const uid = rollout.metadata?.uid;
    if (uid === undefined) return [];
    return this.replicaSets.list({ namespace: rollout.metadata?.namespace, ownerUid: uid });
  }

  private involved(rollout: RolloutObject) {
    const meta = rollout.metadata ?? {};
    return { apiVersion: this.apiVersion, kind: 'Rollout', namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid, resourceVersion: meta.resourceVersion };
  }
}

function releasesUnsupported(key: ObjectKey): KubernetesStateError {
  return new KubernetesStateError('ReleasesUnsupported', `release ${id(key)}: this state adapter was made without the Releases' cache, so it keeps rollouts only`);
}
