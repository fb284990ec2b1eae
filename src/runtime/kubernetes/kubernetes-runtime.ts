/**
 * The runtime port over Kubernetes: a revision's instances are the pods of one ReplicaSet
 * `<rollout>-<hash>`, owned by the Rollout. Reads come from informer caches only (a reconcile
 * pass never lists); writes go to the API server and come back through the caches.
 */
import type { ApiException, AppsV1Api, CoreV1Api, KubeConfig, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION } from '../../kube/names.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { serverRetryAfterMs } from '../../kube/retry-after.js';
import { ChangeEmitter } from '../change-emitter.js';
import { InstanceNotFoundError, RuntimeCapabilityError, RuntimeInputError } from '../errors.js';
import type {
  AdoptRecord, AdoptResult, EnsureInstancesRequest, InstanceChange, InstanceFilter, InstanceInfo, LogLine, ReadLogsRequest, Runtime,
  RuntimeCapabilities, StopInstanceRequest,
} from '../runtime.js';
import { ForeignReplicaSetError, KubernetesWriteError, ReplicaSetConflictError } from './kubernetes-errors.js';
import { availableAtMs, instanceOfPod, podInstanceId, type PodMemory, type PodOwner } from './pod-instance.js';
import {
  checkTemplate, controllingRollout, foreignReason, replicaSetBody, replicaSetName, type KubernetesRevisionTemplate,
} from './replica-set-body.js';

/**
 * An answer from the API server, matched by shape: the client is loaded on first use, and the
 * single-host daemon, whose runtime registry lists this adapter too, never loads it (~80 MB).
 */
function isApiException(error: unknown): error is ApiException<unknown> {
  return error instanceof Error && error.constructor.name === 'ApiException' && typeof (error as ApiException<unknown>).code === 'number';
}

/** Options of {@link KubernetesRuntime}. */
export interface KubernetesRuntimeOptions {
  /** Where to write. */
  kubeConfig: KubeConfig;
  /** The ReplicaSets of the watched namespaces (an informer's copy). */
  replicaSets: ObjectCache<V1ReplicaSet>;
  /** The pods of the watched namespaces (an informer's copy). */
  pods: ObjectCache<V1Pod>;
  /** The clock (epoch ms) that `minReadySeconds` is counted on; default `Date.now`. */
  nowMs?: () => number;
  /** Namespace of requests that name none (default: the kubeconfig context's, else `default`). */
  defaultNamespace?: string;
  /**
   * How long `ensureInstances` and `stopInstance` wait for the caches to show the pods the
   * ReplicaSet controller created or the pod deleted (default 10 000 ms). After it they return
   * what the caches show: the next reconcile pass sees the rest.
   */
  settleTimeoutMs?: number;
  /** The apiVersion of the Rollouts whose ReplicaSets these are (default graylane's; Argo's with `--argo-rollouts`). */
  rolloutApiVersion?: string;
}

/** Arguments of {@link KubernetesRuntime.removeRevision}. */
export interface RemoveRevisionRequest {
  /** The Rollout's namespace (default: the runtime's default namespace). */
  namespace?: string;
  /** The Rollout's name. */
  service: string;
  /** The retired revision (pod-template hash). */
  revision: string;
}

/** Arguments of {@link KubernetesRuntime.restartPods}. */
export interface RestartPodsRequest {
  /** The Rollout's namespace (default: the runtime's default namespace). */
  namespace?: string;
  /** The Rollout's name. */
  service: string;
  /** The Rollout's `spec.restartAt` (epoch ms): pods created before it are restarted. */
  before: number;
}

/** Outcome of one {@link KubernetesRuntime.restartPods} call. */
export interface RestartPodsResult {
  /** The instance deleted by this call, if one was. */
  restarted?: string;
  /** Whether pods created before `before` remain (call again on a later pass). */
  more: boolean;
}

interface OwnedSet {
  replicaSet: V1ReplicaSet;
  owner: PodOwner;
}

/** Delay before polling the caches again while waiting on them, when no change arrives. */
const SETTLE_POLL_MS = 200;

