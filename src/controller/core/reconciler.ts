/**
 * The reconciler: one pass for one rollout, as an ordered list of idempotent steps that may
 * return early. Read what was committed and what is desired; observe the world (instances,
 * analysis runs, the canary's request counter, whether the traffic in force is verified: the
 * engine holds canary steps on `pending`, and where the provider cannot verify it is not told); run
 * the pure engine; commit once, with the version the pass was decided on; then act (scale,
 * traffic, analyses, events). Nothing is acted on that is not committed: a commit that fails or
 * conflicts ends the pass before the world is touched, so a crash or a rival controller never
 * leaves the world ahead of the state. It sees the world only through ports. A scaling call or a
 * traffic change that a server shed with a requested delay (`retryAfterMs`) is not tried again for
 * that rollout until the delay is over, whatever passes run meanwhile.
 */
import {
  applyOperation, initialStatus, reconcile,
  type Action, type Observed, type Operation, type RolloutStatus, type TrafficInForce,
} from '../../engine/index.js';
import { retryAfterMsOf } from '../../lib/retry-after.js';
import type { InstanceInfo, Runtime } from '../../runtime/runtime.js';
import { StateConflictError, type NewEvent, type ObjectKey, type RolloutChange, type RolloutRecord, type StatePort } from '../../state/state-port.js';
import { isLastResort, type TrafficDecision, type TrafficEndpoint, type TrafficProvider, type Verification } from '../../traffic/traffic-provider.js';
import type { AnalysisPort, CountersSource, DesiredRollout, EventSink, RecordedEvent, SpecSource } from './ports.js';

/** Options of {@link Reconciler}: the ports it works through. */
export interface ReconcilerOptions {
  /** Where rollouts' records are committed. */
  state: StatePort;
  /** What each rollout should be. */
  specs: SpecSource;
  /** Runs the revisions' instances. */
  runtime: Runtime;
  /** Puts traffic decisions in force. */
  traffic: TrafficProvider;
  /** Runs analyses. */
  analysis: AnalysisPort;
  /** The canary's request counter. */
  counters: CountersSource;
  /** Where events go. */
  events: EventSink;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /**
   * Asks for another pass of `key`: soon (the work queue's add) when a scaling call has ended, or
   * after `afterMs` when a server asked for that long before the next attempt.
   */
  requeue: (key: ObjectKey, afterMs?: number) => void;
  /** Run before the runtime stops a surplus instance: take it out of traffic and wait for its drain. */
  beforeStop?: ((key: ObjectKey, instance: InstanceInfo) => Promise<void>) | undefined;
  /**
   * How soon a pass whose committed traffic is not verified yet asks to pass again (default
   * 1,000 ms): a failed or lagging switch is retried, and the status follows once it is in force.
   */
  trafficRecheckMs?: number | undefined;
}

/** See {@link ReconcilerOptions.trafficRecheckMs}. */
const DEFAULT_TRAFFIC_RECHECK_MS = 1000;

/**
 * How a pass ended. `done`: committed (or idle) and acted on; `requeue`: someone committed in
 * between, nothing was acted on, pass again; `gone`: the rollout no longer exists.
 */
export type PassOutcome = 'done' | 'requeue' | 'gone';

/** What {@link Reconciler.pass} returns. */
export interface PassResult {
  /** How the pass ended. */
  outcome: PassOutcome;
  /** Whether it wrote a commit (an idle pass writes nothing). */
  committed: boolean;
  /** The record's version after the pass (0: never committed); absent when `gone`. */
  version?: number | undefined;
  /**
   * When to pass again (ms from now): when time alone will change the engine's answer, or soon
   * when the traffic committed is not verified in force yet; absent when nothing waits.
   */
  requeueAfterMs?: number | undefined;
  /** What the traffic provider said of the decision in force before the pass; absent when it was not asked. */
  verification?: Verification | undefined;
}

/** Options of {@link Reconciler.operate}. */
export interface OperateOptions {
  /** The version the operator decided on; a different one refuses with {@link StateConflictError}. */
  expectedVersion?: number | undefined;
  /** Recorded with the operation's commit, before the engine's own events (who asked, and why). */
  event?: { level: 'info' | 'warning'; reason: string; message: string } | undefined;
}

/** What {@link Reconciler.operate} returns. */
export interface OperateResult {
  /** The record's version after the operation's commit. */
  version: number;
  /** The status committed. */
  status: RolloutStatus;
}

