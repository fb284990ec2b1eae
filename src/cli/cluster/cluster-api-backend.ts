/**
 * What `graylane dashboard` serves: the API server's {@link ApiBackend} answered from a cluster
 * instead of a daemon, so the same server and console work unchanged. Reads, history, analysis and
 * operations are the CLI's own against a cluster ({@link ClusterClient}), their `ApiError`s turned
 * into the controller's ControlPlaneErrors (the server's status codes and sentences come from
 * those). Live changes come from one informer per kind for the namespace (Rollouts, Releases,
 * their ReplicaSets and pods, and Events), which re-list on their own after watch errors: a
 * view is sent when it differs from the last one sent; an Event about a Rollout or Release is sent
 * once per occurrence. One namespace per dashboard. Files are applied with kubectl, and logs read
 * with it: no `apply`, no `logs`.
 */
import type { CoreV1Event, KubernetesObject, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ApiBackend } from '../../api/api-backend.js';
import { ApiError } from '../../api/client.js';
import type { AnalysisRunView, EventView, Operation, PlanView, RevisionView, ServiceView } from '../../api/contract/index.js';
import { ControlPlaneError, type ControlPlaneErrorCode, type OperateOptions } from '../../controller/control-plane.js';
import type { AnalysisTemplate } from '../../documents/schema.js';
import { planRollout } from '../../engine/index.js';
import { Informer, type InformerError } from '../../kube/informer.js';
import { GRAYLANE_API_VERSION } from '../../kube/names.js';
import { releaseStateOf, type ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { buildReleaseView } from '../../view/index.js';
import { planViewOf } from '../../view/plan-view.js';
import { DEFAULT_GUARD_PACING, planGuardOf, type GuardPacing } from '../commands/plan-guard.js';
import { ClusterClient } from './cluster-client.js';
import { clusterFailure, httpStatusOf } from './cluster-errors.js';
import { ClusterEventLog } from './cluster-event-log.js';
import { ClusterReader, ROLLOUTS } from './cluster-reader.js';
import type { ClusterTarget } from './cluster-target.js';
import { clusterRolloutView } from './cluster-view.js';

/** Options of {@link ClusterApiBackend.start}. */
export interface ClusterApiBackendOptions {
  /** The cluster and the one namespace served. */
  target: ClusterTarget;
  /** Clock, epoch ms (default `Date.now`). */
  nowMs?: (() => number) | undefined;
  /** The guard's pacing plans assume (default: the controller's defaults). */
  guardPacing?: GuardPacing | undefined;
  /** Told when a watch fails (it is retried); default: nothing. */
  onWatchError?: ((message: string) => void) | undefined;
}

/** Each listener of {@link ClusterApiBackend.subscribe}. */
type ChangeListener = (change: { event?: EventView; view?: ServiceView }) => void;

/** The client's error codes the controller has too; any other failure stays as it is (the server answers 500 with its sentence). */
const CONTROL_PLANE_CODES = new Set<ControlPlaneErrorCode>(['NotFound', 'InvalidOperation', 'Conflict', 'ValidationFailed']);

/** An `ApiError` of the cluster verbs as the controller would have thrown it. */
function asControlPlaneError(error: unknown): unknown {
  if (error instanceof ApiError && CONTROL_PLANE_CODES.has(error.code as ControlPlaneErrorCode)) {
    return new ControlPlaneError(error.code as ControlPlaneErrorCode, error.message, error.details);
  }
  return error;
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asControlPlaneError(error);
  }
}

const [GROUP, VERSION] = GRAYLANE_API_VERSION.split('/') as [string, string];

/** See the file comment. */
export class ClusterApiBackend implements ApiBackend {
  /** {@inheritDoc ApiBackend.place} */
  readonly place = 'kubernetes' as const;
  private readonly client: ClusterClient;
  private readonly reader: ClusterReader;
  private readonly now: () => number;
  private readonly namespace: string;
  private readonly rollouts: Informer<RolloutObject>;
  private readonly replicaSets: Informer<V1ReplicaSet>;
  private readonly pods: Informer<V1Pod>;
  private readonly kubeEvents: Informer<CoreV1Event>;
  private releases: Informer<ReleaseObject> | undefined;
  private readonly eventLog = new ClusterEventLog();
  private readonly listeners = new Set<ChangeListener>();
  private readonly sent = new Map<string, string>();
  private readonly unwatch: Array<() => void> = [];
  private refreshQueued = false;
  private stopped = false;

