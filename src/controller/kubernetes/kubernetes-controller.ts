/**
 * The Kubernetes composition root: everything `graylane controller` runs, built from one options
 * object. Informers copy graylane Rollouts, ReplicaSets, Pods, Services and Deployments; the
 * core's reconciler works through the Kubernetes runtime (ReplicaSets and their pods), the
 * Kubernetes state (the Rollout's status), the Service-selector traffic provider and an event
 * sink posting core/v1 Events; the loop (controller-loop.ts) feeds the work queue from the caches
 * and serves the probes and `/metrics`; rollout-pass.ts is one pass.
 *
 * Leader election (optional): the servers and informers run on every replica, and a standby's
 * `/readyz` is ready once its caches have listed (see health-server.ts); only the leader's queue
 * takes work, and only after its caches have listed. A leader that loses its Lease stops its
 * queue (passes in flight finish; none starts) before the Lease can expire for anyone else (the
 * elector steps down at `renewDeadlineMs`, below `leaseDurationMs`), and does not lead again:
 * {@link KubernetesController.done} resolves `lease-lost` and `graylane controller` exits 1, as
 * Argo Rollouts' controller exits, so that the pod restarts as a fresh candidate.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ApisApi, AppsV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1Deployment, type V1Ingress, type V1Pod, type V1ReplicaSet, type V1Service } from '@kubernetes/client-node';
import { EventRecorder } from '../../kube/event-recorder.js';
import { Informer, type InformerBackoff } from '../../kube/informer.js';
import { limitRequestTime, requestTimeoutOf } from '../../kube/request-timeout.js';
import { retryStaleConnections } from '../../kube/stale-connection-retry.js';
import { LeaderElector } from '../../kube/leader-election.js';
import { rolloutApiVersion } from '../../kube/rollout-flavour.js';
import { GRAYLANE_API_VERSION } from '../../kube/names.js';
import { registerJobProvider } from '../../metrics/job/job-provider.js';
import { registerPrometheusBuiltin } from '../../metrics/prometheus/prometheus-counters.js';
import { createDefaultProviderRegistry } from '../../metrics/registry.js';
import type { MetricProviderRegistry } from '../../metrics/provider.js';
import { KubernetesRuntime } from '../../runtime/kubernetes/kubernetes-runtime.js';
import { KubernetesState, type RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { GatewayApiTrafficProvider, type GatewayRouteObject } from '../../traffic/gateway-api/gateway-api-provider.js';
import { IstioTrafficProvider, type IstioObject } from '../../traffic/istio/istio-provider.js';
import { NginxTrafficProvider } from '../../traffic/nginx/nginx-provider.js';
import { validationRegistry } from '../../traffic/registry.js';
import { ServiceSelectorTrafficProvider } from '../../traffic/service-selector/service-selector-provider.js';
import type { RolloutStatus, TrafficInForce } from '../../engine/index.js';
import { Reconciler } from '../core/reconciler.js';
import { queueKey } from '../core/work-queue.js';
import { ControllerLoop, ControllerStartedError, type ControllerLog } from './controller-loop.js';

export type { ControllerLog, LogLevel } from './controller-loop.js';
import { invalidSpecAwareState } from './invalid-spec-state.js';
import type { AnalysisRunObject } from './analysis-run-object.js';
import { KubernetesAnalysis, type AnalysisTemplateObject } from './kubernetes-analysis.js';
import { KubernetesEventSink, noCounters } from './kubernetes-ports.js';
import { KubernetesTraffic } from './kubernetes-traffic.js';
import { RolloutPass } from './rollout-pass.js';
import type { RevisionTemplate } from './rollout-spec-source.js';
import { ClusterReleases } from './cluster-releases.js';
import { memberSpecOf, servedCache } from './release-wiring.js';
import { memberStatus, releasePinOf, releaseTrafficOf } from './release-pins.js';
import type { ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import { ClusterNotifications, type ClusterNotificationsOptions } from './cluster-notifications.js';
import { notifyingEventSink } from '../../notify/event-feed.js';
import { KubernetesGuard } from './kubernetes-guard.js';
import { clusterCounters } from './cluster-counters.js';
import type { PrometheusCounters } from '../../metrics/prometheus/prometheus-counters.js';

/** The Lease the controllers of one installation compete for. */
export const LEASE_NAME = 'graylane-controller';