/** See the file comment. */
export class KubernetesRuntime implements Runtime<KubernetesRevisionTemplate> {
  /** The registry key. */
  readonly type = 'kubernetes';
  /** Pods are started and stopped (by the ReplicaSet controller); logs and adoption are not offered. */
  readonly capabilities: RuntimeCapabilities = { processes: true, logs: false, adopt: false };
  private clients: Promise<{ apps: AppsV1Api; core: CoreV1Api }> | undefined;
  private readonly nowMs: () => number;
  private readonly namespace: string;
  private readonly settleTimeoutMs: number;
  private readonly emitter = new ChangeEmitter();
  private readonly memory = new Map<string, PodMemory>();
  private readonly snapshots = new Map<string, InstanceInfo>();
  /** The instances last seen per ReplicaSet uid (instance id → pod uid): what a set's next look compares with. */
  private readonly members = new Map<string, Map<string, string>>();
  private readonly stopping = new Set<string>();
  private readonly availabilityTimers = new Map<string, NodeJS.Timeout>();
  /** ReplicaSets this runtime wrote, for `shutdown({ stopInstances: true })`. */
  private readonly written = new Map<string, { namespace: string; name: string }>();
  private readonly unsubscribe: Array<() => void>;
  /**
   * ReplicaSet names per `namespace/rollout`: a pass asks for one Rollout's instances several
   * times, and a namespace holds the ReplicaSets of hundreds. Built from the cache on first use,
   * then kept by its changes; a name is checked against the cache on every read.
   */
  private readonly setsByRollout = new Map<string, Set<string>>();
  private setsIndexed = false;

  /** The API clients, made on first use. */
  private api(): Promise<{ apps: AppsV1Api; core: CoreV1Api }> {
    this.clients ??= import('@kubernetes/client-node').then(({ AppsV1Api: Apps, CoreV1Api: Core }) => ({ apps: this.options.kubeConfig.makeApiClient(Apps), core: this.options.kubeConfig.makeApiClient(Core) }));
    return this.clients;
  }

