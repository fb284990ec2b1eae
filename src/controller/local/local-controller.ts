/**
 * The single-host composition root: the controller core (work queue, reconciler, guard loop,
 * release loop) wired to this host's adapters (SQLite state, the process and static runtimes,
 * the built-in router through its traffic provider and RouterControl), plus what only a single
 * host does (App apply, adoption, static targets). It answers the ControlPlane.
 */
import type { AppService, ProcessTemplate } from '../../documents/schema.js';
import { statusProblem } from '../../engine/index.js';
import { releaseOf } from '../../engine/release/releases.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { StaticTemplate } from '../../runtime/static/static-runtime.js';
import { createSqliteState } from '../../state/sqlite/sqlite-state.js';
import { DEFAULT_NAMESPACE } from '../../state/state-port.js';
import { corruptRow, type Store } from '../../state/store.js';
import { guardWrites } from '../../state/write-guard.js';
import type { SecretReaders } from '../../notify/registry.js';
import { BuiltinTrafficProvider } from '../../traffic/builtin/builtin-provider.js';
import { GuardLoop } from '../core/guard-loop.js';
import { Reconciler } from '../core/reconciler.js';
import { queueKey, WorkQueue } from '../core/work-queue.js';
import type { ApplyResult, ControlPlane, EventView, OperateOptions, Operation } from '../control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../view-model.js';
import { AnalysisManager } from './analysis-manager.js';
import { applyApp } from './app-apply.js';
import { DEFAULT_EVENT_RETENTION, LocalEventLog, type ChangeListener, type EventRetention } from './event-log.js';
import { hookEnvironment } from './hook-environment.js';
import { LocalInstances } from './instances.js';
import { LocalOperations } from './local-operations.js';
import { localPorts } from './local-ports.js';
import { LocalRouting } from './local-routing.js';
import { LocalReadSide } from './read-side.js';
import { ReleaseCoordinator } from './release-coordinator.js';
import { RouterEventLog } from './router-events.js';
import { DataPlaneEventLog } from './data-plane-events.js';
import type { WorkerEvent } from '../../router/control/supervisor/protocol.js';
import type { DataPlaneView } from '../../api/contract/index.js';
import { ControlPlaneError } from '../control-plane.js';
import { reconcileStatic } from './static-targets.js';
import { LocalModel } from './local-model.js';
import { createLocalGuard } from './local-guard.js';
import { gatedState } from './store-health.js';
import { LocalNotifications } from './local-notifications.js';
import { localPlan } from './local-plan.js';
import type { PlanView } from '../../api/contract/index.js';

export { DEFAULT_EVENT_RETENTION, type EventRetention } from './event-log.js';
export { PROBE_FAILING_EVENT_INTERVAL_MS } from './instances.js';

/** Options of {@link LocalController}. */
export interface LocalControllerOptions {
  /** Where state is committed. */
  store: Store;
  /** Runs `process` services. */
  processRuntime: Runtime<ProcessTemplate>;
  /** Watches `targets` services. */
  staticRuntime: Runtime<StaticTemplate>;
  /** The built-in router's control. */
  router: RouterControl;
  /** Clock; injectable for tests. */
  nowMs?: () => number;
  /** How often every service is reconciled even when nothing happened; default 500 ms. */
  resyncMs?: number;
  /** Longest a stopping instance is given to finish its requests in the router; default 30 s. */
  drainTimeoutMs?: number;
  /** How often the guard judges canaries; default 250 ms (a broken canary is cut off within a fraction of a second). */
  guardIntervalMs?: number;
  /** How long the event log is kept; see {@link EventRetention}. */
  eventRetention?: Partial<EventRetention>;
  /** Where notification receivers' `fromEnv` and `fromFile` are read; default the process's. */
  notificationSecrets?: SecretReaders | undefined;
  /** The data plane as the API shows it (`GET /v1/data-plane`); absent: answered NotFound. */
  dataPlane?: (() => Promise<DataPlaneView>) | undefined;
}

const key = (name: string) => ({ namespace: DEFAULT_NAMESPACE, name });