  private constructor(private readonly options: ClusterApiBackendOptions) {
    const { target } = options;
    this.now = options.nowMs ?? Date.now;
    this.namespace = target.namespace;
    this.client = new ClusterClient({ target, nowMs: this.now });
    this.reader = new ClusterReader(target);
    const onError = (error: InformerError) => options.onWatchError?.(error.message);
    const informer = <T extends KubernetesObject>(apiVersion: string, kind: string, plural: string) =>
      new Informer<T>({ kubeConfig: target.kubeConfig, apiVersion, kind, plural, namespace: target.namespace, onError });
    this.rollouts = informer<RolloutObject>(GRAYLANE_API_VERSION, 'Rollout', 'rollouts');
    this.replicaSets = informer<V1ReplicaSet>('apps/v1', 'ReplicaSet', 'replicasets');
    this.pods = informer<V1Pod>('v1', 'Pod', 'pods');
    this.kubeEvents = informer<CoreV1Event>('v1', 'Event', 'events');
  }

  /**
   * Reads the namespace once (an unreachable cluster fails here, as the CLI's verbs do), then
   * starts the watches and resolves once each has its first list.
   */
  static async start(options: ClusterApiBackendOptions): Promise<ClusterApiBackend> {
    const backend = new ClusterApiBackend(options);
    await backend.client.list();
    // Releases are optional: a cluster without graylane's Release CRD has none to watch.
    if (await backend.servesReleases()) backend.releases = new Informer<ReleaseObject>({
      kubeConfig: options.target.kubeConfig, apiVersion: GRAYLANE_API_VERSION, kind: 'Release', plural: 'releases', namespace: backend.namespace,
      onError: (error) => options.onWatchError?.(error.message),
    });
    const viewSources: Array<Informer<RolloutObject> | Informer<V1ReplicaSet> | Informer<V1Pod> | Informer<ReleaseObject>> = [backend.rollouts, backend.replicaSets, backend.pods];
    if (backend.releases) viewSources.push(backend.releases);
    for (const source of viewSources) backend.unwatch.push(source.onChange(() => backend.queueRefresh()));
    backend.unwatch.push(backend.kubeEvents.onChange(() => backend.takeEvents()));
    try {
      await Promise.all([...viewSources, backend.kubeEvents].map((i) => i.start()));
    } catch (error) {
      await backend.stop();
      throw error;
    }
    backend.takeEvents();
    backend.refresh();
    return backend;
  }

  /** Stops every watch; resolves when none is left running. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unwatch.splice(0)) off();
    this.listeners.clear();
    await Promise.all([this.rollouts, this.replicaSets, this.pods, this.kubeEvents, ...(this.releases ? [this.releases] : [])].map((i) => i.stop()));
  }

  /** {@inheritDoc ApiBackend.list} */
  list(): Promise<ServiceView[]> {
    return mapped(async () => {
      const views = await this.client.list();
      for (const release of this.releases?.list({ namespace: this.namespace }) ?? []) {
        const view = this.releaseView(release);
        if (view) views.push(view);
      }
      return views;
    });
  }

  /** {@inheritDoc ApiBackend.get} */
  get(name: string): Promise<ServiceView> {
    return mapped(async () => {
      try {
        return await this.client.get(name);
      } catch (error) {
        // A name no Rollout has may be a Release's.
        const release = this.releases?.get(this.namespace, name);
        const view = release && this.releaseView(release);
        if (error instanceof ApiError && error.code === 'NotFound' && view) return view;
        throw error;
      }
    });
  }

  /** {@inheritDoc ApiBackend.operate} */
  operate(name: string, operation: Operation, options: OperateOptions = {}): Promise<ServiceView> {
    return mapped(() => this.client.operate(name, operation, { expectedVersion: options.expectedVersion }));
  }

  /** {@inheritDoc ApiBackend.history} */
  history(name: string): Promise<RevisionView[]> {
    // A cluster's revisions show their images, no environment: nothing to mask or show.
    return mapped(() => this.client.history(name));
  }

  /** {@inheritDoc ApiBackend.analysis} */
  analysis(name: string): Promise<AnalysisRunView[]> {
    return mapped(() => this.client.analysis(name));
  }

