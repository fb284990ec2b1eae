/**
 * The single-host controller: reads the store, runs the engine, commits the new status, then acts
 * through the process runtime and the built-in router. A reconcile is an ordered list of
 * idempotent steps; the status is written once per pass, before anything is done about it.
 */
import { dirname, resolve } from 'node:path';
import {
  applyOperation, initialStatus, OperationError, reconcile, staticServiceStatus, statusProblem,
  type Action, type Observed, type RolloutStatus, type UserOperation,
} from '../../engine/index.js';
import type { ReleaseRoute, RouterEvent, RouteTable } from '../../router/contract/index.js';
import type { RouterControl } from '../../router/control/router-control.js';
import type { InstanceInfo, Runtime } from '../../runtime/runtime.js';
import { adoptRecordOf } from '../../runtime/process/process-runtime.js';
import { resolveCommand, resolveCwd } from '../../runtime/process/command.js';
import { RuntimeError } from '../../runtime/errors.js';
import type { StaticTemplate } from '../../runtime/static/static-runtime.js';
import { appServiceRevision, formatSpecError, formatSpecWarning, loadDocuments, rolloutFromAppService } from '../../documents/index.js';
import type { App, AppService, ProcessTemplate, RolloutSpec } from '../../documents/schema.js';
import { corruptRow, type Store, type StoreError, type StoredEvent } from '../../state/store.js';
import { guardWrites, isWriteFailure } from '../../state/write-guard.js';
import { StoreHealth } from './store-health.js';
import { ControlPlaneError, type ApplyResult, type ControlPlane, type EventView, type OperateOptions, type Operation } from '../control-plane.js';
import type { AnalysisRunView, RevisionView, ServiceView } from '../view-model.js';
import { buildServiceRoute, type TrafficInForce } from '../../traffic/builtin/routes.js';
import { toTrafficEndpoints } from '../../traffic/endpoints.js';
import { buildServiceView, revisionSummary } from './views.js';
import { AnalysisManager } from './analysis-manager.js';
import { analysisLoadChecks } from '../../analysis/load-checks.js';
import { GuardLoop, type GuardCandidate } from '../core/guard-loop.js';
import { trafficLoadChecks } from '../../traffic/load-checks.js';
import { ReleaseCoordinator } from './release-coordinator.js';
import { memberSpec, releaseOf } from '../../engine/release/releases.js';
import { RouterEventLog, type RouterEventRecord } from './router-events.js';
import { mergeAsync } from '../../lib/merge-async.js';
import { fromApiOperation } from '../core/operations.js';

/** Options of {@link LocalController}. */
export interface LocalControllerOptions {
  /** Where state is committed. */
  store: Store;
  /** Runs `process` services. */
  processRuntime: Runtime<ProcessTemplate>;
  /** Watches `targets` services. */
  staticRuntime: Runtime<StaticTemplate>;
  /** The built-in router, through its control port. */
  router: RouterControl;
  /** Clock; injectable for tests. */
  nowMs?: () => number;
  /** How often every service is reconciled even when nothing happened; default 500 ms. */
  resyncMs?: number;
  /** Longest a stopping instance is given to finish its requests in the router; default 30 s. */
  drainTimeoutMs?: number;
  /** How often the guard judges canaries; default 250 ms. */
  guardIntervalMs?: number;
  /** How long the event log is kept; see {@link EventRetention}. */
  eventRetention?: Partial<EventRetention>;
}

/** How much of the event log the daemon keeps. Older events are deleted in the background. */
export interface EventRetention {
  /** Newest events kept per service (and for the daemon itself); default 1000. */
  keepPerService: number;
  /** Events older than this go, however few; default 30 days. */
  maxAgeMs: number;
  /** How often the log is trimmed, and only when events were added since; default 60 s. */
  trimIntervalMs: number;
}

/** Defaults of {@link EventRetention}. */
export const DEFAULT_EVENT_RETENTION: EventRetention = { keepPerService: 1000, maxAgeMs: 30 * 24 * 3600_000, trimIntervalMs: 60_000 };

type Listener = (change: { event?: EventView; view?: ServiceView }) => void;

/** The guard looks four times a second: a broken canary is cut off within a fraction of a second. */
const GUARD_TICK_MS = 250;
/**
 * An instance whose readiness probe keeps failing gets a `ReadinessProbeFailing` event when it
 * turns unready and again at most this often while it stays so: said, but not once per probe.
 */
export const PROBE_FAILING_EVENT_INTERVAL_MS = 60_000;

/** The local control plane. Call `start()` once, `stop()` at the end. */
export class LocalController implements ControlPlane {
  private readonly store: Store;
  private readonly router: RouterControl;
  private readonly nowMs: () => number;
  private readonly listeners = new Set<Listener>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly pending = new Set<string>();
  private readonly scaling = new Map<string, Promise<unknown>>();
  /** When each unready instance's last ReadinessProbeFailing event was recorded (controller clock). */
  private readonly probeEventAtMs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private guardTimer: NodeJS.Timeout | undefined;
  private trimTimer: NodeJS.Timeout | undefined;
  /** Newest event id at the last trim: nothing new, nothing to trim (an idle daemon writes nothing). */
  private trimmedUpToId = -1;
  private readonly analyses: AnalysisManager;
  private readonly guard: GuardLoop;
  private readonly releases: ReleaseCoordinator;
  private readonly routerEvents: RouterEventLog;
  private unsubscribers: (() => void)[] = [];
  /** The last route table handed to the router, settled once it is in force (or refused). */
  private routeApplied: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Write failures of the state store: the daemon keeps routing and retries with back-off. */
  private readonly health: StoreHealth;
  private flushing = false;

