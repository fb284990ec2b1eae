/**
 * A person's operations on the single host: on a service, through the core reconciler (decided
 * on the committed status, committed, acted on, then one pass so the answer shows the state the
 * operation led to); on a release, on every member of its attempt at once; undo as a new desired
 * revision. An operation decided on a status that moved on is refused with what moved it.
 */
import type { AppService } from '../../documents/schema.js';
import { OperationError, type Operation as EngineOperation } from '../../engine/index.js';
import type { Store, StoredRevision, StoredService } from '../../state/store.js';
import { DEFAULT_NAMESPACE, StateConflictError } from '../../state/state-port.js';
import { releaseRouteRefusal } from '../../engine/release/operate.js';
import { fromApiOperation } from '../core/operations.js';
import type { Reconciler } from '../core/reconciler.js';
import { ControlPlaneError, type OperateOptions, type Operation } from '../control-plane.js';
import type { ServiceView } from '../view-model.js';
import type { ReleaseCoordinator } from './release-coordinator.js';

/** What the operations need of the local controller. */
export interface LocalOperationsHost {
  /** Committed services, revisions, statuses and events. */
  store: Store;
  /** The releases. */
  releases: ReleaseCoordinator;
  /** The core reconciler. */
  reconciler: Reconciler;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Runs fn holding the service's key in the work queue (after what is under way for it). */
  run<T>(service: string, fn: () => Promise<T>): Promise<T>;
  /** One reconcile pass of a service, now (its key already held). */
  passNow(service: string): Promise<void>;
  /** One pass over every release, and their members' routes; never rejects (failures are reported). */
  tickReleases(): Promise<void>;
  /** Queues a reconcile pass of a service. */
  schedule(service: string): void;
  /** An error of background work, as an event. */
  reportFailure(service: string, reason: string, err: unknown): void;
  /** A service's view. */
  view(service: string): ServiceView;
  /** A service's or a release's view. */
  get(name: string): ServiceView;
  /** A service by name; throws ControlPlaneError NotFound. */
  requireService(name: string): StoredService;
}

const RESTART_UNAVAILABLE = 'restart is not available on this daemon yet; apply a changed env to roll new instances';

/** See the file's comment. */
export class LocalOperations {
  /** Member operations releases started: an operation on a release waits for them. */
  private readonly memberOperations = new Set<Promise<void>>();

  constructor(private readonly host: LocalOperationsHost) {}

  /** See ControlPlane.operate. */
  async operate(name: string, operation: Operation, options: OperateOptions = {}): Promise<ServiceView> {
    const { host } = this;
    if (host.releases.find(name)) return this.operateRelease(name, operation);
    const holder = host.releases.holder(name);
    if (holder && (operation.type === 'setHeaderRoute' || operation.type === 'setMirrorRoute')) throw new ControlPlaneError('InvalidOperation', releaseRouteRefusal(holder.name, operation.type));
    if (holder) throw new ControlPlaneError('InvalidOperation', `${name} moves with release ${holder.name}: use \`${releaseCommand(holder.name, operation)}\``);
    const svc = host.requireService(name);
    if ((svc.spec as AppService).targets) throw new ControlPlaneError('InvalidOperation', `${name} routes to targets that graylane does not run, so it has no rollouts to ${operation.type}`);
    const op = fromApiOperation(operation);
    if (op.type === 'undo') return this.undo(name, op.toRevision, options.expectedVersion);
    if (op.type === 'restart') throw new ControlPlaneError('InvalidOperation', RESTART_UNAVAILABLE);
    await host.run(name, async () => {
      this.checkVersion(name, operation.type, options.expectedVersion);
      try {
        await host.reconciler.operate({ namespace: DEFAULT_NAMESPACE, name }, op, {
          event: { level: 'info', reason: `Operation${cap(operation.type)}`, message: `${operation.type} by operator` },
        });
      } catch (err) {
        if (err instanceof OperationError) throw new ControlPlaneError('InvalidOperation', err.message);
        throw err;
      }
      // Reconcile now, not later: the view answered is the state after the operation (its step,
      // phase and traffic), not the one from before it.
      await host.passNow(name);
    });
    return host.view(name);
  }

  /** An engine operation on one member of a release (the release decided it), committed and acted on. */
  operateMember(service: string, op: EngineOperation, why: string): void {
    const { host } = this;
    this.track(host.run(service, async () => {
      if (!host.store.getService(service) || !host.store.getStatus(service)) return;
      try {
        await host.reconciler.operate({ namespace: DEFAULT_NAMESPACE, name: service }, op, { event: { level: 'info', reason: `Release${cap(op.type)}`, message: why } });
      } catch (err) {
        if (!(err instanceof OperationError)) throw err;
      }
    }));
  }

  /** Ends an old revision's scale-down delay now (a release's skew window is over), then a pass. */
  retireOld(service: string, revision: string): void {
    const { host } = this;
    this.track(host.run(service, async () => {
      if (!host.store.getStatus(service) || !host.store.getService(service)) return;
      await host.reconciler.operate({ namespace: DEFAULT_NAMESPACE, name: service }, { type: 'endScaleDownDelay', revision });
      host.schedule(service);
    }));
  }

  /** Keeps a member operation a release started, so an operation on the release can wait for it. */
  private track(work: Promise<void>): void {
    const settled: Promise<void> = work
      .catch((err: unknown) => this.host.reportFailure('daemon', 'ReleaseFailed', err))
      .finally(() => this.memberOperations.delete(settled));
    this.memberOperations.add(settled);
  }

