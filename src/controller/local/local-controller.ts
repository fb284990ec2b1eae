/**
 * The single-host composition root: the controller core (work queue, reconciler, guard loop,
 * release loop) wired to this host's adapters (SQLite state, the process and static runtimes,
 * the built-in router through its traffic provider and RouterControl), plus what only a single
 * host does (App apply, adoption, static targets). It answers the ControlPlane.
 */
import { rolloutFromAppService } from '../../documents/index.js';
import type { App, AppService, ProcessTemplate, RolloutSpec } from '../../documents/schema.js';
import { OperationError, statusProblem } from '../../engine/index.js';
import { memberSpec, releaseOf } from '../../engine/release/releases.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { StaticTemplate } from '../../runtime/static/static-runtime.js';
import { createSqliteState } from '../../state/sqlite/sqlite-state.js';
import { DEFAULT_NAMESPACE, type StatePort } from '../../state/state-port.js';
import { corruptRow, type Store, type StoredService } from '../../state/store.js';
import { guardWrites, isWriteFailure } from '../../state/write-guard.js';
import { BuiltinTrafficProvider } from '../../traffic/builtin/builtin-provider.js';
import { GuardLoop } from '../core/guard-loop.js';
import { Reconciler } from '../core/reconciler.js';
import { queueKey, WorkQueue } from '../core/work-queue.js';
import { ControlPlaneError, type ApplyResult, type ControlPlane, type EventView, type OperateOptions, type Operation } from '../control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../view-model.js';
import { AnalysisManager } from './analysis-manager.js';
import { applyApp } from './app-apply.js';
import { DEFAULT_EVENT_RETENTION, LocalEventLog, type ChangeListener, type EventRetention } from './event-log.js';
import { LocalInstances } from './instances.js';
import { LocalOperations } from './local-operations.js';
import { localPorts } from './local-ports.js';
import { LocalRouting } from './local-routing.js';
import { LocalReadSide } from './read-side.js';
import { ReleaseCoordinator } from './release-coordinator.js';
import { RouterEventLog } from './router-events.js';
import { reconcileStatic } from './static-targets.js';
import { buildServiceView } from './views.js';

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
  private readonly releases: ReleaseCoordinator;
  private readonly routing: LocalRouting;
  private readonly instances: LocalInstances;
  private readonly reconciler: Reconciler;
  private readonly queue: WorkQueue;
  private readonly ops: LocalOperations;
  private readonly reads: LocalReadSide;
  private readonly routerEvents: RouterEventLog;
  private readonly memberOperations = new Set<Promise<void>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribers: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: LocalControllerOptions) {
    const { processRuntime, staticRuntime } = options;
    const router = (this.router = options.router);
    const nowMs = (this.nowMs = options.nowMs ?? Date.now);
    this.resyncMs = options.resyncMs ?? 500;
    const events = (this.eventLog = new LocalEventLog({ nowMs, onRecovered: () => this.recovered(), onFault: () => this.notifyViews() }));
    const store = (this.store = guardWrites(options.store, { onWriteFailed: (err) => events.writeFailed(err), onWriteSucceeded: () => events.writeSucceeded() }));
    events.attach(store);
    const analyses = (this.analyses = new AnalysisManager({
      store, statsSource: { stats: (q) => router.stats(q) }, templates: () => store.getApp()?.templates ?? [], onPhase: (s) => this.schedule(s), nowMs,
    }));
    const guard = (this.guard = new GuardLoop({
      counters: { totals: (q) => router.totals(q), recentLatency: (q) => router.recentLatency(q) },
      candidates: () => store.listServices().map((svc) => ({ service: svc.name, strategy: this.specOf(svc)?.strategy.canary, status: store.getStatus(svc.name) })),
      abort: (service, reason) => this.guardAbort(service, reason),
      tickMs: options.guardIntervalMs ?? 250,
      nowMs,
    }));
    this.releases = new ReleaseCoordinator(store, {
      app: () => this.app(),
      status: (service) => store.getStatus(service),
      operate: (service, op, why) => this.track(this.ops.operateMember(service, op, why)),
      startAnalysis: (service, action, stable) => analyses.start(service, action, stable),
      analysisPhase: (service, name) => store.listAnalysisRuns(service, 200).find((r) => r.id === name)?.phase,
      stopAnalysis: (name) => analyses.stop(name),
      lastPinnedStableMs: (release) => router.releaseStats(release).lastPinnedMs.stable,
      releaseTraffic: (release, windowMs) => router.releaseTraffic({ release, windowMs }),
      retireOld: (service, revision) => this.track(this.queue.run(queueKey(key(service)), () => this.endScaleDownDelay(service, revision))),
      event: (service, level, reason, message) => events.emit(service, level, reason, message),
      nowMs,
      changed: (release) => this.notifyReleaseView(release),
    });
    this.routing = new LocalRouting({
      store, control: router, provider: new BuiltinTrafficProvider({ control: router }),
      runtimeOf: (spec) => (spec.targets ? staticRuntime : processRuntime),
      rolloutSpec: (spec) => this.rolloutSpec(spec),
      pinnedRevisions: (service) => this.releases.pinnedRevisions(service),
      releaseRoutes: () => this.releases.routes(),
      forcesStable: (service) => guard.forcesStable(service),
      routingFailed: (service, message) => events.emit(service, 'error', 'RoutingFailed', message),
      drainTimeoutMs: options.drainTimeoutMs,
    });
    this.instances = new LocalInstances({
      store, processRuntime, nowMs, emit: (...a) => events.emit(...a),
      changed: (service) => {
        this.routing.refresh(service);
        this.schedule(service);
      },
    });
    this.reconciler = new Reconciler({
      state: this.gatedState(createSqliteState({ store })), runtime: processRuntime, traffic: this.routing.provider(), nowMs,
      ...localPorts({ store, app: () => this.app(), rolloutSpec: (s) => this.rolloutSpec(s), analyses, router, events, viewChanged: (s) => this.notifyView(s) }),
      requeue: (k) => this.schedule(k.name),
      beforeStop: (_k, info) => this.routing.unroute(info),
    });
    this.queue = new WorkQueue({
      handler: (k) => this.pass(k.slice(k.indexOf('/') + 1)),
      onError: ({ key: k, error }) => events.reportFailure(k.slice(k.indexOf('/') + 1), 'ReconcileFailed', error),
    });
    this.ops = new LocalOperations({
      store, releases: this.releases, reconciler: this.reconciler, nowMs,
      run: (service, fn) => this.queue.run(queueKey(key(service)), fn),
      passNow: (service) => this.pass(service),
      tickReleases: () => this.tickReleases(),
      memberOperationsSettled: async () => void (await Promise.allSettled([...this.memberOperations])),
      view: (service) => this.view(service),
      get: (name) => this.get(name),
      requireService: (name) => this.requireService(name),
    });
    this.reads = new LocalReadSide({ store, processRuntime, guard, release: (name) => this.releases.find(name), requireService: (name) => this.requireService(name) });
    this.routerEvents = new RouterEventLog({ record: (e) => events.record(e), nowMs });
  }

  /** Re-adopts recorded instances, restores routing, then starts the reconcile loop. */
  async start(): Promise<{ adopted: number; rejected: string[] }> {
    for (const svc of this.store.listServices()) {
      const problem = ((s) => (s === undefined ? undefined : statusProblem(s)))(this.store.getStatus(svc.name));
      if (problem) throw corruptRow(this.store.location ?? 'state.db', `the status of service "${svc.name}"`, new Error(problem));
    }
    const adoption = await this.instances.adopt();
    for (const svc of this.store.listServices()) this.routing.refresh(svc.name);
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
    this.reconcileAll();
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
    const { processRuntime, staticRuntime } = this.options;
    if (options.stopInstances) {
      const instances = processRuntime.listInstances();
      await Promise.all(instances.map((i) => processRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.routing.unroute(info) })));
      for (const i of instances) this.store.deleteInstance(i.id);
    }
    await processRuntime.shutdown({ stopInstances: false });
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
    return [...this.releases.releases().map((r) => this.releases.view(r.name, (s) => this.view(s))), ...this.store.listServices().map((s) => this.view(s.name))];
  }

  get(name: string): ServiceView {
    if (this.releases.find(name)) return this.releases.view(name, (s) => this.view(s));
    this.requireService(name);
    return this.view(name);
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
    const release = releaseOf(this.app(), name);
    if (release) this.releases.tick(release);
    for (const member of release?.services ?? [name]) this.routing.refresh(member);
    if (result.requeueAfterMs !== undefined && result.requeueAfterMs < this.resyncMs) this.queue.addAfter(queueKey(key(name)), Math.max(10, result.requeueAfterMs));
  }

  private reconcileAll(): void {
    this.routerEvents.flush();
    const { health } = this.eventLog;
    // While writes fail, the retry is due only after its back-off; passes that need no write go on.
    if (health.backlog && health.mayTry()) this.eventLog.flushBacklog();
    if (!health.backlog) this.guard.retryHeld();
    this.tickReleases();
    for (const s of this.store.listServices()) this.schedule(s.name);
  }

  /** One pass over every release, then the pinning table. */
  private tickReleases(): void {
    for (const release of this.releases.releases()) {
      try {
        this.releases.tick(release);
      } catch (err) {
        this.eventLog.reportFailure(release.name, 'ReleaseFailed', err);
      }
      for (const member of release.services) this.routing.refresh(member);
    }
  }

  /**
   * Aborts a canary the guard found worse. When the abort cannot be committed (a full disk),
   * traffic goes back to stable at once all the same and the commit is retried: a broken canary
   * must not keep its users because the state directory is full. A crash before the commit
   * lands loses only the abort, which the guard decides again from fresh traffic.
   */
  private guardAbort(service: string, reason: string): void {
    void this.queue.run(queueKey(key(service)), async () => {
      const status = this.store.getStatus(service);
      if (!this.store.getService(service) || !status || status.abort) {
        if (this.guard.releaseAbort(service)) this.routing.refresh(service);
        return;
      }
      try {
        await this.reconciler.operate(key(service), { type: 'guardAbort', reason });
      } catch (err) {
        if (err instanceof OperationError) return;
        if (isWriteFailure(err) && this.guard.holdAbort(service, reason)) this.routing.refresh(service);
        throw err;
      }
      if (this.guard.releaseAbort(service)) this.routing.refresh(service);
      this.recordGuardVerdict(service);
    }).catch((err: unknown) => this.eventLog.reportFailure(service, 'GuardAbortFailed', err));
  }

  /** Keeps the guard's failing verdict with the analysis runs, so `graylane analysis` shows it after a restart too. */
  private recordGuardVerdict(service: string): void {
    const entry = this.guard.entry(service);
    if (!entry) return;
    const { id, name, phase, startedAtMs, metrics, message, kind, guard } = entry;
    try {
      this.store.putAnalysisRun({ id, service, name, phase, run: { metrics, message, kind, guard }, startedAtMs, updatedAtMs: this.nowMs() });
    } catch (err) {
      // The abort is committed; only its record is missing, and the live entry still shows it.
      if (!isWriteFailure(err)) throw err;
    }
  }

  /** Ends an old revision's scale-down delay now (a release's skew window is over), then a pass. */
  private async endScaleDownDelay(service: string, revision: string): Promise<void> {
    if (!this.store.getStatus(service) || !this.store.getService(service)) return;
    await this.reconciler.operate(key(service), { type: 'endScaleDownDelay', revision });
    this.schedule(service);
  }

  /** Keeps a member operation a release started, so an operation on the release can wait for it. */
  private track(work: Promise<void>): void {
    const settled = work.catch((err: unknown) => this.eventLog.reportFailure('daemon', 'ReleaseFailed', err)).finally(() => this.memberOperations.delete(settled));
    this.memberOperations.add(settled);
  }

  /** While writes fail, nothing is committed before the back-off allows another try. */
  private gatedState(state: StatePort): StatePort {
    const { health } = this.eventLog;
    return {
      type: state.type,
      load: (k) => state.load(k),
      commit: (k, change, expected) => (health.backlog && !health.mayTry() ? Promise.reject(health.error!) : state.commit(k, change, expected)),
      loadRelease: (k) => state.loadRelease(k),
      commitRelease: (k, s, expected) => state.commitRelease(k, s, expected),
    };
  }

  /** Writes work again: adoption records say what runs now, and views no longer show the fault. */
  private recovered(): void {
    this.instances.resync();
    this.notifyViews();
  }

  private async retireService(name: string): Promise<void> {
    const { processRuntime, staticRuntime } = this.options;
    await Promise.all(processRuntime.listInstances({ service: name }).map((i) => processRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.routing.unroute(info) })));
    await Promise.all(staticRuntime.listInstances({ service: name }).map((i) => staticRuntime.stopInstance({ id: i.id })));
    this.reconciler.forget(key(name));
    this.routing.refresh(name);
  }

  private notifyViews(): void {
    if (!this.eventLog.watched) return;
    for (const r of this.releases.releases()) this.notifyReleaseView(r.name);
    for (const s of this.store.listServices()) this.eventLog.notify({ view: this.view(s.name) });
  }

  /** A service's view changed: it goes out, and so does its release's, which is made of it. */
  private notifyView(name: string): void {
    if (!this.eventLog.watched || !this.store.getService(name)) return;
    this.eventLog.notify({ view: this.view(name) });
    const release = releaseOf(this.app(), name);
    if (release) this.notifyReleaseView(release.name);
  }

  private notifyReleaseView(name: string): void {
    if (this.eventLog.watched && this.releases.find(name)) this.eventLog.notify({ view: this.releases.view(name, (s) => this.view(s)) });
  }

  private app(): App | undefined {
    return this.store.getApp()?.app;
  }

  /** A service's rollout spec as the engine sees it; a release's members get the release's. */
  private rolloutSpec(spec: AppService): RolloutSpec {
    const own = rolloutFromAppService({ apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'app' }, spec: { services: [spec] } }, spec);
    const release = releaseOf(this.app(), spec.name);
    return release ? memberSpec(release, own) : own;
  }

  private specOf(svc: StoredService): RolloutSpec | undefined {
    const spec = svc.spec as AppService;
    return spec.targets ? undefined : this.rolloutSpec(spec);
  }

  private requireService(name: string): StoredService {
    const svc = this.store.getService(name);
    if (svc) return svc;
    const known = this.store.listServices().map((s) => s.name);
    throw new ControlPlaneError('NotFound', `no service "${name}"${known.length ? `; services: ${known.join(', ')}` : '; apply an App file first'}`);
  }

  private view(name: string): ServiceView {
    const svc = this.store.getService(name)!;
    const spec = svc.spec as AppService;
    const runtime = (spec.targets ? this.options.staticRuntime : this.options.processRuntime) as Runtime<unknown>;
    return buildServiceView({
      service: spec, spec: this.specOf(svc), status: this.store.getStatus(name), traffic: this.store.getTraffic(name),
      revisions: this.store.listRevisions(name), instances: runtime.listInstances({ service: name }),
      stats: (revision) => this.router.stats({ service: name, revision, windowMs: 10_000 }),
      desiredRevision: svc.desiredRevision, guard: this.guard.verdict(name), stateWrites: this.eventLog.health.fault, version: this.store.getStatusVersion(name),
    });
  }
}