/** Leader election settings. */
export interface LeaderElectionSettings {
  /** Namespace of the Lease (the controller's own: POD_NAMESPACE, else the context's). */
  namespace: string;
  /** Name of the Lease ({@link LEASE_NAME}). */
  name: string;
  /** This replica's name among candidates ({@link defaultIdentity}). */
  identity: string;
  /** Lease timing; client-go's defaults (15 s, 10 s, 2 s) when absent. */
  durations?: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number } | undefined;
}

/** Options of {@link KubernetesController}. */
export interface KubernetesControllerOptions {
  /** The cluster. */
  kubeConfig: KubeConfig;
  /** The one namespace watched; undefined: every namespace. */
  namespace: string | undefined;
  /** Rollouts reconciled at once. */
  workers: number;
  /** Take a Lease before reconciling; absent: this controller is the only one. */
  leaderElection?: LeaderElectionSettings | undefined;
  /** `host:port` of `/healthz` and `/readyz`. */
  healthAddr: string;
  /** `host:port` of `/metrics`. */
  metricsAddr: string;
  /** Structured log. */
  log: ControllerLog;
  /** Clock, epoch ms (default `Date.now`). */
  nowMs?: (() => number) | undefined;
  /** Informers' retry pacing (tests shorten it). */
  informerBackoff?: InformerBackoff | undefined;
  /**
   * Reconcile Argo Rollouts' `argoproj.io/v1alpha1` Rollouts instead of graylane's, in place of
   * Argo's controller (`graylane controller --argo-rollouts`): specs through the Argo import, Argo's
   * ReplicaSets adopted by template equality, the status in Argo's shape.
   */
  argoRollouts?: boolean | undefined;
  /** Where the notification receivers' ConfigMap is (cluster-notifications.ts); absent: no notifications. */
  notifications?: Omit<ClusterNotificationsOptions, 'kubeConfig' | 'log'> | undefined;
  /**
   * The metric providers analysis runs measure with (default prometheus, web and command; never
   * builtin, whose router does not run on Kubernetes). The root's caller may register more.
   */
  metricProviders?: MetricProviderRegistry | undefined;
  /** The guard's Prometheus (`--prometheus-url`); without it only Rollouts naming their own may use the guard. */
  prometheusUrl?: string | undefined;
  /** The guard's tick (`--guard-interval`); default 5 s. */
  guardIntervalMs?: number | undefined;
  /** How long one request to the API server may wait for its answer (`--request-timeout`); default 60 s, the API server's own. */
  requestTimeoutMs?: number | undefined;
  /** A reconcile pass running this long is logged as a warning (default 30 s). */
  slowPassWarnMs?: number | undefined;
}

/** How a controller ended: stopped when asked, or it lost its Lease. */
export type ControllerEnd = 'stopped' | 'lease-lost';

/** This replica's identity: POD_NAME (the downward API), else the host name and a random suffix. */
export function defaultIdentity(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const pod = env.POD_NAME;
  return pod !== undefined && pod !== '' ? pod : `${hostname()}-${randomBytes(4).toString('hex')}`;
}

/** See the file comment. */
export class KubernetesController {
  private readonly informers: {
    rollouts: Informer<RolloutObject>; replicaSets: Informer<V1ReplicaSet>; pods: Informer<V1Pod>; services: Informer<V1Service>; deployments: Informer<V1Deployment>;
    ingresses: Informer<V1Ingress>;
  };
  /** Informers of optional APIs (Istio, Gateway API), started only when the cluster serves them. */
  private readonly optionalInformers: {
    virtualServices: Informer<IstioObject>; destinationRules: Informer<IstioObject>; httpRoutes: Informer<GatewayRouteObject>; grpcRoutes: Informer<GatewayRouteObject>;
    analysisRuns: Informer<AnalysisRunObject>; analysisTemplates: Informer<AnalysisTemplateObject>; clusterAnalysisTemplates: Informer<AnalysisTemplateObject>;
  };
  private readonly analysis: KubernetesAnalysis;
  private readonly loop: ControllerLoop;
  private readonly runtime: KubernetesRuntime;
  private readonly reconciler: Reconciler;
  private readonly elector: LeaderElector | undefined;
  private readonly recorder: EventRecorder;
  private readonly pass: RolloutPass;
  private readonly guard: KubernetesGuard;
  /** A revision's counters from Prometheus: the guard's, and the `builtin` metric provider's on the cluster. */
  readonly counters: PrometheusCounters;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly notifications: ClusterNotifications | undefined;
  private phase: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  /** Optional APIs this cluster serves, found at start. */
  private readonly served = new Set<'istio' | 'gateway-api' | 'grpc-routes' | 'releases' | 'analysis'>();
  /** Releases (graylane.dev), where the cluster serves their CRD. */
  private readonly releases: ClusterReleases;
  private readonly releaseInformer: Informer<ReleaseObject>;
  private ended: (end: ControllerEnd) => void = () => undefined;
  /** Resolves once the controller ended: `stopped` after {@link stop}, `lease-lost` when its Lease was lost. */
  readonly done: Promise<ControllerEnd>;
  /** API requests sent a second time after a reset of their kept connection. */
  private requestsRetried = 0;

