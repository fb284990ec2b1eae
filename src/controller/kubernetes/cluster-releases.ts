/**
 * Releases on a cluster: the core's release loop over Release objects (graylane.dev), run by the
 * leading controller only. A pass over a Release reads its members' committed statuses from the
 * Rollouts' cache, decides (pure), commits the release's memory in the Release's status at the
 * version read (a conflict decides again: the core loop), then operates the members through the
 * reconciler (open a gate for all, abort all), and asks for their passes.
 *
 * Passes over one Release never overlap; a change while one runs (the Release, a member Rollout)
 * runs one more after it. A periodic resync ticks every Release too, for timed gates
 * (`pause: {duration}`) and the skew window's end, which no object change announces.
 *
 * A person's operation on a Release (`graylane promote shop` against a cluster) arrives as a
 * request annotation on it (src/kube/release-operation.ts); a pass carries it out through the
 * core loop before it ticks, and answers it in another annotation.
 */
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { OperationError, type UserOperation } from '../../engine/index.js';
import { ReleaseOperationError } from '../../engine/release/operate.js';
import type { EventRecorder } from '../../kube/event-recorder.js';
import { FIELD_MANAGER, GRAYLANE_API_VERSION } from '../../kube/names.js';
import {
  parseReleaseOperationRequest, parseReleaseOperationResult, RELEASE_OPERATION_ANNOTATION, RELEASE_OPERATION_RESULT_ANNOTATION, type ReleaseOperationResult,
} from '../../kube/release-operation.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import type { RolloutFlavour } from '../../kube/rollout-flavour.js';
import { readEngineMemory } from '../../state/kubernetes/engine-memory.js';
import { releaseStateOf, type ReleaseObject } from '../../state/kubernetes/kubernetes-release-state.js';
import type { RolloutObject } from '../../state/kubernetes/kubernetes-state.js';
import { StateConflictError, type NewEvent, type ObjectKey } from '../../state/state-port.js';
import type { RolloutStatus } from '../../engine/index.js';
import { ReleaseLoop, type ReleaseLoopHost, type ReleaseStateStore } from '../core/release-loop.js';
import type { Reconciler } from '../core/reconciler.js';
import type { ControllerLog } from './controller-loop.js';
import { releaseFromObject, releasesNaming } from './release-members.js';
import type { KubernetesAnalysis } from './kubernetes-analysis.js';

/** How often every Release is ticked without a change (timed gates, the skew window). */
export const RELEASE_RESYNC_MS = 2_000;

/**
 * How long an old revision a release retires stays up after its pin routes go: the time ingress
 * controllers and sidecars take to apply a route change (Argo waits 30 s, `scaleDownDelaySeconds`,
 * after a switch for the same reason).
 */
export const RETIRE_AFTER_PINS_MS = 30_000;

/** Tries of a member operation that lost a race with the member's own pass. */
const MEMBER_OPERATION_TRIES = 5;

/** Options of {@link ClusterReleases}. */
export interface ClusterReleasesOptions {
  /** The Releases' cache. */
  releases: ObjectCache<ReleaseObject>;
  /** The Rollouts' cache (members' statuses are read from the engine's memory there). */
  rollouts: ObjectCache<RolloutObject>;
  /** Whose Rollouts. */
  flavour: RolloutFlavour;
  /** Where release memory is committed. */
  state: ReleaseStateStore;
  /** Member operations: commit, then act. */
  reconciler: Pick<Reconciler, 'operate'>;
  /** Asks for a member's pass. */
  requeue(key: ObjectKey, afterMs?: number): void;
  /** Whether this controller leads (only the leader runs releases). */
  leading(): boolean;
  /** Posts Events about Releases. */
  recorder: Pick<EventRecorder, 'post'>;
  /** Structured log. */
  log: ControllerLog;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** Resync period; default {@link RELEASE_RESYNC_MS}. */
  resyncMs?: number | undefined;
  /** Where answers to people's operations are written. */
  kubeConfig: KubeConfig;
  /** Every event about a Release also goes here (notifications of its transitions); by the Release's key. */
  onEvent?: ((key: ObjectKey, event: NewEvent) => void) | undefined;
  /** Where a release gate's analysis runs, as an AnalysisRun of the member it measures; absent: gates with analysis cannot run. */
  analysis?: Pick<KubernetesAnalysis, 'start' | 'stop' | 'phaseOf'> | undefined;
}

/**
 * The name a release gate's run (`<release>.<generation>.step-<n>`, engine/release/decide.ts)
 * takes as an AnalysisRun of a member: the engine's shape `<revision>.<attempt>.step.<n>`, which
 * gives the object a DNS-safe name (`<member>-<release>-<generation in hex>-0-<n>`).
 */