  /** {@inheritDoc ApiBackend.events} */
  events(options: { service?: string; afterId?: number; limit?: number } = {}): EventView[] {
    return this.eventLog.events(options);
  }

  /** {@inheritDoc ApiBackend.subscribe} */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** {@inheritDoc ApiBackend.plan} */
  plan(name: string): Promise<PlanView> {
    return mapped(async () => {
      const view = await this.client.get(name);
      const rollout = await this.reader.rollout(name);
      const plan = planRollout({ spec: rollout.spec, templates: await this.templates(), guard: planGuardOf(rollout.spec, this.options.guardPacing ?? DEFAULT_GUARD_PACING) });
      return planViewOf(plan, { step: view.step, terminal: view.terminal });
    });
  }

  /** The namespace's AnalysisTemplates and the ClusterAnalysisTemplates; none where their CRDs are not installed. */
  private async templates(): Promise<AnalysisTemplate[]> {
    const read = async (plural: string, namespaced: boolean): Promise<AnalysisTemplate[]> => {
      try {
        const list: unknown = namespaced
          ? await this.reader.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace: this.namespace })
          : await this.reader.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural });
        return (list as { items?: AnalysisTemplate[] }).items ?? [];
      } catch (error) {
        if (httpStatusOf(error) === 404) return [];
        throw clusterFailure(error, this.options.target, `listing ${plural}`);
      }
    };
    const [own, cluster] = await Promise.all([read('analysistemplates', true), read('clusteranalysistemplates', false)]);
    return [...own, ...cluster];
  }

  private async servesReleases(): Promise<boolean> {
    try {
      await this.reader.custom.listNamespacedCustomObject({ ...ROLLOUTS, plural: 'releases', namespace: this.namespace, limit: 1 });
      return true;
    } catch (error) {
      if (httpStatusOf(error) === 404) return false;
      throw clusterFailure(error, this.options.target, `listing releases in namespace ${this.namespace}`);
    }
  }

  /** A Release's view from the watched copies; undefined while a member is not there yet. */
  private releaseView(release: ReleaseObject): ServiceView | undefined {
    const name = release.metadata?.name ?? '';
    const now = this.now();
    const members: ServiceView[] = [];
    for (const service of release.spec.services) {
      const rollout = this.rollouts.get(this.namespace, service);
      if (!rollout) return undefined;
      members.push(this.rolloutView(rollout, now));
    }
    // With pinning, the members' stable pin routes keep old pages on the old revisions through the skew window.
    return buildReleaseView({ name, namespace: this.namespace, steps: release.spec.strategy.canary?.steps?.length ?? 0, state: releaseStateOf(release), members, pinsOldPages: release.spec.pinning !== undefined });
  }

  private rolloutView(rollout: RolloutObject, nowMs: number): ServiceView {
    const replicaSets = this.replicaSets.list({ namespace: this.namespace, ownerUid: rollout.metadata?.uid ?? '' });
    return clusterRolloutView({ rollout, replicaSets, pods: this.pods.list({ namespace: this.namespace }) }, nowMs);
  }

  /** Many changes at once (a rollout step touches a Rollout, ReplicaSets and pods) make one pass. */
  private queueRefresh(): void {
    if (this.refreshQueued || this.stopped) return;
    this.refreshQueued = true;
    setImmediate(() => {
      this.refreshQueued = false;
      if (!this.stopped) this.refresh();
    });
  }

  /** Sends every view that differs from the one sent last. */
  private refresh(): void {
    const now = this.now();
    const views: ServiceView[] = this.rollouts.list({ namespace: this.namespace }).map((r) => this.rolloutView(r, now));
    for (const release of this.releases?.list({ namespace: this.namespace }) ?? []) {
      const view = this.releaseView(release);
      if (view) views.push(view);
    }
    for (const view of views) {
      const key = `${view.kind}/${view.name}`;
      const text = JSON.stringify(view);
      if (this.sent.get(key) === text) continue;
      this.sent.set(key, text);
      this.tell({ view });
    }
  }

  /** Takes the Events not seen yet into the log and sends them. */
  private takeEvents(): void {
    for (const event of this.eventLog.add(this.kubeEvents.list({ namespace: this.namespace }))) this.tell({ event });
  }

  private tell(change: { event?: EventView; view?: ServiceView }): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