  constructor(private readonly options: LocalControllerOptions) {
    this.router = options.router;
    this.nowMs = options.nowMs ?? Date.now;
    this.health = new StoreHealth({ nowMs: this.nowMs });
    this.store = guardWrites(options.store, {
      onWriteFailed: (err) => this.writeFailed(err),
      onWriteSucceeded: () => this.writeSucceeded(),
    });
    this.analyses = new AnalysisManager({
      store: this.store,
      statsSource: { stats: (q) => this.router.stats(q) },
      templates: () => this.store.getApp()?.templates ?? [],
      onPhase: (service) => this.schedule(service),
      nowMs: this.nowMs,
    });
    this.guard = new GuardLoop({
      counters: { totals: (q) => this.router.totals(q), recentLatency: (q) => this.router.recentLatency(q) },
      candidates: () => this.guardCandidates(),
      abort: (service, reason) => this.guardAbort(service, reason),
      tickMs: options.guardIntervalMs ?? GUARD_TICK_MS,
      nowMs: this.nowMs,
    });
    this.releases = new ReleaseCoordinator(this.store, {
      app: () => this.app(),
      status: (service) => this.store.getStatus(service),
      operate: (service, op, why) => this.operateMember(service, op, why),
      startAnalysis: (service, action, stable) => this.analyses.start(service, action, stable),
      analysisPhase: (service, name) => this.store.listAnalysisRuns(service, 200).find((r) => r.id === name)?.phase,
      stopAnalysis: (name) => this.analyses.stop(name),
      lastPinnedStableMs: (release) => this.router.releaseStats(release).lastPinnedMs.stable,
      releaseTraffic: (release, windowMs) => this.router.releaseTraffic({ release, windowMs }),
      retireOld: (service, revision) => this.retireOld(service, revision),
      event: (service, level, reason, message) => this.emitEvent(service, level, reason, message),
      nowMs: this.nowMs,
      changed: (release) => this.notifyReleaseView(release),
    });
    this.routerEvents = new RouterEventLog({ record: (e) => this.recordEvent(e), nowMs: this.nowMs });
  }

  private app(): App | undefined {
    return this.store.getApp()?.app;
  }

  /** An engine operation on one member of a release, committed and acted on at once. */
  private operateMember(service: string, op: UserOperation, why: string): void {
    const svc = this.store.getService(service);
    const status = this.store.getStatus(service);
    if (!svc || !status) return;
    const spec = svc.spec as AppService;
    try {
      const result = applyOperation({ spec: this.rolloutSpec(spec), status, operation: op, now: this.nowMs() });
      this.commitAndAct(service, spec, result.status, [{ type: 'event', level: 'info', reason: `Release${cap(op.type)}`, message: why }, ...result.actions]);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
    }
  }

  /** Ends an old revision's scale-down delay now (a release's skew window is over). */
  private retireOld(service: string, revision: string): void {
    const svc = this.store.getService(service);
    const status = this.store.getStatus(service);
    if (!svc || !status) return;
    const { status: next } = applyOperation({ spec: this.rolloutSpec(svc.spec as AppService), status, operation: { type: 'endScaleDownDelay', revision }, now: this.nowMs() });
    this.store.commit({ service, status: next });
    this.schedule(service);
  }