/** Why the reconciler refused. */
export type ReconcilerErrorCode = 'NotFound';

/** An operation on a rollout the reconciler cannot work on. */
export class ReconcilerError extends Error {
  constructor(
    /** Machine-readable reason. */
    readonly code: ReconcilerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReconcilerError';
  }
}

/** What a commit left in force. */
interface Committed {
  /** Whether a commit was written. */
  written: boolean;
  /** The record's version now. */
  version: number;
  /** The status in force. */
  status: RolloutStatus;
  /** The traffic decision in force, if there is one. */
  traffic: TrafficInForce | undefined;
  /** Events recorded with the commit. */
  events: RecordedEvent[];
  /** Whether `traffic` was found in force when committed; undefined when the provider cannot tell. */
  trafficVerified: boolean | undefined;
}

const keyId = (key: ObjectKey) => `${key.namespace}/${key.name}`;

/** One pass per rollout, and operations; see the file's comment. */
export class Reconciler {
  /** Scaling calls in flight, by rollout and revision: one at a time per revision. */
  private readonly scaling = new Map<string, Promise<void>>();
  /** The decision (with its endpoints) last put in force per rollout: an equal one is not sent again. */
  private readonly applied = new Map<string, string>();
  /** Writes a server asked to hold off (`rollout/revision` scaling, `rollout` routing), until when (epoch ms). */
  private readonly throttled = new Map<string, number>();

  constructor(private readonly options: ReconcilerOptions) {}

  /** One pass for `key`: read, observe, decide, commit once, act. */
  async pass(key: ObjectKey): Promise<PassResult> {
    const desired = await this.options.specs.desired(key);
    if (!desired) {
      this.forget(key);
      return { outcome: 'gone', committed: false };
    }
    const record = await this.options.state.load(key);
    const { observed, verification } = await this.observe(key, desired, record);
    // The provider has not caught up with what it was given: give it the decision again.
    if (verification === 'pending') this.applied.delete(keyId(key));
    const result = reconcile({
      spec: desired.spec,
      status: record?.status,
      observed,
      now: this.options.nowMs(),
      desiredRevision: desired.desiredRevision,
      fastRollback: desired.fastRollback,
    });
    let committed: Committed;
    try {
      committed = await this.commit(key, desired, record, result.status, result.actions, { skipWhenIdle: true, verification });
    } catch (err) {
      if (err instanceof StateConflictError) return { outcome: 'requeue', committed: false, version: err.actualVersion, ...(verification ? { verification } : {}) };
      throw err;
    }
    await this.act(key, desired, committed, result.actions);
    const requeueAfterMs = committed.trafficVerified === false
      ? Math.min(result.requeueAfterMs ?? Infinity, this.options.trafficRecheckMs ?? DEFAULT_TRAFFIC_RECHECK_MS)
      : result.requeueAfterMs;
    return {
      outcome: 'done', committed: committed.written, version: committed.version,
      ...(requeueAfterMs === undefined ? {} : { requeueAfterMs }),
      ...(verification ? { verification } : {}),
    };
  }

  /**
   * An engine operation (promote, abort, pause …) on `key`: decided on the committed status,
   * committed, then acted on at once (an abort takes the canary's traffic away in this call).
   * Rejects with the engine's `OperationError` when the operation makes no sense now, with
   * {@link StateConflictError} when the record is not at `expectedVersion` or moved meanwhile,
   * with {@link ReconcilerError} `NotFound` for a rollout that does not exist. Does not run a
   * pass: call {@link pass} after it for the state the operation leads to.
   */
  async operate(key: ObjectKey, operation: Operation, options: OperateOptions = {}): Promise<OperateResult> {
    const desired = await this.options.specs.desired(key);
    if (!desired) throw new ReconcilerError('NotFound', `no rollout ${keyId(key)}`);
    const record = await this.options.state.load(key);
    const version = record?.version ?? 0;
    if (options.expectedVersion !== undefined && options.expectedVersion !== version) {
      throw new StateConflictError(key, options.expectedVersion, version);
    }
    const now = this.options.nowMs();
    // A route set by hand is refused here when the provider cannot carry it, not dropped when applied.
    const router = { name: `the ${this.options.traffic.type} traffic provider`, capabilities: this.options.traffic.capabilities, managedRoutesRequired: false };
    const result = applyOperation({ spec: desired.spec, status: record?.status ?? initialStatus(now), operation, now, service: key.name, router });
    const actions: Action[] = options.event ? [{ type: 'event', ...options.event }, ...result.actions] : result.actions;
    const committed = await this.commit(key, desired, record, result.status, actions, { skipWhenIdle: false });
    await this.act(key, desired, committed, actions);
    return { version: committed.version, status: committed.status };
  }