  constructor(private readonly options: KubernetesControllerOptions) {
    const { kubeConfig, namespace, log } = options;
    limitRequestTime(kubeConfig, { requestTimeoutMs: options.requestTimeoutMs });
    retryStaleConnections(kubeConfig, {
      onRetry: ({ method, url }) => {
        this.requestsRetried += 1;
        log('debug', 'request sent again: the API server closed its kept connection as it went out', { method, url });
      },
    });
    const nowMs = options.nowMs ?? Date.now;
    const flavour = options.argoRollouts === true ? 'argo' : 'graylane';
    const apiVersion = rolloutApiVersion(flavour);
    const informer = <T extends KubernetesObject>(apiVersion: string, kind: string, plural: string, scope: 'namespaced' | 'cluster' = 'namespaced'): Informer<T> =>
      new Informer({
        kubeConfig, apiVersion, kind, plural, namespace: scope === 'cluster' ? undefined : namespace, backoff: options.informerBackoff,
        onError: (error) => log('warn', 'informer', { kind, code: error.code, error: error.message, retryInMs: error.retryInMs }),
      });
    this.informers = {
      rollouts: informer<RolloutObject>(apiVersion, 'Rollout', 'rollouts'),
      replicaSets: informer<V1ReplicaSet>('apps/v1', 'ReplicaSet', 'replicasets'),
      pods: informer<V1Pod>('v1', 'Pod', 'pods'),
      services: informer<V1Service>('v1', 'Service', 'services'),
      deployments: informer<V1Deployment>('apps/v1', 'Deployment', 'deployments'),
      ingresses: informer<V1Ingress>('networking.k8s.io/v1', 'Ingress', 'ingresses'),
    };
    this.optionalInformers = {
      virtualServices: informer<IstioObject>('networking.istio.io/v1', 'VirtualService', 'virtualservices'),
      destinationRules: informer<IstioObject>('networking.istio.io/v1', 'DestinationRule', 'destinationrules'),
      httpRoutes: informer<GatewayRouteObject>('gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes'),
      grpcRoutes: informer<GatewayRouteObject>('gateway.networking.k8s.io/v1', 'GRPCRoute', 'grpcroutes'),
      // Analysis in the Rollouts' own group: Argo's AnalysisRuns and templates for Argo's Rollouts.
      analysisRuns: informer<AnalysisRunObject>(apiVersion, 'AnalysisRun', 'analysisruns'),
      analysisTemplates: informer<AnalysisTemplateObject>(apiVersion, 'AnalysisTemplate', 'analysistemplates'),
      clusterAnalysisTemplates: informer<AnalysisTemplateObject>(apiVersion, 'ClusterAnalysisTemplate', 'clusteranalysistemplates', 'cluster'),
    };
    const { rollouts, replicaSets, pods, services, deployments, ingresses } = this.informers;
    const { virtualServices, destinationRules, httpRoutes, grpcRoutes, analysisRuns, analysisTemplates, clusterAnalysisTemplates } = this.optionalInformers;
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const recorder = (this.recorder = new EventRecorder({ kubeConfig, nowMs, log: (line) => log('warn', line) }));
    // Releases where served only: a cache never listed would read as "no Release" (release-wiring.ts).
    const releaseInformer = (this.releaseInformer = informer<ReleaseObject>(GRAYLANE_API_VERSION, 'Release', 'releases'));
    const releaseCache = servedCache(releaseInformer, () => this.served.has('releases'));
    // A member's routes under its release's rules (release-pins.ts); `own` stands for the member's own status when it is about to change.
    const routedTraffic = (namespace: string, service: string, traffic: TrafficInForce, own?: RolloutStatus): TrafficInForce => releaseTrafficOf({
      releases: releaseCache, namespace, service, traffic, nowMs: nowMs(),
      statusOf: (member) => (member === service && own !== undefined ? own : memberStatus(rollouts.get(namespace, member), flavour)),
    });
    const state = new KubernetesState({
      kubeConfig, flavour, rollouts, replicaSets, nowMs, events: recorder, releases: releaseCache,
      routedTraffic: ({ key, traffic, status }) => routedTraffic(key.namespace, key.name, traffic, status),
    });
    this.runtime = new KubernetesRuntime({ kubeConfig, replicaSets, pods, nowMs, rolloutApiVersion: apiVersion, ...(namespace === undefined ? {} : { defaultNamespace: namespace }) });
    const serviceSelector = new ServiceSelectorTrafficProvider({ kubeConfig, services, pods });
    const nginx = new NginxTrafficProvider({
      kubeConfig, ingresses,
      ownerOf: ({ namespace, service }) => {
        const r = rollouts.get(namespace, service);
        return r?.metadata?.uid === undefined ? undefined : { apiVersion, kind: 'Rollout', name: service, uid: r.metadata.uid, controller: true, blockOwnerDeletion: true };
      },
    });
    const istio = new IstioTrafficProvider({ kubeConfig, virtualServices, destinationRules });
    // GRPCRoutes only where served: a cache never listed would read as "none" (the provider says a route is missing).
    const gatewayApi = new GatewayApiTrafficProvider({ kubeConfig, httpRoutes, grpcRoutes: { get: (n, name) => (this.served.has('grpc-routes') ? grpcRoutes.get(n, name) : undefined), list: (q) => (this.served.has('grpc-routes') ? grpcRoutes.list(q) : []), onChange: (l) => grpcRoutes.onChange(l), synced: () => !this.served.has('grpc-routes') || grpcRoutes.synced() } });
    const trafficRegistry = validationRegistry([serviceSelector, nginx, istio, gatewayApi]);
    const traffic = new KubernetesTraffic({
      services: serviceSelector,
      registry: trafficRegistry,
      served: (type) => (type === istio.type ? this.served.has('istio') : type === gatewayApi.type ? this.served.has('gateway-api') : true),
      pinOf: (namespace, service) => releasePinOf(releaseCache, namespace, service, nowMs()),
      releaseTrafficOf: (namespace, service, traffic) => routedTraffic(namespace, service, traffic),
    });
    this.loop = new ControllerLoop({
      caches: { rollouts, replicaSets, deployments, pods, services },
      apps,
      requestsRetried: () => this.requestsRetried,
      informerFigures: () => Object.values(this.informers).map((i, n) => {
        const f = i.figures();
        return { kind: ['Rollout', 'ReplicaSet', 'Pod', 'Service', 'Deployment', 'Ingress'][n]!, objects: f.objects, synced: i.synced(), lists: f.lists, watchRestarts: f.watchRestarts };
      }),
      reconcile: (key) => this.pass.run(key),
      workers: options.workers,
      healthAddr: options.healthAddr,
      metricsAddr: options.metricsAddr,
      log,
      leaderElection: true,
      flavour,
      slowPassWarnMs: options.slowPassWarnMs,
      requestTimeoutMs: requestTimeoutOf(kubeConfig),
      memberSpec: memberSpecOf({ releases: releaseCache, registry: trafficRegistry, analysisServed: () => this.served.has('analysis') }),
    });
    const notifications = (this.notifications = options.notifications && new ClusterNotifications({ kubeConfig, log, ...options.notifications }));
    notifications?.register(this.loop.controllerMetrics.registry);
    const sink = new KubernetesEventSink({ recorder, rollouts, log, flavour });
    const requeue = (key: { namespace: string; name: string }, afterMs = 0): void => this.loop.requeue(queueKey(key), afterMs);
    // Ours unless the caller brought its own: the job provider, and builtin answered by Prometheus (registered once the counters exist, below).
    const providers = options.metricProviders ?? registerJobProvider(createDefaultProviderRegistry(), { kubeConfig });
    this.analysis = new KubernetesAnalysis({
      kubeConfig, flavour, runs: analysisRuns, templates: analysisTemplates, clusterTemplates: clusterAnalysisTemplates, rollouts,
      providers, events: sink, log, onPhase: (key) => requeue(key),
      podTemplateOf: (key, revision) => {
        const check = this.loop.specs.check(key);
        const template = check.state === 'valid' ? check.desired.revisions.find((r) => r.name === revision)?.template : undefined;
        return (template as RevisionTemplate | undefined)?.podTemplate;
      },
      historyLimits: (key) => {
        const check = this.loop.specs.check(key);
        const limits = check.state === 'valid' ? check.desired.spec.analysis : undefined;
        return { successful: limits?.successfulRunHistoryLimit ?? 5, unsuccessful: limits?.unsuccessfulRunHistoryLimit ?? 5 };
      },
    });
    this.reconciler = new Reconciler({
      state: invalidSpecAwareState(state, rollouts), specs: this.loop.specs, runtime: this.runtime, traffic,
      analysis: this.analysis, counters: noCounters, events: notifications ? notifyingEventSink(sink, notifications.feed) : sink,
      nowMs, requeue: (key, afterMs) => requeue(key, afterMs),
    });
    this.pass = new RolloutPass({
      kubeConfig, apps, specs: this.loop.specs, state, reconciler: this.reconciler, traffic, runtime: this.runtime,
      rollouts, services, deployments, requeue, nowMs, log, flavour, analysisServed: () => this.served.has('analysis'), prometheusUrl: options.prometheusUrl,
    });
    this.releases = new ClusterReleases({
      releases: releaseCache, rollouts, flavour, state, reconciler: this.reconciler, requeue, leading: () => this.loop.isLeading, recorder, log, nowMs, kubeConfig,
      onEvent: notifications ? (key, event) => notifications.feed.event(key, event) : undefined,
      analysis: this.analysis,
    });
    ({ counters: this.counters, guard: this.guard } = clusterCounters({
      rollouts, specs: this.loop.specs, state, reconciler: this.reconciler, emit: (key, event) => sink.emit(key, event),
      requeue: (key) => requeue(key), log, nowMs, prometheusUrl: options.prometheusUrl, guardIntervalMs: options.guardIntervalMs,
    }));
    if (!options.metricProviders && options.prometheusUrl !== undefined) registerPrometheusBuiltin(providers, this.counters);
    this.unsubscribe.push(rollouts.onChange((c) => {
      if (c.type === 'deleted') this.pass.rolloutDeleted(c.object);
      if (c.type === 'deleted') this.analysis.rolloutDeleted({ namespace: c.object.metadata?.namespace ?? '', name: c.object.metadata?.name ?? '' });
    }));
    const le = options.leaderElection;
    this.elector = le && new LeaderElector({
      kubeConfig, namespace: le.namespace, name: le.name, identity: le.identity, nowMs, ...le.durations,
      onStartedLeading: () => {
        log('info', 'leader election: leading', { lease: `${le.namespace}/${le.name}`, identity: le.identity });
        this.loop.lead();
        this.guard.start();
      },
      onStoppedLeading: () => void this.lostLease(),
      onNewLeader: (holder) => log('info', 'leader election: the lease is held', { holder }),
      onError: (error) => log('warn', 'leader election', { code: error.code, error: error.message }),
    });
    this.done = new Promise((resolve) => (this.ended = resolve));
  }