export function gateRunName(releaseRun: string): string {
  const m = /^(.*)\.([A-Za-z0-9_-]+)\.step-([0-9]+)$/.exec(releaseRun);
  if (!m) return releaseRun;
  return `${m[1]}-${Buffer.from(m[2]!, 'base64url').toString('hex')}.0.step.${m[3]}`;
}

const id = (key: ObjectKey): string => `${key.namespace}/${key.name}`;

/** See the file comment. */
export class ClusterReleases {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Member operations in flight, so that {@link stop} waits for them. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: ClusterReleasesOptions) {}

  /** Listens to Releases and Rollouts and starts the resync. */
  start(): void {
    const o = this.options;
    this.unsubscribe.push(o.releases.onChange((c) => {
      const key = keyOf(c.object);
      if (!key) return;
      // A member's spec comes from its Release: the members' passes see the new timeline.
      for (const service of c.object.spec?.services ?? []) o.requeue({ namespace: key.namespace, name: service });
      if (c.type !== 'deleted') this.schedule(key);
    }));
    this.unsubscribe.push(o.rollouts.onChange((c) => {
      const key = keyOf(c.object);
      if (!key) return;
      for (const release of releasesNaming(o.releases, key.namespace, key.name)) {
        const rk = keyOf(release);
        if (rk) this.schedule(rk);
      }
    }));
    this.timer = setInterval(() => {
      for (const release of o.releases.list()) {
        const key = keyOf(release);
        if (key) this.schedule(key);
      }
    }, o.resyncMs ?? RELEASE_RESYNC_MS);
    this.timer.unref();
  }

  /** Stops listening; resolves once passes and member operations in flight settled. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const u of this.unsubscribe.splice(0)) u();
    await Promise.allSettled([...this.running.values(), ...this.inFlight]);
  }

  /** Runs a pass over `key` (after the one running, if any); only while leading. */
  schedule(key: ObjectKey): void {
    if (!this.options.leading() || !this.options.releases.synced() || !this.options.rollouts.synced()) return;
    const k = id(key);
    if (this.running.has(k)) {
      this.again.add(k);
      return;
    }
    const run = this.pass(key)
      .catch((error: unknown) => this.options.log('warn', 'release pass failed', { release: k, error: (error as Error).message }))
      .finally(() => {
        this.running.delete(k);
        if (this.again.delete(k)) this.schedule(key);
      });
    this.running.set(k, run);
  }

  /** One pass over a Release (gone: nothing to do; its members go on as Rollouts of their own). */
  private async pass(key: ObjectKey): Promise<void> {
    const object = this.options.releases.get(key.namespace, key.name);
    if (!object) return;
    const loop = this.loop(key.namespace, object);
    await this.answerRequest(key, object, loop);
    await loop.tick(releaseFromObject(object));
    // The canary's pins stay through an abort's grace (release-pins.ts): the members' passes take them away when it ends.
    const state = releaseStateOf(this.options.releases.get(key.namespace, key.name));
    const leftMs = state?.phase === 'aborted' && state.abortGraceUntilMs !== undefined ? state.abortGraceUntilMs - this.options.nowMs() : -1;
    if (leftMs >= 0) for (const m of state!.members) this.options.requeue({ namespace: key.namespace, name: m.service }, leftMs + 50);
  }

  /** Carries out a person's pending operation on the Release, once (see src/kube/release-operation.ts), and answers it. */
  private async answerRequest(key: ObjectKey, object: ReleaseObject, loop: ReleaseLoop): Promise<void> {
    const unanswered = (o: ReleaseObject): boolean => {
      const annotations = o.metadata?.annotations ?? {};
      const asked = parseReleaseOperationRequest(annotations[RELEASE_OPERATION_ANNOTATION]);
      return asked !== undefined && parseReleaseOperationResult(annotations[RELEASE_OPERATION_RESULT_ANNOTATION])?.id !== asked.id;
    };
    if (!unanswered(object)) return;
    const [group, apiVersion] = GRAYLANE_API_VERSION.split('/') as [string, string];
    const api = this.options.kubeConfig.makeApiClient(CustomObjectsApi);
    const where = { group, version: apiVersion, namespace: key.namespace, plural: 'releases', name: key.name };
    // The cache may not show the answer the previous pass wrote yet: an answered request must never be answered again.
    const fresh = await api.getNamespacedCustomObject(where) as ReleaseObject;
    if (!unanswered(fresh)) return;
    const request = parseReleaseOperationRequest(fresh.metadata?.annotations?.[RELEASE_OPERATION_ANNOTATION])!;
    const version = (await this.options.state.loadRelease(key))?.version ?? 0;
    let result: ReleaseOperationResult;
    if (version !== request.version) {
      result = { id: request.id, outcome: 'stale', message: `release ${key.name} changed since the operation was asked (version ${request.version}, now ${version})` };
    } else {
      try {
        await loop.operate(releaseFromObject(object), request.operation as UserOperation);
        result = { id: request.id, outcome: 'done', message: `${request.operation.type} carried out on release ${key.name}` };
      } catch (error) {
        if (!(error instanceof ReleaseOperationError)) throw error;
        result = { id: request.id, outcome: 'refused', message: error.message };
      }
    }
    await api.patchNamespacedCustomObject(
      { ...where, body: { metadata: { annotations: { [RELEASE_OPERATION_RESULT_ANNOTATION]: JSON.stringify(result) } } }, fieldManager: FIELD_MANAGER },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.options.log('info', 'release operation', { release: id(key), operation: request.operation.type, outcome: result.outcome });
  }

  /** The core loop over one namespace's Rollouts, with this controller's ports. */
  private loop(namespace: string, object: ReleaseObject): ReleaseLoop {
    const o = this.options;
    const member = (service: string): ObjectKey => ({ namespace, name: service });
    const host: ReleaseLoopHost = {
      status: (service) => readEngineMemory(o.rollouts.get(namespace, service), o.flavour)?.engine as RolloutStatus | undefined,
      operate: (service, operation, why) => this.operateMember(member(service), operation, { level: 'info', reason: `Release${cap(operation.type)}`, message: why }),
      // The gate's run measures the first member's canary, as an AnalysisRun of that member.
      startAnalysis: (service, analysis, stableRevision) => {
        if (!o.analysis) {
          this.event(object, 'warning', 'AnalysisUnsupported', `the release's analysis gate on ${service} cannot run: this controller runs no analysis`);
          return;
        }
        o.analysis.start(member(service), { action: { ...analysis, name: gateRunName(analysis.name) }, stableRevision })
          .catch((error: unknown) => o.log('warn', 'release gate analysis could not start', { release: `${namespace}/${object.metadata?.name ?? ''}`, error: (error as Error).message }));
      },
      analysisPhase: (service, name) => o.analysis?.phaseOf(member(service), gateRunName(name)),
      stopAnalysis: (name) => {
        for (const service of object.spec.services) {
          o.analysis?.stop(member(service), gateRunName(name))
            .catch((error: unknown) => o.log('warn', 'release gate analysis could not stop', { rollout: `${namespace}/${service}`, error: (error as Error).message }));
        }
      },
      // No data plane on a cluster reports pinned requests: the skew window runs to its end.
      lastPinnedStableMs: () => undefined,
      // Not at once: the pin routes to it go in the same breath, and a data plane takes a moment to let go of its pods.
      retireOld: (service, revision) => this.operateMember(member(service), { type: 'endScaleDownDelay', revision, atMs: o.nowMs() + RETIRE_AFTER_PINS_MS }),
      event: (_release, level, reason, message) => this.event(object, level, reason, message),
      nowMs: o.nowMs,
      random: () => ({ generation: randomBytes(6).toString('base64url'), secret: randomBytes(24).toString('base64url') }),
      changed: (release) => o.log('info', 'release changed', { release: `${namespace}/${release}` }),
    };
    return new ReleaseLoop({ state: o.state, namespace, host });
  }

  /**
   * A member operation through the reconciler (commit, then act), retried when it lost a race
   * with the member's own pass; one that no longer makes sense (the member moved on) is dropped,
   * as on a single host. Then the member's pass runs.
   */
  private operateMember(key: ObjectKey, operation: Parameters<Reconciler['operate']>[1], event?: { level: 'info'; reason: string; message: string }): void {
    const work = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.options.reconciler.operate(key, operation, event ? { event } : {});
          break;
        } catch (error) {
          if (error instanceof OperationError) break;
          if (error instanceof StateConflictError && attempt < MEMBER_OPERATION_TRIES) continue;
          this.options.log('warn', 'release member operation failed', { rollout: id(key), operation: operation.type, error: (error as Error).message });
          break;
        }
      }
      this.options.requeue(key);
    })();
    const tracked: Promise<void> = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private event(object: ReleaseObject, level: 'info' | 'warning' | 'error', reason: string, message: string): void {
    const meta = object.metadata ?? {};
    const key = keyOf(object);
    if (key) this.options.onEvent?.(key, { atMs: this.options.nowMs(), level, reason, message });
    this.options.recorder.post({
      object: { apiVersion: GRAYLANE_API_VERSION, kind: 'Release', namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid, resourceVersion: meta.resourceVersion },
      level: level === 'error' ? 'warning' : level, reason, message,
    });
  }
}

function keyOf(object: { metadata?: { namespace?: string | undefined; name?: string | undefined } | undefined }): ObjectKey | undefined {
  const namespace = object.metadata?.namespace;
  const name = object.metadata?.name;
  return namespace && name ? { namespace, name } : undefined;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