  /**
   * Puts the committed traffic decision in force again with the instances running now (one
   * became ready, or is about to stop); no engine, no commit. Nothing to do for a rollout that
   * does not exist or has no stable revision yet.
   */
  async applyTraffic(key: ObjectKey): Promise<void> {
    const desired = await this.options.specs.desired(key);
    if (!desired) return;
    const record = await this.options.state.load(key);
    const traffic = record && trafficInForce(record.traffic, record.status);
    if (traffic) await this.route(key, desired, traffic);
  }

  /** Drops what the reconciler remembers of `key` (it was removed). */
  forget(key: ObjectKey): void {
    this.applied.delete(keyId(key));
    for (const id of this.throttled.keys()) if (id === keyId(key) || id.startsWith(`${keyId(key)}/`)) this.throttled.delete(id);
  }

  /** Resolves once every scaling call in flight has ended (for a shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.scaling.values()]);
  }

  // ---------------------------------------------------------------------------------------------
  // Steps

  /** What the engine is shown: revisions as the runtime runs them, analysis runs, the canary's count. */
  private async observe(key: ObjectKey, desired: DesiredRollout, record: RolloutRecord | undefined): Promise<{ observed: Observed; verification: Verification | undefined }> {
    const instances = this.options.runtime.listInstances({ namespace: key.namespace, service: key.name });
    const status = record?.status;
    const canary = status?.canaryRevision;
    const canaryRequests = canary && canary !== status?.stableRevision ? await this.options.counters.requests(key, canary) : undefined;
    const observed: Observed = {
      revisions: desired.revisions.map((r) => {
        const mine = instances.filter((i) => i.revision === r.name && i.state !== 'stopping' && i.state !== 'stopped');
        // The instance furthest into a crash loop speaks for the revision.
        const looping = mine.reduce<InstanceInfo | undefined>((w, i) => ((i.restartsSinceReady ?? 0) > (w?.restartsSinceReady ?? 0) ? i : w), undefined);
        return {
          name: r.name, replicas: mine.length, readyReplicas: mine.filter((i) => i.state === 'ready').length,
          ...(looping ? { restartsSinceReady: looping.restartsSinceReady, lastError: oneLine(looping.lastError) } : {}),
        };
      }),
      analysisRuns: await this.options.analysis.list(key),
      ...(canaryRequests === undefined ? {} : { canaryRequests }),
    };
    const verification = record?.traffic && this.options.traffic.capabilities.has('verify')
      ? await this.options.traffic.verify(this.decision(key, desired, record.traffic, instances))
      : undefined;
    // A provider that cannot tell holds nothing: 'unsupported' counts as verified.
    if (verification !== undefined) observed.trafficVerified = verification !== 'pending';
    return { observed, verification };
  }