  /** One pass over every release, then the pinning table. */
  private tickReleases(): void {
    for (const release of this.releases.releases()) {
      try {
        this.releases.tick(release);
      } catch (err) {
        this.reportFailure(release.name, 'ReleaseFailed', err);
      }
      for (const member of release.services) this.refreshRoute(member);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /** Re-adopts recorded instances, restores routing, then starts the reconcile loop. */
  async start(): Promise<{ adopted: number; rejected: string[] }> {
    this.checkStatuses();
    const records = this.store.listInstances();
    const processRecords = records.filter((r) => (r.record as { pid?: number } | null)?.pid !== undefined);
    const result = await this.options.processRuntime.adopt(processRecords.map((r) => r.record as Parameters<Runtime['adopt']>[0][number]));
    for (const r of result.rejected) this.store.deleteInstance(r.record.id);
    if (result.rejected.length > 0) {
      this.store.appendEvents('daemon', [{ atMs: this.nowMs(), level: 'warning', reason: 'InstancesLost', message: result.rejected.map((r) => r.message).join('; ') }]);
    }
    for (const svc of this.store.listServices()) this.refreshRoute(svc.name);
    for (const runtime of [this.options.processRuntime, this.options.staticRuntime]) {
      this.unsubscribers.push(runtime.on('change', ({ instance, previousState }) => this.onInstanceChange(instance, previousState)));
    }
    // The router emits from inside a request's handling: store the event after it, off that path.
    const onRouterEvent = (e: RouterEvent) => {
      setImmediate(() => {
        if (!this.stopped) this.routerEvents.onEvent(e);
      });
    };
    this.unsubscribers.push(this.router.onEvent(onRouterEvent));
    this.analyses.resumeAll(this.store.listServices().map((s) => s.name));
    this.timer = setInterval(() => this.reconcileAll(), this.options.resyncMs ?? 500);
    this.timer.unref();
    this.guardTimer = setInterval(() => this.guardTick(), this.options.guardIntervalMs ?? GUARD_TICK_MS);
    this.guardTimer.unref();
    const retention = { ...DEFAULT_EVENT_RETENTION, ...this.options.eventRetention };
    this.trimTimer = setInterval(() => this.trimEvents(retention), retention.trimIntervalMs);
    this.trimTimer.unref();
    this.reconcileAll();
    return { adopted: result.adopted.length, rejected: result.rejected.map((r) => r.message) };
  }

  /** A status the engine cannot run on stops the start, before anything is acted on. */
  private checkStatuses(): void {
    for (const svc of this.store.listServices()) {
      const status = this.store.getStatus(svc.name);
      const problem = status === undefined ? undefined : statusProblem(status);
      if (problem) {
        throw corruptRow(this.store.location ?? 'state.db', `the status of service "${svc.name}"`, new Error(problem));
      }
    }
  }

  /** Stops the loop; with `stopInstances`, drains and stops every instance (Ctrl-C of `graylane up`). */
  async stop(options: { stopInstances: boolean }): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.guardTimer);
    clearInterval(this.trimTimer);
    this.analyses.stopAll();
    await Promise.allSettled([...this.queues.values(), ...this.scaling.values()]);
    for (const u of this.unsubscribers) u();
    if (options.stopInstances) {
      const instances = this.options.processRuntime.listInstances();
      await Promise.all(instances.map((i) => this.options.processRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.unroute(info) })));
      for (const i of instances) this.store.deleteInstance(i.id);
    }
    await this.options.processRuntime.shutdown({ stopInstances: false });
    await this.options.staticRuntime.shutdown({ stopInstances: false });
  }

  // ---------------------------------------------------------------------------------------------
  // ControlPlane

  apply(input: { text: string; file: string; prune?: boolean }): Promise<ApplyResult> {
    const loaded = loadDocuments({ text: input.text, file: input.file }, { ...analysisLoadChecks, ...trafficLoadChecks() });
    if (loaded.errors.length > 0) {
      return Promise.reject(new ControlPlaneError('ValidationFailed', `${input.file} is invalid; nothing was applied`, loaded.errors.map(formatSpecError)));
    }
    const apps = loaded.documents.filter((d) => d.kind === 'App');
    if (apps.length !== 1) {
      return Promise.reject(new ControlPlaneError('ValidationFailed', `${input.file} must hold exactly one App document (found ${apps.length}); nothing was applied`));
    }
    const app = apps[0]!.doc;
    const baseDir = dirname(resolve(input.file));
    const now = this.nowMs();
    const warnings = loaded.warnings.map(formatSpecWarning);
    const before = this.store.getApp()?.app;
    if (before && (before.spec.listen ?? '') !== (app.spec.listen ?? '')) warnings.push('spec.listen changed: restart `graylane up` for the router to listen there');
    const problems = checkRunnable(app, baseDir, input.file);
    if (problems.length > 0) {
      return Promise.reject(new ControlPlaneError('ValidationFailed', `${input.file} cannot be run; nothing was applied`, problems));
    }
    const removed = this.store.listServices().filter((s) => !app.spec.services.some((n) => n.name === s.name)).map((s) => s.name);
    // Another App (a wrong --state-dir, say) would otherwise silently delete every service it does not name.
    if (removed.length > 0 && input.prune !== true && before?.metadata.name !== app.metadata.name) {
      return Promise.reject(new ControlPlaneError(
        'InvalidOperation',
        `${input.file} is App "${app.metadata.name}" but this daemon runs App "${before?.metadata.name ?? '(unnamed)'}": applying it would remove ${plural(removed.length, 'service')} ${removed.join(', ')} with ${removed.length === 1 ? 'its' : 'their'} history. Nothing was applied. To remove ${removed.length === 1 ? 'it' : 'them'}, pass --prune; otherwise check that --state-dir points at the daemon of this App.`,
      ));
    }
    const result: ApplyResult = { services: [], warnings, removed };
    this.store.transaction(() => {
      for (const svc of app.spec.services) {
        const revision = appServiceRevision(svc);
        const before = this.store.getService(svc.name);
        const status = this.store.getStatus(svc.name);
        const stored = this.store.addRevision({ service: svc.name, name: revision, template: templateOf(svc, baseDir), createdAtMs: now });
        this.store.putService({ name: svc.name, spec: svc, baseDir, desiredRevision: revision, appliedAtMs: now });
        const change: ApplyResult['services'][number]['change'] = !before
          ? 'created'
          : before.desiredRevision === revision
            ? 'unchanged'
            : status?.stableRevision === revision
              ? 'rollback'
              : 'updated';
        result.services.push({ name: svc.name, revision, revisionNumber: stored.number, change });
        if (change !== 'unchanged') {
          this.store.appendEvents(svc.name, [{ atMs: now, level: 'info', reason: 'Applied', message: `revision #${stored.number} (${revision}) applied: ${change}` }]);
        }
      }
      for (const name of removed) this.store.deleteService(name);
      if (removed.length > 0) {
        this.store.appendEvents('daemon', [{ atMs: now, level: 'info', reason: 'ServicesRemoved', message: `${removed.join(', ')} removed by the apply of ${input.file}` }]);
      }
      const templates = loaded.documents.flatMap((d) => (d.kind === 'AnalysisTemplate' || d.kind === 'ClusterAnalysisTemplate' ? [d.doc] : []));
      this.store.putApp({ app, templates });
    });
    for (const name of removed) void this.retireService(name);
    for (const svc of app.spec.services) this.schedule(svc.name);
    return Promise.resolve(result);
  }

  list(): ServiceView[] {
    const releases = this.releases.releases().map((r) => this.releases.view(r.name, (s) => this.view(s)));
    return [...releases, ...this.store.listServices().map((s) => this.view(s.name))];
  }

  get(name: string): ServiceView {
    if (this.releases.find(name)) return this.releases.view(name, (s) => this.view(s));
    this.requireService(name);
    return this.view(name);
  }

  async operate(name: string, operation: Operation, options: OperateOptions = {}): Promise<ServiceView> {
    if (this.releases.find(name)) return this.operateRelease(name, operation);
    const holder = this.releases.holder(name);
    if (holder) throw new ControlPlaneError('InvalidOperation', `${name} moves with release ${holder.name}: use \`${releaseCommand(holder.name, operation)}\``);
    const svc = this.requireService(name);
    const spec = svc.spec as AppService;
    if (spec.targets) throw new ControlPlaneError('InvalidOperation', `${name} routes to targets that graylane does not run, so it has no rollouts to ${operation.type}`);
    const op = fromApiOperation(operation);
    if (op.type === 'undo') return this.undo(name, op.toRevision, options.expectedVersion);
    if (op.type === 'restart') throw new ControlPlaneError('InvalidOperation', 'restart is not available on this daemon yet; apply a changed env to roll new instances');
    await this.serial(name, () => {
      this.checkVersion(name, operation.type, options.expectedVersion);
      const status = this.statusOf(name);
      let result;
      try {
        result = applyOperation({ spec: this.rolloutSpec(spec), status, operation: op, now: this.nowMs(), service: name });
      } catch (err) {
        if (err instanceof OperationError) throw new ControlPlaneError('InvalidOperation', err.message);
        throw err;
      }
      this.commitAndAct(name, spec, result.status, [{ type: 'event', level: 'info', reason: `Operation${cap(operation.type)}`, message: `${operation.type} by operator` }, ...result.actions]);
      // Reconcile now, not later: the view answered is the state after the operation (its step,
      // phase and traffic), not the one from before it.
      return this.reconcileService(name);
    });
    return this.view(name);
  }

  /** An operation on a release: every member of its attempt at once, or all of them for undo. */
  private operateRelease(name: string, operation: Operation): Promise<ServiceView> {
    const op = fromApiOperation(operation);
    switch (op.type) {
      case 'undo':
        return this.undoRelease(name, op.toRevision);
      case 'restart':
        throw new ControlPlaneError('InvalidOperation', 'restart is not available on this daemon yet; apply a changed env to roll new instances');
      default:
        this.releases.operate(name, op);
    }
    this.tickReleases();
    return Promise.resolve(this.get(name));
  }

  /**
   * Undo of a release: every member goes back to its previous revision in one commit, so that
   * the release sees them change together and rolls them back as one release rollout.
   */
  private async undoRelease(name: string, toRevision: number | undefined): Promise<ServiceView> {
    const release = this.releases.find(name)!;
    if (toRevision !== undefined) {
      throw new ControlPlaneError('InvalidOperation', `revision numbers belong to each member of release ${name}: see \`graylane history ${name}\`; \`graylane undo ${name}\` rolls every member back to its previous revision`);
    }
    const targets = release.services.flatMap((member) => {
      const svc = this.store.getService(member);
      const target = svc ? this.undoTarget(member, undefined) : undefined;
      return svc && target && target.name !== svc.desiredRevision ? [{ svc, target }] : [];
    });
    if (targets.length === 0) throw new ControlPlaneError('InvalidOperation', `release ${name} has no earlier revision to go back to`);
    const now = this.nowMs();
    this.store.transaction(() => {
      for (const { svc, target } of targets) {
        this.store.putService({ ...svc, desiredRevision: target.name, appliedAtMs: now });
        this.store.appendEvents(svc.name, [{ atMs: now, level: 'info', reason: 'Undo', message: `undo of release ${name} to revision #${target.number} (${target.name})` }]);
      }
    });
    await Promise.all(targets.map(({ svc }) => this.serial(svc.name, () => this.reconcileService(svc.name))));
    return this.get(name);
  }

  history(name: string, options: { showEnv?: boolean } = {}): RevisionView[] {
    const release = this.releases.find(name);
    if (release) {
      // Per member, named "member revision" as the release's view names them; newest first.
      return release.services
        .filter((member) => this.store.getService(member))
        .flatMap((member) => this.history(member, options).map((r) => ({ ...r, name: `${member} ${r.name}` })))
        .sort((a, b) => b.createdAtMs - a.createdAtMs);
    }
    this.requireService(name);
    const status = this.store.getStatus(name);
    const live = new Set(this.options.processRuntime.listInstances({ service: name }).map((i) => i.revision));
    return this.store
      .listRevisions(name)
      .reverse()
      .map((r) => ({
        number: r.number,
        name: r.name,
        createdAtMs: r.createdAtMs,
        role: r.name === status?.stableRevision ? 'stable' : r.name === status?.canaryRevision ? 'canary' : live.has(r.name) ? 'old' : 'retired',
        summary: revisionSummary(r.template, options),
      }));
  }

  analysis(name: string): AnalysisRunView[] {
    const release = this.releases.find(name);
    if (release) {
      return release.services
        .filter((member) => this.store.getService(member))
        .flatMap((member) => this.analysis(member).map((r) => ({ ...r, name: `${member}/${r.name}` })))
        .sort((a, b) => b.startedAtMs - a.startedAtMs);
    }
    this.requireService(name);
    const stored = this.store.listAnalysisRuns(name).map((r): AnalysisRunView => ({ id: r.id, name: r.name, phase: r.phase, startedAtMs: r.startedAtMs, ...(r.run as Pick<AnalysisRunView, 'metrics' | 'message' | 'kind' | 'guard'>) }));
    // The guard's verdict belongs beside the runs: live while it judges, stored once it aborted.
    const guard = this.guard.entry(name);
    if (!guard) return stored;
    return [guard, ...stored.filter((r) => r.id !== guard.id)].sort((a, b) => b.startedAtMs - a.startedAtMs);
  }

  events(options: { service?: string; afterId?: number; limit?: number } = {}): EventView[] {
    return this.store.listEvents(options);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async *logs(options: { service: string; revision?: string; follow?: boolean; tailLines?: number; sinceMs?: number; signal?: AbortSignal }): AsyncIterable<string> {
    const release = this.releases.find(options.service);
    if (release) {
      if (options.revision !== undefined) {
        throw new ControlPlaneError('InvalidOperation', `revisions belong to each member of release ${release.name}: name one, e.g. \`graylane logs ${release.services[0]!} --revision ${options.revision}\``);
      }
      // Members' lines as they come, each prefixed by its member.
      const members = release.services.filter((member) => this.store.getService(member));
      yield* mergeAsync(members.map((member) => prefixed(`${member} | `, this.logs({ ...options, service: member }))));
      return;
    }
    this.requireService(options.service);
    let revision = options.revision;
    if (revision && /^[0-9]+$/.test(revision)) {
      revision = this.store.listRevisions(options.service).find((r) => r.number === Number(revision))?.name ?? revision;
    }
    const { follow, tailLines, sinceMs, signal } = options;
    for await (const l of this.options.processRuntime.readLogs({ service: options.service, revision, follow, tailLines, sinceMs, signal })) {
      yield `[${l.instance}] ${l.line}`;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reconcile

  /** Queues a reconcile of one service (coalesced: at most one waiting per service). */
  schedule(name: string): void {
    if (this.stopped || this.pending.has(name)) return;
    this.pending.add(name);
    void this.serial(name, () => {
      this.pending.delete(name);
      return this.reconcileService(name);
    }).catch((err: unknown) => this.reportFailure(name, 'ReconcileFailed', err));
  }

  private reconcileAll(): void {
    this.routerEvents.flush();
    // While writes fail, the retry is due only after its back-off; passes that need no write go on.
    if (this.health.backlog && this.health.mayTry()) this.flushBacklog();
    if (!this.health.backlog) this.guard.retryHeld();
    this.tickReleases();
    for (const s of this.store.listServices()) this.schedule(s.name);
  }

  /** Runs fn after everything already queued for this service. */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(() => undefined, () => undefined);
    this.queues.set(name, settled);
    return next;
  }

  private reconcileService(name: string): Promise<void> {
    // Step 1: read what was committed; a service deleted meanwhile has nothing to do.
    const svc = this.store.getService(name);
    if (!svc || this.stopped) return Promise.resolve();
    const spec = svc.spec as AppService;
    // Step 2: a targets service has no rollout: keep its instances watched and routed.
    if (spec.targets) return this.reconcileStatic(name, spec, svc.desiredRevision);
    // Step 3: observe, run the engine, commit, act.
    const status = this.store.getStatus(name);
    for (const i of this.options.processRuntime.listInstances({ service: name })) if (i.state === 'unready') this.probeFailing(i);
    const result = reconcile({
      spec: this.rolloutSpec(spec),
      status,
      observed: this.observe(name),
      now: this.nowMs(),
      desiredRevision: svc.desiredRevision,
      // A release's members go back together through its gates, not each at once on its own.
      fastRollback: !releaseOf(this.app(), name),
    });
    this.commitAndAct(name, spec, result.status, result.actions, status);
    const release = releaseOf(this.app(), name);
    if (release) {
      this.releases.tick(release);
      for (const member of release.services) if (member !== name) this.refreshRoute(member);
      this.refreshRoute(name);
    }
    if (result.requeueAfterMs !== undefined && result.requeueAfterMs < (this.options.resyncMs ?? 500)) {
      setTimeout(() => this.schedule(name), Math.max(10, result.requeueAfterMs)).unref();
    }
    return Promise.resolve();
  }

  private async reconcileStatic(name: string, spec: AppService, revision: string): Promise<void> {
    const template: StaticTemplate = { targets: spec.targets ?? [] };
    const stale = this.options.staticRuntime.listInstances({ service: name }).filter((i) => i.revision !== revision);
    await Promise.all(stale.map((i) => this.options.staticRuntime.stopInstance({ id: i.id, beforeStop: (info) => this.unroute(info) })));
    await this.options.staticRuntime.ensureInstances({ service: name, revision, template, replicas: template.targets.length });
    const { status, traffic } = staticServiceStatus({ revision, now: this.nowMs() });
    if (JSON.stringify(this.store.getTraffic(name)) !== JSON.stringify(traffic)) {
      this.store.commit({ service: name, status, traffic });
    }
    this.refreshRoute(name);
  }

  /** Commits the status (and the traffic decision) in one transaction, then applies the actions. */
  private commitAndAct(name: string, spec: AppService, status: RolloutStatus, actions: Action[], before?: RolloutStatus): void {
    const now = this.nowMs();
    const events = actions.flatMap((a) => (a.type === 'event' ? [{ atMs: now, level: a.level, reason: a.reason, message: a.message }] : []));
    const setTraffic = actions.filter((a) => a.type === 'setTraffic').at(-1);
    // The engine re-asserts traffic on every pass; only a different decision is worth a write.
    const inForce: TrafficInForce | undefined = setTraffic && (({ type: _type, ...rest }) => rest)(setTraffic);
    const traffic = inForce !== undefined && JSON.stringify(inForce) !== JSON.stringify(this.store.getTraffic(name)) ? inForce : undefined;
    const unchanged = events.length === 0 && !traffic && before !== undefined && JSON.stringify(before) === JSON.stringify(status);
    let ids: number[] = [];
    if (!unchanged && this.health.backlog && !this.health.mayTry()) {
      // Nothing is acted on that is not committed; the next try waits for the back-off.
      throw this.health.error!;
    }
    if (!unchanged) {
      ids = this.store.commit({ service: name, status, traffic, events });
    }
    for (const action of actions) this.act(name, action, status);
    this.refreshRoute(name);
    ids.forEach((id, i) => this.notify({ event: { id, service: name, ...events[i]! } }));
    if (!unchanged) this.notifyView(name);
  }

  private act(name: string, action: Action, status: RolloutStatus): void {
    switch (action.type) {
      case 'scale':
        this.scale(name, action.revision, action.replicas);
        return;
      case 'retireRevision':
        if (this.options.processRuntime.listInstances({ service: name, revision: action.revision }).length === 0) {
          this.store.deleteRevision(name, action.revision);
        }
        return;
      case 'startAnalysis':
        this.analyses.start(name, action, status.stableRevision);
        return;
      case 'stopAnalysis':
        this.analyses.stop(action.name);
        return;
      case 'setTraffic':
      case 'event':
        return;
    }
  }

  /** One guard tick: canaries behind the router judged against stable; a failure aborts at once. */
  private guardTick(): void {
    if (!this.stopped) this.guard.tick();
  }

  /** What the guard may judge: every service's canary strategy in force and committed status. */
  private guardCandidates(): GuardCandidate[] {
    return this.store.listServices().map((svc) => {
      const spec = svc.spec as AppService;
      return {
        service: svc.name,
        strategy: spec.targets ? undefined : this.rolloutSpec(spec).strategy.canary,
        status: this.store.getStatus(svc.name),
      };
    });
  }

  /**
   * Aborts a canary the guard found worse. When the abort cannot be committed (a full disk),
   * traffic goes back to stable at once all the same and the commit is retried: a broken canary
   * must not keep its users because the state directory is full. A crash before the commit
   * lands loses only the abort, which the guard decides again from fresh traffic.
   */
  private guardAbort(service: string, reason: string): void {
    void this.serial(service, () => {
      const svc = this.store.getService(service);
      const status = this.store.getStatus(service);
      if (!svc || !status || status.abort) {
        this.guard.releaseAbort(service);
        return Promise.resolve();
      }
      const spec = svc.spec as AppService;
      const aborted = applyOperation({ spec: this.rolloutSpec(spec), status, operation: { type: 'guardAbort', reason }, now: this.nowMs() });
      try {
        this.commitAndAct(service, spec, aborted.status, aborted.actions);
      } catch (err) {
        if (!isWriteFailure(err)) throw err;
        if (this.guard.holdAbort(service, reason)) this.refreshRoute(service);
        throw err;
      }
      if (this.guard.releaseAbort(service)) this.refreshRoute(service);
      this.recordGuardVerdict(service);
      return Promise.resolve();
    }).catch((err: unknown) => this.reportFailure(service, 'GuardAbortFailed', err));
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

  /** Brings a revision to `replicas` instances; one scaling call per revision at a time. */
  private scale(name: string, revision: string, replicas: number): void {
    const key = `${name}/${revision}`;
    if (this.scaling.has(key)) return;
    const template = this.store.listRevisions(name).find((r) => r.name === revision)?.template as ProcessTemplate | undefined;
    if (!template) return;
    const runtime = this.options.processRuntime;
    const live = runtime.listInstances({ service: name, revision }).filter((i) => i.state !== 'stopping' && i.state !== 'stopped');
    if (live.length === replicas) return;
    const work = runtime
      .ensureInstances({ service: name, revision, template, replicas, beforeStop: (info) => this.unroute(info) })
      .catch((err: unknown) => this.reportFailure(name, 'ScaleFailed', new Error(`revision ${revision}: ${err instanceof Error ? err.message : String(err)}`)))
      .finally(() => {
        this.scaling.delete(key);
        this.schedule(name);
      });
    this.scaling.set(key, work);
  }

  private observe(name: string): Observed {
    const instances = this.options.processRuntime.listInstances({ service: name });
    const status = this.store.getStatus(name);
    const canary = status?.canaryRevision;
    return {
      revisions: this.store.listRevisions(name).map((r) => {
        const mine = instances.filter((i) => i.revision === r.name && i.state !== 'stopping' && i.state !== 'stopped');
        // The instance furthest into a crash loop speaks for the revision.
        const looping = mine.reduce<InstanceInfo | undefined>((w, i) => ((i.restartsSinceReady ?? 0) > (w?.restartsSinceReady ?? 0) ? i : w), undefined);
        return {
          name: r.name, replicas: mine.length, readyReplicas: mine.filter((i) => i.state === 'ready').length,
          ...(looping ? { restartsSinceReady: looping.restartsSinceReady, lastError: oneLine(looping.lastError) } : {}),
        };
      }),
      analysisRuns: this.store.listAnalysisRuns(name, 20).map((r) => ({ name: r.name, phase: r.phase as 'Error', message: (r.run as { message?: string }).message })),
      // The evidence steps are judged on: what the router saw the canary serve.
      ...(canary && canary !== status?.stableRevision ? { canaryRequests: this.router.totals({ service: name, revision: canary }).requests } : {}),
    };
  }

  /** Refuses an operation decided on a status that has moved on, saying what moved it. */
  private checkVersion(name: string, what: string, expected: number | undefined): void {
    if (expected === undefined) return;
    const current = this.store.getStatusVersion(name);
    if (current === expected) return;
    const changes = this.store.eventsSinceVersion(name, expected).slice(-3).map((e) => `${e.message} (${new Date(e.atMs).toISOString()})`);
    const status = this.store.getStatus(name);
    throw new ControlPlaneError(
      'Conflict',
      `${what} not done: ${name} changed since you looked (version ${expected}, now ${current}${status ? `, ${status.phase}` : ''})${changes.length ? `: ${changes.join('; ')}` : ''}. Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`,
    );
  }

  /** The revision an undo goes back to: the one asked for, the stable one during a rollout, or the one before. */
  private undoTarget(name: string, toRevision: number | undefined) {
    const svc = this.requireService(name);
    const status = this.store.getStatus(name);
    const revisions = this.store.listRevisions(name);
    const current = revisions.find((r) => r.name === svc.desiredRevision);
    if (toRevision !== undefined) {
      const target = revisions.find((r) => r.number === toRevision);
      if (!target) throw new ControlPlaneError('NotFound', `${name} has no revision #${toRevision}; see \`graylane history ${name}\``);
      return target;
    }
    if (status?.stableRevision && status.stableRevision !== svc.desiredRevision) return revisions.find((r) => r.name === status.stableRevision);
    return revisions.filter((r) => r.name !== svc.desiredRevision && (!current || r.number < current.number)).at(-1);
  }

  private async undo(name: string, toRevision: number | undefined, expectedVersion?: number): Promise<ServiceView> {
    const svc = this.requireService(name);
    const target = this.undoTarget(name, toRevision);
    if (!target) throw new ControlPlaneError('InvalidOperation', `${name} has no earlier revision to go back to`);
    if (target.name === svc.desiredRevision) throw new ControlPlaneError('InvalidOperation', `${name} already runs revision #${target.number}`);
    await this.serial(name, () => {
      this.checkVersion(name, 'undo', expectedVersion);
      this.store.transaction(() => {
        this.store.putService({ ...svc, desiredRevision: target.name, appliedAtMs: this.nowMs() });
        this.store.appendEvents(name, [{ atMs: this.nowMs(), level: 'info', reason: 'Undo', message: `undo to revision #${target.number} (${target.name})` }]);
      });
      return this.reconcileService(name);
    });
    return this.view(name);
  }

  // ---------------------------------------------------------------------------------------------
  // Routing and instances

  private refreshRoute(name: string): void {
    const svc = this.store.getService(name);
    const { table } = this.router.currentTable();
    const others = table.services.filter((s) => s.name !== name);
    if (!svc) {
      this.applyTable(name, { services: others, releases: this.releaseRoutes(others) });
      return;
    }
    const spec = svc.spec as AppService;
    const stored = this.store.getTraffic(name);
    const status = this.store.getStatus(name);
    const traffic: TrafficInForce | undefined = stored
      ?? (status?.stableRevision
        ? { stableRevision: status.stableRevision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] }
        : undefined);
    if (!traffic) return;
    // An abort the guard decided but could not commit still takes the canary's traffic away.
    if (this.guard.forcesStable(name)) Object.assign(traffic, { canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] });
    const runtime = spec.targets ? this.options.staticRuntime : this.options.processRuntime;
    const instances = runtime.listInstances({ service: name });
    const pinned = this.releases.pinnedRevisions(name);
    const route = buildServiceRoute({
      service: spec,
      spec: spec.targets ? undefined : this.rolloutSpec(spec),
      // During a release's skew window the old revision stays routable for clients pinned to it.
      traffic: pinned ? { ...traffic, stableRevision: pinned.stable, canaryRevision: pinned.canary, canaryWeight: 100 } : traffic,
      endpoints: toTrafficEndpoints(instances),
    });
    const services = [...others, route];
    this.applyTable(name, { services, releases: this.releaseRoutes(services) });
  }

  /** Hands a table to the router; the in-process one swaps before returning, so traffic moves now. */
  private applyTable(service: string, table: RouteTable): void {
    this.routeApplied = this.router.applyTable(table).then(
      () => undefined,
      (err: unknown) => {
        // The previous table stays in force (the router swaps whole tables or nothing).
        this.emitEvent(service, 'error', 'RoutingFailed', err instanceof Error ? err.message : String(err));
      },
    );
  }

  /** The pinning table, limited to releases whose members are all routed. */
  private releaseRoutes(services: { name: string }[]): ReleaseRoute[] {
    const routed = new Set(services.map((s) => s.name));
    return this.releases.routes().filter((r) => r.services.every((s) => routed.has(s)));
  }

  /** beforeStop of every graceful stop: out of the route table, then wait for the router to drain it. */
  private async unroute(info: InstanceInfo): Promise<void> {
    this.refreshRoute(info.service);
    await this.routeApplied;
    // The router's wall clock, as its own drain deadline is: the controller's clock may be a test's.
    // An instance that never took traffic (or is still routed) has nothing to drain ('unknown').
    await this.router.awaitDrained(info.id, Date.now() + (this.options.drainTimeoutMs ?? 30_000) + 1000);
  }

  private onInstanceChange(instance: InstanceInfo, previousState: string): void {
    try {
      this.recordInstance(instance);
    } catch (err) {
      // Recorded again once writes work (resyncInstanceRecords); routing does not wait for it.
      if (!isWriteFailure(err)) throw err;
    }
    if (previousState !== instance.state) {
      this.refreshRoute(instance.service);
      if (instance.state === 'failed' && instance.lastError) this.emitEvent(instance.service, 'warning', 'InstanceFailed', `${instance.id}: ${instance.lastError}`);
      if (instance.state === 'unready') this.probeFailing(instance);
      this.schedule(instance.service);
    }
  }

  /** Says that an instance's readiness probe fails, with its last result; rate-limited per instance. */
  private probeFailing(instance: InstanceInfo): void {
    const probe = instance.lastProbe;
    if (probe?.outcome !== 'fail') return;
    const now = this.nowMs();
    const last = this.probeEventAtMs.get(instance.id);
    if (last !== undefined && now - last < PROBE_FAILING_EVENT_INTERVAL_MS) return;
    this.probeEventAtMs.set(instance.id, now);
    this.emitEvent(instance.service, 'warning', 'ReadinessProbeFailing', `${instance.id} (revision ${instance.revision}) is not ready: readiness probe failed: ${probe.detail}`);
  }

  private recordInstance(instance: InstanceInfo): void {
    if (instance.state === 'stopped') {
      this.probeEventAtMs.delete(instance.id);
      this.store.deleteInstance(instance.id);
    } else {
      const revision = this.store.listRevisions(instance.service).find((r) => r.name === instance.revision);
      const record = revision && instance.pid !== undefined ? adoptRecordOf(instance, revision.template as ProcessTemplate) : undefined;
      if (record) this.store.putInstance({ id: instance.id, service: instance.service, revision: instance.revision, record });
    }
  }

  /** After a write outage: the adoption records say again what runs now. */
  private resyncInstanceRecords(): void {
    const live = this.options.processRuntime.listInstances();
    const ids = new Set(live.map((i) => i.id));
    this.store.transaction(() => {
      for (const r of this.store.listInstances()) if (!ids.has(r.id) && (r.record as { pid?: number } | null)?.pid !== undefined) this.store.deleteInstance(r.id);
      for (const i of live) this.recordInstance(i);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Write failures

  private writeFailed(err: StoreError): void {
    if (this.health.failed(err)) this.notifyViews();
  }

  private writeSucceeded(): void {
    if (this.health.backlog) this.flushBacklog();
  }

  /** Writes the outage event and held events; on success the outage is over. */
  private flushBacklog(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const events = this.health.drain();
      const ids = this.store.transaction(() => events.map((e) => this.store.appendEvents(e.service, [e])[0]!));
      this.health.written();
      events.forEach((e, i) => this.notify({ event: { id: ids[i]!, ...e } }));
      this.resyncInstanceRecords();
      this.notifyViews();
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
    } finally {
      this.flushing = false;
    }
  }

  /** An error of background work, as an event; a write failure is already on record. */
  private reportFailure(service: string, reason: string, err: unknown): void {
    if (isWriteFailure(err)) return;
    this.emitEvent(service, 'error', reason, err instanceof Error ? err.message : String(err));
  }

  /** Keeps the event log within its retention; runs on a timer, never on the way of an event. */
  private trimEvents(retention: EventRetention): void {
    if (this.stopped || this.health.backlog) return;
    const newest = this.store.listEvents({ limit: 1 })[0]?.id ?? 0;
    if (newest === this.trimmedUpToId) return;
    try {
      this.store.trimEvents({ keepPerService: retention.keepPerService, maxAgeMs: retention.maxAgeMs, nowMs: this.nowMs() });
      this.trimmedUpToId = newest;
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
    }
  }

  private notifyViews(): void {
    if (this.listeners.size === 0) return;
    for (const r of this.releases.releases()) this.notifyReleaseView(r.name);
    for (const s of this.store.listServices()) this.notify({ view: this.view(s.name) });
  }

  /** A service's view changed: it goes out, and so does its release's, which is made of it. */
  private notifyView(name: string): void {
    if (this.listeners.size === 0) return;
    this.notify({ view: this.view(name) });
    const release = releaseOf(this.app(), name);
    if (release) this.notifyReleaseView(release.name);
  }

  private notifyReleaseView(name: string): void {
    if (this.listeners.size === 0 || !this.releases.find(name)) return;
    this.notify({ view: this.releases.view(name, (s) => this.view(s)) });
  }

  private async retireService(name: string): Promise<void> {
    const runtime = this.options.processRuntime;
    await Promise.all(runtime.listInstances({ service: name }).map((i) => runtime.stopInstance({ id: i.id, beforeStop: (info) => this.unroute(info) })));
    await Promise.all(this.options.staticRuntime.listInstances({ service: name }).map((i) => this.options.staticRuntime.stopInstance({ id: i.id })));
    this.refreshRoute(name);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private rolloutSpec(spec: AppService): RolloutSpec {
    const app: App = { apiVersion: 'graylane.dev/v1alpha1', kind: 'App', metadata: { name: 'app' }, spec: { services: [spec] } };
    const own = rolloutFromAppService(app, spec);
    const release = releaseOf(this.app(), spec.name);
    return release ? memberSpec(release, own) : own;
  }

  private statusOf(name: string): RolloutStatus {
    return this.store.getStatus(name) ?? initialStatus(this.nowMs());
  }

  private requireService(name: string) {
    const svc = this.store.getService(name);
    if (!svc) {
      const known = this.store.listServices().map((s) => s.name);
      throw new ControlPlaneError('NotFound', `no service "${name}"${known.length ? `; services: ${known.join(', ')}` : '; apply an App file first'}`);
    }
    return svc;
  }

  private view(name: string): ServiceView {
    const svc = this.store.getService(name)!;
    const spec = svc.spec as AppService;
    const runtime = spec.targets ? this.options.staticRuntime : this.options.processRuntime;
    return buildServiceView({
      service: spec,
      spec: spec.targets ? undefined : this.rolloutSpec(spec),
      status: this.store.getStatus(name),
      traffic: this.store.getTraffic(name),
      revisions: this.store.listRevisions(name),
      instances: runtime.listInstances({ service: name }),
      stats: (revision) => this.router.stats({ service: name, revision, windowMs: 10_000 }),
      desiredRevision: svc.desiredRevision,
      guard: this.guard.verdict(name),
      stateWrites: this.health.fault,
      version: this.store.getStatusVersion(name),
    });
  }

  /** Records and streams an event; while writes fail it waits (in order) for them to work again. */
  private emitEvent(service: string, level: StoredEvent['level'], reason: string, message: string): void {
    this.recordEvent({ service, atMs: this.nowMs(), level, reason, message });
  }

  private recordEvent(event: RouterEventRecord): void {
    if (this.health.backlog) return this.health.hold(event);
    let id: number;
    try {
      [id] = this.store.appendEvents(event.service, [{ atMs: event.atMs, level: event.level, reason: event.reason, message: event.message }]) as [number];
    } catch (err) {
      if (!isWriteFailure(err)) throw err;
      return this.health.hold(event);
    }
    this.notify({ event: { id, ...event } });
  }

  private notify(change: { event?: EventView; view?: ServiceView }): void {
    for (const l of this.listeners) l(change);
  }
}

/** Commands and working directories must exist before anything is applied, not fail one instance at a time. */
function checkRunnable(app: App, baseDir: string, file: string): string[] {
  const problems: string[] = [];
  app.spec.services.forEach((svc, i) => {
    if (!svc.process) return;
    const path = `spec.services[${i}].process`;
    try {
      const cwd = resolveCwd(baseDir, svc.process.cwd);
      resolveCommand(svc.process.command[0]!, cwd, svc.process.env?.PATH ?? process.env.PATH);
    } catch (err) {
      if (!(err instanceof RuntimeError)) throw err;
      problems.push(`${file}: ${path}${err.code === 'CwdNotFound' ? '.cwd' : '.command[0]'}: ${err.message}`);
    }
  });
  return problems;
}

/**
 * What a revision runs. A process's cwd is made absolute against the directory of the App file it
 * came from: the runtime's own base dir is the directory of the file `graylane up` started with,
 * and a service applied from another file must run in its own directory.
 */
function templateOf(svc: AppService, baseDir: string): unknown {
  if (!svc.process) return { targets: svc.targets ?? [] };
  return { ...svc.process, cwd: resolve(baseDir, svc.process.cwd ?? '.') };
}

/** The command that does `operation` to a whole release, as a person would type it. */
function releaseCommand(release: string, operation: Operation): string {
  switch (operation.type) {
    case 'promote': return `graylane promote ${release}${operation.full ? ' --full' : ''}`;
    case 'setWeight': return `graylane set weight ${release} ${operation.percent}`;
    default: return `graylane ${operation.type} ${release}`;
  }
}

/** Prefixes every line of a log stream. */
async function* prefixed(prefix: string, lines: AsyncIterable<string>): AsyncIterable<string> {
  for await (const line of lines) yield `${prefix}${line}`;
}

const plural = (n: number, word: string) => (n === 1 ? word : `${word}s`);

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A multi-line error (exit code, then the last output lines) as one line for a status message. */
function oneLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const line = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' | ');
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