  constructor(private readonly options: KubernetesRuntimeOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.namespace = options.defaultNamespace ?? options.kubeConfig.getContextObject(options.kubeConfig.getCurrentContext())?.namespace ?? 'default';
    this.settleTimeoutMs = options.settleTimeoutMs ?? 10_000;
    // A change touches one ReplicaSet's pods: look at that set only, so that a fleet of thousands
    // of Rollouts costs each change a handful of pods, not every pod of the cluster.
    this.unsubscribe = [
      options.pods.onChange(({ object }) => {
        const owner = object.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === 'ReplicaSet');
        if (owner && object.metadata?.namespace !== undefined) this.observeSet(object.metadata.namespace, owner.name, owner.uid);
      }),
      options.replicaSets.onChange(({ type, object }) => {
        if (this.setsIndexed) this.indexSet(object, type === 'deleted');
        const meta = object.metadata;
        if (meta?.namespace !== undefined && meta.name !== undefined && meta.uid !== undefined) this.observeSet(meta.namespace, meta.name, meta.uid);
      }),
    ];
  }

  /**
   * Creates the revision's ReplicaSet, or sets its replicas (and revision annotation) with its
   * resourceVersion; a 409 is re-read and retried once. A ReplicaSet is scaled to 0, never
   * deleted here (see {@link removeRevision}). The ReplicaSet controller picks which pods go on a
   * scale-down, so `beforeStop` and `drainMs` are not used: a terminating pod leaves its Service's
   * endpoints on its own. Resolves with the revision's instances once the caches show as many
   * pods as `replicas` (or after `settleTimeoutMs`, with what they show).
   */
  async ensureInstances(request: EnsureInstancesRequest<KubernetesRevisionTemplate>): Promise<InstanceInfo[]> {
    const { service, revision, template, replicas } = request;
    if (!Number.isInteger(replicas) || replicas < 0) throw new RuntimeInputError(`replicas must be a whole number from 0, not ${replicas}`);
    checkTemplate(template);
    const namespace = request.namespace ?? this.namespace;
    const name = replicaSetName(service, revision);
    const wanted = replicaSetBody({ namespace, service, revision, template, replicas });
    this.written.set(`${namespace}/${name}`, { namespace, name });
    let current = this.options.replicaSets.get(namespace, name);
    for (let attempt = 0; ; attempt += 1) {
      try {
        if (current === undefined) await (await this.api()).apps.createNamespacedReplicaSet({ namespace, body: wanted });
        else await this.update(current, wanted, template);
        break;
      } catch (error) {
        if (!(isApiException(error)) || error.code !== 409) throw this.writeError(error, `${current ? 'update' : 'create'} ReplicaSet ${namespace}/${name}`);
        if (attempt > 0) throw new ReplicaSetConflictError(`${namespace}/${name}`);
        // The cache lags (AlreadyExists) or another writer won (Conflict): read the truth once.
        current = await this.read(namespace, name);
      }
    }
    return this.settle(() => {
      if (this.options.replicaSets.get(namespace, name)?.spec?.replicas !== replicas) return undefined;
      const mine = this.listInstances({ namespace, service, revision }).filter((i) => i.state !== 'stopping');
      return mine.length === replicas ? mine : undefined;
    }, () => this.listInstances({ namespace, service, revision }).filter((i) => i.state !== 'stopping'));
  }

  /** One instance per pod of graylane's Rollouts' ReplicaSets, from the caches. */
  listInstances(filter: InstanceFilter = {}): InstanceInfo[] {
    const sets = this.ownedSets(filter);
    const now = this.nowMs();
    const out: InstanceInfo[] = [];
    for (const [uid, set] of sets) {
      for (const pod of this.options.pods.list({ namespace: set.replicaSet.metadata?.namespace, ownerUid: uid })) {
        if (pod.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid !== uid) continue;
        out.push(this.instanceOf(pod, set.owner, now));
      }
    }
    return out;
  }

  /**
   * Deletes the instance's pod after `beforeStop` and `drainMs`. The ReplicaSet recreates a pod
   * it still counts, so lower the revision's replicas first when the pod is not to come back
   * (deleting alone is a restart). Resolves once the caches no longer show the pod.
   */
  async stopInstance(request: StopInstanceRequest): Promise<void> {
    const instance = this.listInstances().find((i) => i.id === request.id);
    if (instance === undefined) throw new InstanceNotFoundError(request.id);
    const namespace = instance.namespace ?? this.namespace;
    const name = request.id.slice(namespace.length + 1);
    this.stopping.add(request.id);
    try {
      this.observe();
      if (request.beforeStop) {
        try {
          await request.beforeStop({ ...instance, state: 'stopping' });
        } catch {
          // The port's contract: a failed unroute is recorded, not fatal; the pod goes anyway.
        }
      }
      if (request.drainMs) await new Promise((r) => setTimeout(r, request.drainMs));
      try {
        await (await this.api()).core.deleteNamespacedPod({ namespace, name });
      } catch (error) {
        if (!(isApiException(error) && error.code === 404)) throw this.writeError(error, `delete Pod ${namespace}/${name}`);
      }
      await this.settle(() => (this.options.pods.get(namespace, name) === undefined ? true : undefined), () => false);
    } finally {
      this.stopping.delete(request.id);
    }
  }

  /** Not offered: pods outlive the controller and are found again in the caches. */
  adopt(_records: AdoptRecord[]): Promise<AdoptResult> {
    return Promise.reject(new RuntimeCapabilityError(this.type, 'adopt', 'pods outlive the controller and are read again from the cluster; there is nothing to re-attach'));
  }

  /** Not offered: `kubectl logs` reads a pod's output. */
  readLogs(_request: ReadLogsRequest): AsyncIterable<LogLine> {
    throw new RuntimeCapabilityError(this.type, 'read logs', 'the kubelet keeps pod output; use kubectl logs -l rollouts-pod-template-hash=<revision>');
  }

  /** Subscribes to instance changes, as the pod cache reports them. */
  on(event: 'change', listener: (change: InstanceChange) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Stops listening to the caches. With `stopInstances`, first scales every ReplicaSet this
   * runtime wrote to 0 and waits for their pods to go (pods otherwise outlive the controller).
   */
  async shutdown(options: { stopInstances: boolean }): Promise<void> {
    if (options.stopInstances) {
      for (const { namespace, name } of this.written.values()) await this.scaleToZero(namespace, name);
      const uids = [...this.written.values()].flatMap(({ namespace, name }) => this.options.replicaSets.get(namespace, name)?.metadata?.uid ?? []);
      await this.settle(() => (uids.every((uid) => this.options.pods.list({ ownerUid: uid }).length === 0) ? true : undefined), () => false);
    }
    for (const off of this.unsubscribe) off();
    for (const timer of this.availabilityTimers.values()) clearTimeout(timer);
    this.availabilityTimers.clear();
  }

  /**
   * Deletes a retired revision's ReplicaSet (for `revisionHistoryLimit`); its pods go with it.
   * Only a ReplicaSet of this Rollout already scaled to 0; an absent one is already removed.
   */
  async removeRevision(request: RemoveRevisionRequest): Promise<void> {
    const namespace = request.namespace ?? this.namespace;
    const name = replicaSetName(request.service, request.revision);
    const current = this.options.replicaSets.get(namespace, name);
    if (current === undefined) return;
    const rollout = controllingRollout(current, this.options.rolloutApiVersion);
    if (rollout?.name !== request.service) {
      throw new ForeignReplicaSetError(`${namespace}/${name}`, `is not controlled by Rollout ${request.service}, so it is not removed`);
    }
    if ((current.spec?.replicas ?? 1) !== 0) {
      throw new RuntimeInputError(`ReplicaSet ${namespace}/${name} still wants ${current.spec?.replicas ?? 1} pods; scale revision ${request.revision} to 0 before removing it`);
    }
    try {
      await (await this.api()).apps.deleteNamespacedReplicaSet({ namespace, name, propagationPolicy: 'Background' });
    } catch (error) {
      if (!(isApiException(error) && error.code === 404)) throw this.writeError(error, `delete ReplicaSet ${namespace}/${name}`);
    }
    this.written.delete(`${namespace}/${name}`);
  }

  /**
   * One step of a restart (`spec.restartAt`), as Argo Rollouts does it: deletes one pod created
   * before `before`, and only while every other pod of its revision is ready, so capacity never
   * drops by more than one; its ReplicaSet recreates it. Call again on later passes while `more`.
   * Resolves once the caches no longer show the deleted pod. Pod creation times have second
   * precision: a pod created in the same second as `before` may count as older.
   */
  async restartPods(request: RestartPodsRequest): Promise<RestartPodsResult> {
    const namespace = request.namespace ?? this.namespace;
    const all = this.listInstances({ namespace, service: request.service });
    const pods = new Map(this.options.pods.list({ namespace }).map((p) => [podInstanceId(namespace, p.metadata?.name ?? ''), p]));
    const createdMs = (id: string): number => {
      const created = pods.get(id)?.metadata?.creationTimestamp;
      return created === undefined ? Number.POSITIVE_INFINITY : new Date(created).getTime();
    };
    const old = all.filter((i) => i.state !== 'stopping' && createdMs(i.id) < request.before);
    if (old.length === 0) return { more: false };
    const candidate = old.find((i) => all.every((o) => o.id === i.id || o.revision !== i.revision || o.state === 'ready'));
    if (candidate === undefined) return { more: true };
    const name = candidate.id.slice(namespace.length + 1);
    try {
      await (await this.api()).core.deleteNamespacedPod({ namespace, name });
    } catch (error) {
      if (!(isApiException(error) && error.code === 404)) throw this.writeError(error, `delete Pod ${namespace}/${name} to restart it`);
    }
    // Until the cache drops it, the deleted pod would read as old and ready on the next call.
    await this.settle(() => (this.options.pods.get(namespace, name) === undefined ? true : undefined), () => false);
    return { restarted: candidate.id, more: old.length > 1 };
  }

  // -----------------------------------------------------------------------------------------------

  /** Updates replicas, minReadySeconds and the revision annotation of this Rollout's ReplicaSet. */
  private async update(current: V1ReplicaSet, wanted: V1ReplicaSet, template: KubernetesRevisionTemplate): Promise<void> {
    const namespace = wanted.metadata!.namespace!;
    const name = wanted.metadata!.name!;
    const reason = foreignReason(current, wanted, template.owner);
    if (reason !== undefined) throw new ForeignReplicaSetError(`${namespace}/${name}`, reason);
    const annotation = String(template.revisionNumber);
    const minReady = template.minReadySeconds ?? current.spec?.minReadySeconds;
    if (current.spec?.replicas === wanted.spec?.replicas && current.metadata?.annotations?.[REVISION_ANNOTATION] === annotation
      && current.spec?.minReadySeconds === minReady) return;
    await (await this.api()).apps.replaceNamespacedReplicaSet({
      namespace,
      name,
      body: {
        ...current,
        metadata: { ...current.metadata, annotations: { ...current.metadata?.annotations, [REVISION_ANNOTATION]: annotation } },
        spec: { ...current.spec!, replicas: wanted.spec!.replicas!, ...(minReady === undefined ? {} : { minReadySeconds: minReady }) },
      },
    });
  }

  /**
   * Scales a ReplicaSet to 0 from a fresh read. No reconcile pass follows a shutdown to try
   * again, so a 409 (the ReplicaSet controller writing its status meanwhile) is retried twice.
   */
  private async scaleToZero(namespace: string, name: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const current = await this.read(namespace, name);
      if (current === undefined || current.spec?.replicas === 0) return;
      try {
        await (await this.api()).apps.replaceNamespacedReplicaSet({ namespace, name, body: { ...current, spec: { ...current.spec!, replicas: 0 } } });
        return;
      } catch (error) {
        if (isApiException(error) && error.code === 404) return;
        if (!(isApiException(error) && error.code === 409)) throw this.writeError(error, `scale ReplicaSet ${namespace}/${name} to 0`);
        if (attempt >= 2) throw new ReplicaSetConflictError(`${namespace}/${name}`);
      }
    }
  }

  private async read(namespace: string, name: string): Promise<V1ReplicaSet | undefined> {
    try {
      return await (await this.api()).apps.readNamespacedReplicaSet({ namespace, name });
    } catch (error) {
      if (isApiException(error) && error.code === 404) return undefined;
      throw this.writeError(error, `read ReplicaSet ${namespace}/${name}`);
    }
  }

  private writeError(error: unknown, operation: string): Error {
    if (!(isApiException(error))) return error instanceof Error ? error : new Error(String(error));
    const code = (error).code;
    const body: unknown = (error).body;
    let detail = typeof body === 'string' ? body : JSON.stringify(body);
    try {
      const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
      if (typeof status.message === 'string') detail = status.message;
    } catch {
      // Not a Status object: the raw body is the best detail there is.
    }
    return new KubernetesWriteError(operation, code, detail, { cause: error, retryAfterMs: serverRetryAfterMs(error) });
  }

  /** graylane's Rollouts' ReplicaSets matching `filter`, by uid. */
  private ownedSets(filter: InstanceFilter): Map<string, OwnedSet> {
    const sets = new Map<string, OwnedSet>();
    if (filter.namespace !== undefined && filter.service !== undefined) {
      // By the index, not by name: a ReplicaSet adopted from Argo Rollouts keeps Argo's name.
      for (const name of this.setNamesOf(filter.namespace, filter.service)) {
        const rs = this.options.replicaSets.get(filter.namespace, name);
        const set = rs === undefined ? undefined : this.ownedSet(rs);
        if (set === undefined || set.owner.service !== filter.service || (filter.revision !== undefined && set.owner.revision !== filter.revision)) continue;
        sets.set(rs!.metadata!.uid!, set);
      }
      return sets;
    }
    const labels = filter.revision === undefined ? undefined : { [POD_TEMPLATE_HASH_LABEL]: filter.revision };
    for (const rs of this.options.replicaSets.list({ namespace: filter.namespace, labels })) {
      const set = this.ownedSet(rs);
      if (set === undefined || (filter.service !== undefined && set.owner.service !== filter.service)) continue;
      sets.set(rs.metadata!.uid!, set);
    }
    return sets;
  }

  private instanceOf(pod: V1Pod, owner: PodOwner, nowMs: number): InstanceInfo {
    const uid = pod.metadata?.uid ?? '';
    let memory = this.memory.get(uid);
    if (memory === undefined) this.memory.set(uid, (memory = {}));
    const id = podInstanceId(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '');
    return instanceOfPod({ pod, owner, memory, nowMs, stopping: this.stopping.has(id) });
  }

  /** Every ReplicaSet of graylane's Rollouts, looked at again (after a stop: see stopInstance). */
  private observe(): void {
    const current = new Set<string>();
    for (const [uid, set] of this.ownedSets({})) {
      current.add(uid);
      this.observeSet(set.replicaSet.metadata?.namespace ?? '', set.replicaSet.metadata?.name ?? '', uid);
    }
    for (const uid of [...this.members.keys()]) if (!current.has(uid)) this.observeSet('', '', uid);
  }

  /**
   * Compares the instances of one ReplicaSet (by uid) with their last snapshots and emits the
   * differences, `stopped` for pods gone; schedules a look at the moment a ready pod completes
   * `minReadySeconds`, which no cache change announces.
   */
  private observeSet(namespace: string, name: string, uid: string): void {
    const now = this.nowMs();
    const rs = name === '' ? undefined : this.options.replicaSets.get(namespace, name);
    const set = rs?.metadata?.uid === uid ? this.ownedSet(rs) : undefined;
    const before = this.members.get(uid) ?? new Map<string, string>();
    const seen = new Map<string, string>();
    if (set) {
      for (const pod of this.options.pods.list({ namespace, ownerUid: uid })) {
        if (pod.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid !== uid) continue;
        const info = this.instanceOf(pod, set.owner, now);
        seen.set(info.id, pod.metadata?.uid ?? '');
        const previous = this.snapshots.get(info.id);
        this.snapshots.set(info.id, info);
        if (previous === undefined || previous.state !== info.state || previous.address !== info.address || previous.restarts !== info.restarts || previous.lastError !== info.lastError) {
          this.emitter.emit({ instance: info, previousState: previous?.state ?? 'starting' });
        }
        this.scheduleAvailability(info.id, pod, set.owner.minReadySeconds, now, info.state, { namespace, name, uid });
      }
    }
    for (const [id, podUid] of before) {
      if (seen.has(id)) continue;
      const previous = this.snapshots.get(id);
      this.snapshots.delete(id);
      this.memory.delete(podUid);
      if (previous) this.emitter.emit({ instance: { ...previous, state: 'stopped' }, previousState: previous.state });
    }
    if (seen.size === 0) this.members.delete(uid);
    else this.members.set(uid, seen);
  }

  /** The names of `service`'s ReplicaSets in `namespace`, from the index (built on first use). */
  private setNamesOf(namespace: string, service: string): Iterable<string> {
    if (!this.setsIndexed) {
      this.setsIndexed = true;
      for (const rs of this.options.replicaSets.list()) this.indexSet(rs, false);
    }
    return this.setsByRollout.get(`${namespace}/${service}`) ?? [];
  }

  private indexSet(rs: V1ReplicaSet, deleted: boolean): void {
    const set = this.ownedSet(rs);
    const name = rs.metadata?.name;
    if (set === undefined || name === undefined) return;
    const key = `${rs.metadata?.namespace ?? ''}/${set.owner.service}`;
    let names = this.setsByRollout.get(key);
    if (deleted) {
      names?.delete(name);
      if (names?.size === 0) this.setsByRollout.delete(key);
      return;
    }
    if (names === undefined) this.setsByRollout.set(key, (names = new Set()));
    names.add(name);
  }

  /** A ReplicaSet as one of graylane's Rollouts' revisions, or undefined when it is not one. */
  private ownedSet(rs: V1ReplicaSet): OwnedSet | undefined {
    const rollout = controllingRollout(rs, this.options.rolloutApiVersion);
    const revision = rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (rollout === undefined || revision === undefined || rs.metadata?.uid === undefined) return undefined;
    return { replicaSet: rs, owner: { service: rollout.name, revision, minReadySeconds: rs.spec?.minReadySeconds ?? 0 } };
  }

  private scheduleAvailability(id: string, pod: V1Pod, minReadySeconds: number, now: number, state: InstanceInfo['state'], set: { namespace: string; name: string; uid: string }): void {
    const at = availableAtMs(pod, minReadySeconds);
    if (state === 'ready' || state === 'stopping' || at === undefined || at <= now || this.availabilityTimers.has(id)) return;
    const timer = setTimeout(() => {
      this.availabilityTimers.delete(id);
      this.observeSet(set.namespace, set.name, set.uid);
    }, at - now + 5);
    timer.unref();
    this.availabilityTimers.set(id, timer);
  }

  /** Resolves with `done()`'s value once defined (checked on each cache change), else `fallback()` after the timeout. */
  private settle<T>(done: () => T | undefined, fallback: () => T): Promise<T> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const value = done();
        if (value === undefined) return false;
        finish(value);
        return true;
      };
      const finish = (value: T): void => {
        offPods();
        offSets();
        clearTimeout(timer);
        clearInterval(poll);
        resolve(value);
      };
      const offPods = this.options.pods.onChange(() => void check());
      const offSets = this.options.replicaSets.onChange(() => void check());
      const poll = setInterval(() => void check(), SETTLE_POLL_MS);
      const timer = setTimeout(() => finish(fallback()), this.settleTimeoutMs);
      check();
    });
  }
}