  /** An operation on a release: every member of its attempt at once, or all of them for undo. */
  private async operateRelease(name: string, operation: Operation): Promise<ServiceView> {
    const op = fromApiOperation(operation);
    if (op.type === 'undo') return this.undoRelease(name, op.toRevision);
    if (op.type === 'restart') throw new ControlPlaneError('InvalidOperation', RESTART_UNAVAILABLE);
    try {
      await this.host.releases.operate(this.host.releases.find(name)!, op);
    } catch (err) {
      // Only a release that kept moving under the operation gets here (the daemon's own passes).
      if (err instanceof StateConflictError) throw new ControlPlaneError('Conflict', `${operation.type} not done: release ${name} kept changing while it was decided. Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`);
      throw err;
    }
    await Promise.allSettled([...this.memberOperations]);
    await this.host.tickReleases();
    return this.host.get(name);
  }

  /**
   * Undo of a release: every member goes back to its previous revision in one commit, so that
   * the release sees them change together and rolls them back as one release rollout.
   */
  private async undoRelease(name: string, toRevision: number | undefined): Promise<ServiceView> {
    const { host } = this;
    const release = host.releases.find(name)!;
    if (toRevision !== undefined) {
      throw new ControlPlaneError('InvalidOperation', `revision numbers belong to each member of release ${name}: see \`graylane history ${name}\`; \`graylane undo ${name}\` rolls every member back to its previous revision`);
    }
    const targets = release.services.flatMap((member) => {
      const svc = host.store.getService(member);
      const target = svc ? this.undoTarget(member, undefined) : undefined;
      return svc && target && target.name !== svc.desiredRevision ? [{ svc, target }] : [];
    });
    if (targets.length === 0) throw new ControlPlaneError('InvalidOperation', `release ${name} has no earlier revision to go back to`);
    const now = host.nowMs();
    host.store.transaction(() => {
      for (const { svc, target } of targets) {
        host.store.putService({ ...svc, desiredRevision: target.name, appliedAtMs: now });
        host.store.appendEvents(svc.name, [{ atMs: now, level: 'info', reason: 'Undo', message: `undo of release ${name} to revision #${target.number} (${target.name})` }]);
      }
    });
    await Promise.all(targets.map(({ svc }) => host.run(svc.name, () => host.passNow(svc.name))));
    return host.get(name);
  }

  private async undo(name: string, toRevision: number | undefined, expectedVersion?: number): Promise<ServiceView> {
    const { host } = this;
    const svc = host.requireService(name);
    const target = this.undoTarget(name, toRevision);
    if (!target) throw new ControlPlaneError('InvalidOperation', `${name} has no earlier revision to go back to`);
    if (target.name === svc.desiredRevision) throw new ControlPlaneError('InvalidOperation', `${name} already runs revision #${target.number}`);
    await host.run(name, () => {
      this.checkVersion(name, 'undo', expectedVersion);
      host.store.transaction(() => {
        host.store.putService({ ...svc, desiredRevision: target.name, appliedAtMs: host.nowMs() });
        host.store.appendEvents(name, [{ atMs: host.nowMs(), level: 'info', reason: 'Undo', message: `undo to revision #${target.number} (${target.name})` }]);
      });
      return host.passNow(name);
    });
    return host.view(name);
  }

  /** Refuses an operation decided on a status that has moved on, saying what moved it. */
  private checkVersion(name: string, what: string, expected: number | undefined): void {
    if (expected === undefined) return;
    const { store } = this.host;
    const current = store.getStatusVersion(name);
    if (current === expected) return;
    const changes = store.eventsSinceVersion(name, expected).slice(-3).map((e) => `${e.message} (${new Date(e.atMs).toISOString()})`);
    const status = store.getStatus(name);
    throw new ControlPlaneError(
      'Conflict',
      `${what} not done: ${name} changed since you looked (version ${expected}, now ${current}${status ? `, ${status.phase}` : ''})${changes.length ? `: ${changes.join('; ')}` : ''}. Look again with \`graylane status ${name}\` and repeat the command if it still makes sense.`,
    );
  }

  /** The revision an undo goes back to: the one asked for, the stable one during a rollout, or the one before. */
  private undoTarget(name: string, toRevision: number | undefined): StoredRevision | undefined {
    const { store } = this.host;
    const svc = this.host.requireService(name);
    const status = store.getStatus(name);
    const revisions = store.listRevisions(name);
    const current = revisions.find((r) => r.name === svc.desiredRevision);
    if (toRevision !== undefined) {
      const target = revisions.find((r) => r.number === toRevision);
      if (!target) throw new ControlPlaneError('NotFound', `${name} has no revision #${toRevision}; see \`graylane history ${name}\``);
      return target;
    }
    if (status?.stableRevision && status.stableRevision !== svc.desiredRevision) return revisions.find((r) => r.name === status.stableRevision);
    return revisions.filter((r) => r.name !== svc.desiredRevision && (!current || r.number < current.number)).at(-1);
  }
}

/** The command that does `operation` to a whole release, as a person would type it. */
function releaseCommand(release: string, operation: Operation): string {
  switch (operation.type) {
    case 'promote': return `graylane promote ${release}${operation.full ? ' --full' : ''}`;
    case 'setWeight': return `graylane set weight ${release} ${operation.percent}`;
    default: return `graylane ${operation.type} ${release}`;
  }
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