  /** Base URLs of the health and metrics servers once started. */
  get urls(): { health: string; metrics: string } | undefined {
    return this.loop.urls;
  }

  /** Whether this controller's queue takes work now (it leads). */
  get isLeading(): boolean {
    return this.loop.isLeading;
  }

  /**
   * Starts the servers and the informers; once every informer has listed, leads (without leader
   * election) or campaigns for the Lease. Resolves once the servers listen.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') throw new ControllerStartedError();
    this.phase = 'running';
    await this.loop.start();
    await this.notifications?.start();
    await this.discover();
    const listed = Promise.all([...Object.values(this.informers), ...this.startedOptional()].map((i) => i.start()));
    listed.then(() => {
      if (this.phase !== 'running') return;
      this.options.log('info', 'caches listed', { namespace: this.options.namespace ?? '*' });
      this.releases.start();
      if (this.elector) this.elector.start();
      else {
        this.loop.lead();
        this.guard.start();
      }
    }, (error: unknown) => {
      // Only a stop before the first list rejects: nothing to do.
      if (this.phase === 'running') this.options.log('error', 'informers ended', { error: (error as Error).message });
    });
  }

  /**
   * Stops: the queue first (passes in flight finish, scaling calls settle), then the Lease is
   * released (a successor takes over at once), the informers and servers stop. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    const wasNew = this.phase === 'new';
    this.phase = 'stopping';
    await this.guard.stop();
    await this.loop.standDown();
    await this.releases.stop();
    await this.reconciler.settled();
    // Runs stop measuring, still Running in the cluster: the next leader resumes them.
    await this.analysis.stopAll();
    // The passes' Events are posted in the background: the last ones go out before the Lease does.
    await this.recorder.flush();
    await this.notifications?.stop();
    await this.elector?.stop();
    for (const u of this.unsubscribe) u();
    if (!wasNew) await Promise.all([...Object.values(this.informers), ...this.startedOptional()].map((i) => i.stop()));
    await this.runtime.shutdown({ stopInstances: false });
    await this.loop.stop();
    this.phase = 'stopped';
    this.ended('stopped');
  }

  /**
   * Which optional APIs the cluster serves (API discovery, once at start): a Rollout naming one
   * that is not served is InvalidSpec with a sentence, and no informer waits on it forever. A
   * failed discovery serves none, and says so; installing Istio later needs a restart, as Argo's does.
   */
  private async discover(): Promise<void> {
    try {
      const groups = await this.options.kubeConfig.makeApiClient(ApisApi).getAPIVersions();
      const versions = new Set(groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion)));
      const resources = async (group: string, version: string): Promise<Set<string>> => versions.has(`${group}/${version}`)
        ? new Set((await this.options.kubeConfig.makeApiClient(CustomObjectsApi).getAPIResources({ group, version })).resources.map((r) => r.name))
        : new Set();
      const istio = await resources('networking.istio.io', 'v1');
      if (istio.has('virtualservices') && istio.has('destinationrules')) this.served.add('istio');
      const gateway = await resources('gateway.networking.k8s.io', 'v1');
      if (gateway.has('httproutes')) this.served.add('gateway-api');
      if (gateway.has('grpcroutes')) this.served.add('grpc-routes');
      if (this.options.argoRollouts !== true && (await resources('graylane.dev', 'v1alpha1')).has('releases')) this.served.add('releases');
      const [group, version] = rolloutApiVersion(this.options.argoRollouts === true ? 'argo' : 'graylane').split('/') as [string, string];
      const analysis = await resources(group, version);
      if (['analysisruns', 'analysistemplates', 'clusteranalysistemplates'].every((r) => analysis.has(r))) this.served.add('analysis');
    } catch (error) {
      this.options.log('warn', 'API discovery failed: Istio and Gateway API routing are off until a restart', { error: (error as Error).message });
    }
    this.options.log('info', 'optional traffic APIs', { istio: this.served.has('istio'), gatewayApi: this.served.has('gateway-api') });
    this.options.log('info', 'analysis API', { served: this.served.has('analysis') });
  }

  private startedOptional(): Informer<KubernetesObject>[] {
    const o = this.optionalInformers;
    return [
      ...(this.served.has('istio') ? [o.virtualServices, o.destinationRules] : []),
      ...(this.served.has('gateway-api') ? [o.httpRoutes] : []),
      ...(this.served.has('grpc-routes') ? [o.grpcRoutes] : []),
      ...(this.served.has('releases') ? [this.releaseInformer] : []),
      ...(this.served.has('analysis') ? [o.analysisRuns, o.analysisTemplates, o.clusterAnalysisTemplates] : []),
    ] as Informer<KubernetesObject>[];
  }

  /** The Lease is lost (renewals failed for the renew deadline): stop working now, and for good. */
  private async lostLease(): Promise<void> {
    if (this.phase !== 'running' || !this.loop.isLeading) return;
    this.options.log('error', 'leader election: the lease is lost; the queue stops and this controller ends', {});
    // Campaigning on would let this process lead again with caches and memory of another era; and
    // halted only after the queue drained, the elector kept retrying meanwhile, took the Lease back
    // (it is still named holder) and then held it unused, keeping every standby out for a whole
    // lease duration. So the campaign ends first, at once, beside the queue.
    const halted = this.elector?.stop({ release: false });
    await this.guard.stop();
    await this.loop.standDown();
    await this.reconciler.settled();
    await this.analysis.stopAll();
    await halted;
    this.ended('lease-lost');
  }
}