  /**
   * Commits the status, the traffic decision when it changed, whether the traffic in force is
   * verified and the pass's events, once, at the version the pass read. With `skipWhenIdle`, a
   * pass that changed nothing writes nothing. `verification` is what the pass observed of the
   * record's traffic.
   */
  private async commit(
    key: ObjectKey, desired: DesiredRollout, record: RolloutRecord | undefined, status: RolloutStatus, actions: Action[],
    options: { skipWhenIdle: boolean; verification?: Verification | undefined },
  ): Promise<Committed> {
    const now = this.options.nowMs();
    const events: NewEvent[] = actions.flatMap((a) => (a.type === 'event' ? [{ atMs: now, level: a.level, reason: a.reason, message: a.message }] : []));
    const setTraffic = actions.filter((a) => a.type === 'setTraffic').at(-1);
    const decided = setTraffic && (({ type: _type, ...rest }) => rest)(setTraffic);
    // The engine re-asserts traffic on every pass; only a different decision is worth a write.
    const changedTraffic = decided && !sameJson(decided, record?.traffic) ? decided : undefined;
    const version = record?.version ?? 0;
    const traffic = trafficInForce(changedTraffic ?? record?.traffic, status);
    const trafficVerified = await this.verified(key, desired, traffic, changedTraffic === undefined && record?.traffic !== undefined ? options.verification : undefined);
    // A record whose adapter-side projection went stale (replica counts in a Rollout's status) is
    // written even when the engine changed nothing, so that what people read follows the world.
    // So is one that shows the traffic's verification otherwise than found now.
    const shownVerification = record?.trafficVerified === undefined || record.trafficVerified === (trafficVerified ?? true);
    const idle = options.skipWhenIdle && events.length === 0 && !changedTraffic && record !== undefined && record.stale !== true && shownVerification && sameJson(record.status, status);
    if (idle) return { written: false, version, status, traffic, events: [], trafficVerified };
    const change: RolloutChange = {
      status, ...(changedTraffic ? { traffic: changedTraffic } : {}), ...(events.length ? { events } : {}),
      ...(trafficVerified === undefined ? {} : { trafficVerified }),
    };
    const result = await this.options.state.commit(key, change, version);
    return {
      written: true,
      version: result.version,
      status,
      traffic,
      events: events.map((e, i) => ({ ...e, ...(result.eventIds[i] === undefined ? {} : { id: result.eventIds[i] }) })),
      trafficVerified,
    };
  }

  /**
   * Whether `traffic` is in force on the data plane now: the pass's observation when it was of
   * this same decision, else the provider asked afresh (a decision not yet applied is pending).
   * Undefined when the provider cannot verify or there is no traffic.
   */
  private async verified(key: ObjectKey, desired: DesiredRollout, traffic: TrafficInForce | undefined, observed: Verification | undefined): Promise<boolean | undefined> {
    if (!traffic || !this.options.traffic.capabilities.has('verify')) return undefined;
    const verification = observed
      ?? await this.options.traffic.verify(this.decision(key, desired, traffic, this.options.runtime.listInstances({ namespace: key.namespace, service: key.name })));
    return verification !== 'pending';
  }

  /** Carries out a committed pass's actions in the engine's order (scale-ups, traffic, scale-downs). */
  private async act(key: ObjectKey, desired: DesiredRollout, committed: Committed, actions: Action[]): Promise<void> {
    let routed = false;
    for (const action of actions) {
      switch (action.type) {
        case 'scale':
          this.scale(key, desired, action.revision, action.replicas);
          break;
        case 'setTraffic':
          if (committed.traffic) await this.route(key, desired, committed.traffic);
          routed = true;
          break;
        case 'startAnalysis':
          await this.options.analysis.start(key, { action, stableRevision: committed.status.stableRevision });
          break;
        case 'stopAnalysis':
          await this.options.analysis.stop(key, action.name);
          break;
        case 'retireRevision':
          if (this.options.runtime.listInstances({ namespace: key.namespace, service: key.name, revision: action.revision }).length === 0) {
            await this.options.specs.forgetRevision(key, action.revision);
          }
          break;
        case 'event':
          break;
      }
    }
    // Instances came and went even when the decision did not change: their routes follow.
    if (!routed && committed.traffic) await this.route(key, desired, committed.traffic);
    if (committed.written) this.options.events.committed(key, committed.events);
  }

  /** Brings a revision to `replicas` instances; one scaling call per revision at a time, not awaited. */
  private scale(key: ObjectKey, desired: DesiredRollout, revision: string, replicas: number): void {
    const id = `${keyId(key)}/${revision}`;
    if (this.scaling.has(id) || this.isThrottled(id)) return;
    const template = desired.revisions.find((r) => r.name === revision)?.template;
    if (template === undefined) return;
    const { runtime, beforeStop } = this.options;
    const live = runtime.listInstances({ namespace: key.namespace, service: key.name, revision }).filter((i) => i.state !== 'stopping' && i.state !== 'stopped');
    if (live.length === replicas) return;
    // Set when the server shed the call: the next pass comes once its delay is over.
    let afterMs: number | undefined;
    const work = runtime
      .ensureInstances({ namespace: key.namespace, service: key.name, revision, template, replicas, ...(beforeStop ? { beforeStop: (info: InstanceInfo) => beforeStop(key, info) } : {}) })
      .then(
        () => undefined,
        (err: unknown) => {
          afterMs = this.throttle(id, err);
          this.options.events.emit(key, { atMs: this.options.nowMs(), level: 'error', reason: 'ScaleFailed', message: `revision ${revision}: ${messageOf(err)}` });
        },
      )
      .finally(() => {
        this.scaling.delete(id);
        this.options.requeue(key, afterMs);
      });
    this.scaling.set(id, work);
  }