/** The local control plane. Call `start()` once, `stop()` at the end. */
export class LocalController implements ControlPlane {
  private readonly store: Store;
  private readonly router: RouterControl;
  private readonly nowMs: () => number;
  private readonly resyncMs: number;
  private readonly eventLog: LocalEventLog;
  private readonly analyses: AnalysisManager;
  private readonly guard: GuardLoop;
  private readonly model: LocalModel;
  private readonly releases: ReleaseCoordinator;
  private readonly routing: LocalRouting;
  private readonly instances: LocalInstances;
  private readonly reconciler: Reconciler;
  private readonly queue: WorkQueue;
  private readonly ops: LocalOperations;
  private readonly reads: LocalReadSide;
  private readonly routerEvents: RouterEventLog;
  private readonly dataPlaneEvents: DataPlaneEventLog;
  /** The App's notification receivers, fed every event. */
  readonly notifications: LocalNotifications;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribers: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: LocalControllerOptions) {
    const { processRuntime, staticRuntime } = options;
    const router = (this.router = options.router);
    const nowMs = (this.nowMs = options.nowMs ?? Date.now);
    this.resyncMs = options.resyncMs ?? 500;
    const notifications = (this.notifications = new LocalNotifications({ app: () => this.model.app(), emit: (...a) => events.emit(...a), secrets: options.notificationSecrets }));
    const events = (this.eventLog = new LocalEventLog({ nowMs, onRecovered: () => this.recovered(), onFault: () => this.model.notifyViews(), onEvent: (e) => notifications.event(e) }));
    const store = (this.store = guardWrites(options.store, { onWriteFailed: (err) => events.writeFailed(err), onWriteSucceeded: () => events.writeSucceeded() }));
    events.attach(store);
    const runtimeOf = (spec: AppService) => (spec.targets ? staticRuntime : processRuntime) as Runtime<unknown>;
    const model = (this.model = new LocalModel({ store, runtimeOf, router, guard: () => this.guard, releases: () => this.releases, events, routeInForce: (s) => this.routing.inForce(s) }));
    const run = <T>(service: string, fn: () => Promise<T>) => this.queue.run(queueKey(key(service)), fn);
    const analyses = (this.analyses = new AnalysisManager({
      store, statsSource: { stats: (q) => router.stats(q) }, templates: () => store.getApp()?.templates ?? [], onPhase: (s) => this.schedule(s), nowMs,
      hookEnvironment: (service, revision, hook) => hookEnvironment({ store, service, revision, hook }),
    }));
    const guard = (this.guard = createLocalGuard({
      store, router, reconciler: () => this.reconciler, specOf: (svc) => model.specOf(svc), run, reroute: (s) => this.routing.refresh(s),
      reportFailure: (...a) => events.reportFailure(...a), tickMs: options.guardIntervalMs ?? 250, nowMs,
    }));
    this.releases = new ReleaseCoordinator(store, {
      app: () => model.app(),
      status: (service) => store.getStatus(service),
      operate: (service, op, why) => this.ops.operateMember(service, op, why),
      startAnalysis: (service, action, stable) => analyses.start(service, action, stable),
      analysisPhase: (service, name) => store.listAnalysisRuns(service, 200).find((r) => r.id === name)?.phase,
      stopAnalysis: (name) => analyses.stop(name),
      lastPinnedStableMs: (release) => router.releaseStats(release).lastPinnedMs.stable,
      releaseTraffic: (release, windowMs) => router.releaseTraffic({ release, windowMs }),
      retireOld: (service, revision) => this.ops.retireOld(service, revision),
      event: (service, level, reason, message) => events.emit(service, level, reason, message),
      nowMs,
      changed: (release) => model.notifyReleaseView(release),
    });
    this.routing = new LocalRouting({
      store, control: router, provider: new BuiltinTrafficProvider({ control: router }), runtimeOf,
      rolloutSpec: (spec) => model.rolloutSpec(spec),
      pinnedRevisions: (service) => this.releases.pinnedRevisions(service),
      releaseRoutes: () => this.releases.routes(),
      routedWith: (service) => releaseOf(model.app(), service)?.services ?? [service],
      forcesStable: (service) => guard.forcesStable(service),
      routingFailed: (service, message) => events.emit(service, 'error', 'RoutingFailed', message),
      drainTimeoutMs: options.drainTimeoutMs,
      routeLanded: (service) => model.notifyView(service),
    });
    this.instances = new LocalInstances({
      store, processRuntime, nowMs, emit: (...a) => events.emit(...a),
      changed: (service) => {
        this.routing.refresh(service);
        this.schedule(service);
      },
    });
    this.reconciler = new Reconciler({
      state: gatedState(createSqliteState({ store }), events.health), runtime: processRuntime, traffic: this.routing.provider(), nowMs,
      ...localPorts({ store, app: () => model.app(), rolloutSpec: (s) => model.rolloutSpec(s), analyses, router, events, viewChanged: (s) => model.notifyView(s) }),
      requeue: (k) => this.schedule(k.name),
      beforeStop: (_k, info) => this.routing.unroute(info),
    });
    this.queue = new WorkQueue({
      handler: (k) => this.pass(k.slice(k.indexOf('/') + 1)),
      onError: ({ key: k, error }) => events.reportFailure(k.slice(k.indexOf('/') + 1), 'ReconcileFailed', error),
    });
    this.ops = new LocalOperations({
      store, releases: this.releases, reconciler: this.reconciler, nowMs, run,
      passNow: (service) => this.pass(service),
      tickReleases: () => this.tickReleases(),
      schedule: (service) => this.schedule(service),
      reportFailure: (...a) => events.reportFailure(...a),
      view: (service) => model.view(service),
      get: (name) => model.get(name),
      requireService: (name) => model.requireService(name),
    });
    this.reads = new LocalReadSide({ store, processRuntime, guard, release: (name) => this.releases.find(name), requireService: (name) => model.requireService(name) });
    this.routerEvents = new RouterEventLog({ record: (e) => events.record(e), nowMs });
    this.dataPlaneEvents = new DataPlaneEventLog({
      record: (e) => {
        for (const s of store.listServices()) events.emit(s.name, e.level, e.reason, e.message);
      },
      nowMs,
    });
  }

  /** Re-adopts recorded instances, restores routing, then starts the reconcile loop. */
  /**
   * Adopts what runs, then starts the loops. `firstPassByApply`: the caller applies a document
   * next, whose apply passes every service it names, so the stored services are not reconciled
   * before it: a document refused then (`graylane up` of another App) has started nothing.
   */
  async start(options: { firstPassByApply?: boolean } = {}): Promise<{ adopted: number; rejected: string[] }> {
    for (const svc of this.store.listServices()) {
      const problem = ((s) => (s === undefined ? undefined : statusProblem(s)))(this.store.getStatus(svc.name));
      if (problem) throw corruptRow(this.store.location ?? 'state.db', `the status of service "${svc.name}"`, new Error(problem));
    }
    const adoption = await this.instances.adopt();
    // Nothing stored, nothing to restore: an empty table now would turn a fresh router's 503
    // "starting" into 404 "no service routes" until the document's services are applied.
    const stored = this.store.listServices().map((svc) => svc.name);
    if (stored.length > 0) this.routing.refresh(...stored);
    for (const runtime of [this.options.processRuntime, this.options.staticRuntime] as Runtime<unknown>[]) {
      this.unsubscribers.push(runtime.on('change', ({ instance, previousState }) => this.instances.onChange(instance, previousState)));
    }
    // The router emits from inside a request's handling: store the event after it, off that path.
    this.unsubscribers.push(this.router.onEvent((e) => setImmediate(() => !this.stopped && this.routerEvents.onEvent(e))));
    this.analyses.resumeAll(this.store.listServices().map((s) => s.name));
    const retention = { ...DEFAULT_EVENT_RETENTION, ...this.options.eventRetention };
    const every = (ms: number, fn: () => void) => this.timers.push(setInterval(() => !this.stopped && fn(), ms).unref());
    every(this.resyncMs, () => this.reconcileAll());
    every(this.options.guardIntervalMs ?? 250, () => this.guard.tick());
    every(retention.trimIntervalMs, () => this.eventLog.trim(retention));
    if (options.firstPassByApply !== true) this.reconcileAll();
    return adoption;
  }

  /** Stops the loop; with `stopInstances`, drains and stops every instance (Ctrl-C of `graylane up`). */
  async stop(options: { stopInstances: boolean }): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.analyses.stopAll();
    await this.queue.shutdown();
    await this.reconciler.settled();
    for (const u of this.unsubscribers) u();
    // A route write still in flight would report its failure after the store closed.
    await this.routing.settled();
    await this.notifications.close();
    const { processRuntime, staticRuntime } = this.options;
    if (options.stopInstances) {
      const instances = processRuntime.listInstances();
      await Promise.all(instances.map((i) => processRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.routing.unroute(info) })));
      for (const i of instances) this.store.deleteInstance(i.id);
    }
    // One a pass started after the listing above (a retirement or an apply still under way) is
    // stopped by the runtime, which from this call on starts nothing more.
    const late = options.stopInstances ? processRuntime.listInstances().map((i) => i.id) : [];
    await processRuntime.shutdown({ stopInstances: options.stopInstances });
    for (const id of late) this.store.deleteInstance(id);
    await staticRuntime.shutdown({ stopInstances: false });
  }

  async apply(input: { text: string; file: string; prune?: boolean }): Promise<ApplyResult> {
    const result = applyApp({ store: this.store, nowMs: this.nowMs, ...input });
    for (const name of result.removed) void this.retireService(name);
    // One pass of each service before answering: the answer (and what follows it) sees the
    // rollout the apply started, not the state from before it.
    await Promise.all(result.services.map((s) => this.queue.run(queueKey(key(s.name)), () => this.pass(s.name)).catch((err: unknown) => this.eventLog.reportFailure(s.name, 'ReconcileFailed', err))));
    return result;
  }

  list(): ServiceView[] {
    return this.model.list();
  }

  get(name: string): ServiceView {
    return this.model.get(name);
  }

  operate(name: string, operation: Operation, options: OperateOptions = {}): Promise<ServiceView> {
    return this.ops.operate(name, operation, options);
  }

  history(name: string, options: { showEnv?: boolean } = {}): RevisionView[] {
    return this.reads.history(name, options);
  }

  analysis(name: string): AnalysisRunView[] {
    return this.reads.analysis(name);
  }

  events(options: { service?: string; afterId?: number; limit?: number } = {}): EventView[] {
    return this.store.listEvents(options);
  }

  subscribe(listener: ChangeListener): () => void {
    return this.eventLog.subscribe(listener);
  }

  logs(options: { service: string; revision?: string; follow?: boolean; tailLines?: number; sinceMs?: number; signal?: AbortSignal }): AsyncIterable<string> {
    return this.reads.logs(options);
  }

  /** The rollout's plan and where it is on it (the console's step pipeline, ETA and worst-case rollback). */
  plan(name: string): PlanView {
    return localPlan({ store: this.store, model: this.model, release: (n) => this.releases.find(n) }, name);
  }

  /** Queues a reconcile of one service (coalesced: at most one waiting per service). */
  schedule(name: string): void {
    if (!this.stopped) this.queue.add(queueKey(key(name)));
  }

  /** One pass of a service: a static service's targets, or the core reconciler; then its release. */
  private async pass(name: string): Promise<void> {
    const svc = this.store.getService(name);
    if (!svc || this.stopped) return;
    const spec = svc.spec as AppService;
    if (spec.targets) {
      await reconcileStatic({ store: this.store, runtime: this.options.staticRuntime, name, spec, revision: svc.desiredRevision, nowMs: this.nowMs, unroute: (info) => this.routing.unroute(info) });
      return this.routing.refresh(name);
    }
    for (const i of this.options.processRuntime.listInstances({ service: name })) if (i.state === 'unready') this.instances.probeFailing(i);
    const result = await this.reconciler.pass(key(name));
    if (result.outcome === 'requeue') this.schedule(name);
    const release = releaseOf(this.model.app(), name);
    if (release) await this.releases.tick(release);
    this.routing.refresh(...(release?.services ?? [name]));
    if (result.requeueAfterMs !== undefined && result.requeueAfterMs < this.resyncMs) this.queue.addAfter(queueKey(key(name)), Math.max(10, result.requeueAfterMs));
  }

  /** A router worker died, or its replacement serves: every service's event log is told (within a budget). */
  workerEvent(event: WorkerEvent): void {
    if (!this.stopped) this.dataPlaneEvents.onEvent(event);
  }

  /** The data plane as the daemon that runs it describes it. */
  async dataPlane(): Promise<DataPlaneView> {
    if (!this.options.dataPlane) throw new ControlPlaneError('NotFound', 'this controller was started without a data plane to describe');
    return this.options.dataPlane();
  }

  private reconcileAll(): void {
    this.routerEvents.flush();
    this.dataPlaneEvents.flush(this.nowMs());
    const { health } = this.eventLog;
    // While writes fail, the retry is due only after its back-off; passes that need no write go on.
    if (health.backlog && health.mayTry()) this.eventLog.flushBacklog();
    if (!health.backlog) this.guard.retryHeld();
    void this.tickReleases();
    for (const s of this.store.listServices()) this.schedule(s.name);
  }

  /** One pass over every release, then the pinning table; a release's failure is reported, never thrown. */
  private async tickReleases(): Promise<void> {
    for (const release of this.releases.releases()) {
      await this.releases.tick(release).catch((err: unknown) => this.eventLog.reportFailure(release.name, 'ReleaseFailed', err));
      this.routing.refresh(...release.services);
    }
  }

  /** Writes work again: adoption records say what runs now, and views no longer show the fault. */
  private recovered(): void {
    this.instances.resync();
    this.model.notifyViews();
  }

  private async retireService(name: string): Promise<void> {
    const { processRuntime, staticRuntime } = this.options;
    await Promise.all(processRuntime.listInstances({ service: name }).map((i) => processRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.routing.unroute(info) })));
    await Promise.all(staticRuntime.listInstances({ service: name }).map((i) => staticRuntime.stopInstance({ id: i.id })));
    this.reconciler.forget(key(name));
    this.routing.refresh(name);
  }
}