  /** Puts `traffic` in force with the instances running now, unless exactly that is in force already. */
  private async route(key: ObjectKey, desired: DesiredRollout, traffic: TrafficInForce): Promise<void> {
    const decision = this.decision(key, desired, traffic, this.options.runtime.listInstances({ namespace: key.namespace, service: key.name }));
    const fingerprint = decisionFingerprint(decision);
    if (this.applied.get(keyId(key)) === fingerprint || this.isThrottled(keyId(key))) return;
    try {
      await this.options.traffic.apply(decision);
      this.applied.set(keyId(key), fingerprint);
    } catch (err) {
      // What was in force stays in force; the next pass tries again (once a throttling server allows).
      this.applied.delete(keyId(key));
      this.options.events.emit(key, { atMs: this.options.nowMs(), level: 'error', reason: 'RoutingFailed', message: messageOf(err) });
      const afterMs = this.throttle(keyId(key), err);
      if (afterMs !== undefined) this.options.requeue(key, afterMs);
    }
  }

  /** Holds off the write `id` for as long as the error's server asked; returns that delay, if it asked. */
  private throttle(id: string, err: unknown): number | undefined {
    const afterMs = retryAfterMsOf(err);
    if (afterMs !== undefined && afterMs > 0) this.throttled.set(id, this.options.nowMs() + afterMs);
    return afterMs;
  }

  /** Whether a server's delay still holds off the write `id` (forgotten once over). */
  private isThrottled(id: string): boolean {
    const untilMs = this.throttled.get(id);
    if (untilMs === undefined) return false;
    if (this.options.nowMs() < untilMs) return true;
    this.throttled.delete(id);
    return false;
  }

  private decision(key: ObjectKey, desired: DesiredRollout, traffic: TrafficInForce, instances: InstanceInfo[]): TrafficDecision {
    return {
      namespace: key.namespace,
      service: key.name,
      spec: desired.spec,
      ...(desired.host === undefined ? {} : { host: desired.host }),
      ...(desired.pathPrefix === undefined ? {} : { pathPrefix: desired.pathPrefix }),
      traffic,
      endpoints: endpointsOf(instances),
    };
  }
}

/** The decision in force: the one committed, or all traffic on stable before the first. */
function trafficInForce(traffic: TrafficInForce | undefined, status: RolloutStatus): TrafficInForce | undefined {
  if (traffic) return traffic;
  return status.stableRevision ? { stableRevision: status.stableRevision, canaryWeight: 0, headerRoutes: [], mirrorRoutes: [] } : undefined;
}

/** Instances as traffic endpoints; one still choosing its port has no address to route to yet. */
function endpointsOf(instances: InstanceInfo[]): TrafficEndpoint[] {
  return instances
    .filter((i) => i.state !== 'stopped' && !i.address.endsWith(':0'))
    .map((i) => ({ id: i.id, revision: i.revision, address: i.address, ready: i.state === 'ready', draining: i.state === 'stopping', ...(isLastResort(i) && { lastResort: true }) }));
}

/**
 * What makes two decisions the same, as a string. The spec (pod template and all) is most of a
 * decision and the same object from pass to pass while its generation holds, so its canonical
 * form is remembered per (frozen) object: a pass then serialises only the weights and endpoints.
 */
function decisionFingerprint(decision: TrafficDecision): string {
  const { spec, ...rest } = decision;
  // Only a frozen spec is remembered: one written to in place would keep a stale fingerprint.
  let specPart = spec === undefined ? '' : SPEC_FINGERPRINTS.get(spec);
  if (specPart === undefined) {
    specPart = JSON.stringify(canonical(spec));
    if (spec !== undefined && Object.isFrozen(spec)) SPEC_FINGERPRINTS.set(spec, specPart);
  }
  return `${specPart}|${JSON.stringify(canonical(rest))}`;
}

const SPEC_FINGERPRINTS = new WeakMap<object, string>();

/** Equal as JSON, whatever the key order: records read back from a store may order keys differently. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, canonical(v)]),
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A multi-line error (exit code, then the last output lines) as one line for a status message. */
function oneLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const line = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' | ');
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
