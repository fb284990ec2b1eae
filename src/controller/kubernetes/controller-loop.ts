/**
 * The controller's loop: the Rollout spec source over the caches it is handed, the core's work
 * queue fed by the caches' changes, and the health and metrics servers. The reconcile pass is an
 * option (src/controller/kubernetes/rollout-pass.ts in the composition root), so that the loop is
 * tested apart from it. Under leader election the servers run from `start()` (a standby answers
 * its probes) while the queue takes work only from `lead()`; `standDown()` stops it for good.
 */
import type { KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import type { RolloutSpec } from '../../documents/schema.js';
import { namedServices } from '../../traffic/service-selector/service-targets.js';
import type { AppsV1Api } from '@kubernetes/client-node';
import { WorkQueue, queueKey } from '../core/work-queue.js';
import { requestFailureMessage } from '../../kube/request-timeout.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { ControllerMetrics, type InformerFigures, type ReconcileOutcome } from './controller-metrics.js';
import { HealthServer } from './health-server.js';
import { RolloutSpecSource, type RolloutFlavour, type RolloutObject, type RolloutSpecSourceOptions } from './rollout-spec-source.js';

/** One log line's level. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where the controller logs: one structured record per call. */
export type ControllerLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** The caches the controller reads the cluster through (kept by informers). */
export interface ControllerCaches {
  /** graylane Rollouts. */
  rollouts: ObjectCache<RolloutObject>;
  /** ReplicaSets. */
  replicaSets: ObjectCache<V1ReplicaSet>;
  /** apps/v1 Deployments (for `workloadRef`). */
  deployments: ObjectCache<V1Deployment>;
  /** Pods: a pod's change reconciles the Rollout owning its ReplicaSet (readiness moves passes). */
  pods?: ObjectCache<V1Pod> | undefined;
  /** Services: a Service's change reconciles the Rollouts naming it (a missing one created). */
  services?: ObjectCache<V1Service> | undefined;
}

/** Options of {@link ControllerLoop}. */
export interface ControllerLoopOptions {
  /** The caches; see {@link ControllerCaches}. */
  caches: ControllerCaches;
  /** Every informer's figures, for `/metrics`. */
  informerFigures?: (() => InformerFigures[]) | undefined;
  /** Where retired ReplicaSets are deleted. */
  apps: AppsV1Api;
  /** A release member's spec (see {@link RolloutSpecSourceOptions.memberSpec}). */
  memberSpec?: RolloutSpecSourceOptions['memberSpec'];
  /**
   * One reconcile pass of `namespace/name` with the spec source: the core's reconciler over the
   * Kubernetes adapters (supplied at merge). Resolves to how it ended; a rejection is retried.
   */
  reconcile: (key: { namespace: string; name: string }, specs: RolloutSpecSource) => Promise<Exclude<ReconcileOutcome, 'error'>>;
  /** Keys reconciled at once; the work queue's concurrency. */
  workers: number;
  /** `host:port` of `/healthz` and `/readyz`. */
  healthAddr: string;
  /** `host:port` of `/metrics`. */
  metricsAddr: string;
  /** Structured log. */
  log: ControllerLog;
  /**
   * Whether a Lease decides who works: then `start()` starts the servers only and the queue
   * waits for `lead()`. Default false: `start()` leads at once.
   */
  leaderElection?: boolean | undefined;
  /** Whose Rollouts the spec source reads (default `graylane`). */
  flavour?: RolloutFlavour | undefined;
  /**
   * A pass running this long is logged as a warning, again at each further multiple (default
   * 30 s): a pass that hangs holds its Rollout, and every change to it waits behind it.
   */
  slowPassWarnMs?: number | undefined;
  /** The API requests' timeout, as the log names it. */
  requestTimeoutMs?: number | undefined;
  /** API requests sent a second time since the start (for `/metrics`). */
  requestsRetried?: (() => number) | undefined;
}

/** A controller is started once: its queue and servers are not restartable. */
export class ControllerStartedError extends Error {
  /** Stable code for callers. */
  readonly code = 'ControllerAlreadyStarted';
  constructor() {
    super('this controller was already started; build a new one');
    this.name = 'ControllerStartedError';
  }
}

/** The Rollout a ReplicaSet belongs to: its controlling owner of kind Rollout. */
function ownerRollout(object: KubernetesObject): string | undefined {
  const owner = object.metadata?.ownerReferences?.find((o) => o.kind === 'Rollout' && o.controller === true);
  return owner && object.metadata?.namespace ? queueKey({ namespace: object.metadata.namespace, name: owner.name }) : undefined;
}

/** See the file comment. */
export class ControllerLoop {
  /** The spec source over the caches (the reconcile pass is handed it). */
  readonly specs: RolloutSpecSource;
  private readonly metrics: ControllerMetrics;
  private readonly queue: WorkQueue;
  private server: HealthServer | undefined;
  private unsubscribe: (() => void)[] = [];
  private slowPassTimer: NodeJS.Timeout | undefined;
  /** Per running key, the multiples of `slowPassWarnMs` already logged. */
  private readonly slowPassWarned = new Map<string, number>();
  private state: 'new' | 'running' | 'stopped' = 'new';
  private leading: 'not-yet' | 'leading' | 'stood-down' = 'not-yet';

  constructor(private readonly options: ControllerLoopOptions) {
    const { caches, apps } = options;
    this.specs = new RolloutSpecSource({ ...caches, apps, flavour: options.flavour, memberSpec: options.memberSpec });
    this.queue = new WorkQueue({
      concurrency: options.workers,
      handler: (key) => this.pass(key),
      onError: ({ key, error, failures, retryInMs }) => options.log('error', 'reconcile failed', { key, error: requestFailureMessage(error, options.requestTimeoutMs), failures, retryInMs }),
    });
    this.metrics = new ControllerMetrics({
      queueDepth: () => this.queue.length,
      longestRunningSeconds: () => (this.queue.running()[0]?.forMs ?? 0) / 1000,
      informers: options.informerFigures,
      requestsRetried: options.requestsRetried,
      rolloutsByPhase: () => {
        const counts: Record<string, number> = {};
        for (const r of caches.rollouts.list()) {
          const phase = (r.status as { phase?: unknown } | undefined)?.phase;
          if (typeof phase === 'string') counts[phase] = (counts[phase] ?? 0) + 1;
        }
        return counts;
      },
    });
    this.metrics.setLeader(false);
  }

  /** The figures `/metrics` serves (the composition root adds what it knows). */
  get controllerMetrics(): ControllerMetrics {
    return this.metrics;
  }

  /** Queues `key` (`namespace/name`) now, or after `afterMs`; nothing once stood down or stopped. */
  requeue(key: string, afterMs = 0): void {
    if (this.leading !== 'leading' || this.state !== 'running') return;
    if (afterMs > 0) this.queue.addAfter(key, afterMs);
    else this.queue.add(key);
  }

  /** Whether the queue takes work now. */
  get isLeading(): boolean {
    return this.leading === 'leading';
  }

  /** Base URLs of the health and metrics servers once started. */
  get urls(): { health: string; metrics: string } | undefined {
    return this.server ? { health: this.server.healthUrl, metrics: this.server.metricsUrl } : undefined;
  }

  /**
   * Starts the servers and, without leader election, feeds the queue from the caches' changes
   * (each Rollout once at start).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ControllerStartedError();
    this.state = 'running';
    const { caches, log } = this.options;
    this.server = await HealthServer.start({
      healthAddr: this.options.healthAddr,
      metricsAddr: this.options.metricsAddr,
      metrics: this.metrics,
      checks: {
        notAlive: () => (this.state === 'running' ? undefined : 'the controller is stopping'),
        notReady: () => {
          for (const [kind, cache] of [['Rollout', caches.rollouts], ['ReplicaSet', caches.replicaSets], ['Deployment', caches.deployments]] as const) {
            if (!cache.synced()) return `the ${kind} cache has not listed yet`;
          }
          return undefined;
        },
      },
    });
    log('info', 'controller started', { health: this.server.healthUrl, metrics: this.server.metricsUrl, workers: this.options.workers });
    if (this.options.leaderElection !== true) this.lead();
  }

  /**
   * Feeds the queue from the caches' changes, each Rollout once now: this controller leads.
   * Once only: after {@link standDown} a controller does not lead again (the process exits, as
   * Argo Rollouts' does, and comes back as a candidate).
   */
  lead(): void {
    if (this.state !== 'running' || this.leading !== 'not-yet') return;
    this.leading = 'leading';
    this.metrics.setLeader(true);
    const { caches, log } = this.options;
    const enqueue = (key: string | undefined): void => {
      if (key !== undefined && this.state === 'running' && this.leading === 'leading') this.queue.add(key);
    };
    const rolloutKey = (o: KubernetesObject): string | undefined => (o.metadata?.namespace && o.metadata.name ? queueKey({ namespace: o.metadata.namespace, name: o.metadata.name }) : undefined);
    this.unsubscribe = [
      caches.rollouts.onChange((c) => enqueue(rolloutKey(c.object))),
      caches.replicaSets.onChange((c) => enqueue(ownerRollout(c.object))),
      // A Deployment changes the Rollouts that take their template from it.
      caches.deployments.onChange((c) => {
        for (const r of caches.rollouts.list({ namespace: c.object.metadata?.namespace })) {
          const ref = (r.spec as { workloadRef?: { kind?: string; name?: string } } | undefined)?.workloadRef;
          if (ref?.kind === 'Deployment' && ref.name === c.object.metadata?.name) enqueue(rolloutKey(r));
        }
      }),
    ];
    if (caches.pods) {
      this.unsubscribe.push(caches.pods.onChange((c) => {
        const owner = c.object.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet' && o.controller === true);
        const rs = owner && c.object.metadata?.namespace ? caches.replicaSets.get(c.object.metadata.namespace, owner.name) : undefined;
        if (rs) enqueue(ownerRollout(rs));
      }));
    }
    if (caches.services) {
      this.unsubscribe.push(caches.services.onChange((c) => {
        for (const r of caches.rollouts.list({ namespace: c.object.metadata?.namespace })) {
          if (namedServices(r.spec as RolloutSpec | undefined).some((s) => s.service === c.object.metadata?.name)) enqueue(rolloutKey(r));
        }
      }));
    }
    for (const r of caches.rollouts.list()) enqueue(rolloutKey(r));
    const slowMs = this.options.slowPassWarnMs ?? 30_000;
    this.slowPassTimer = setInterval(() => this.warnSlowPasses(slowMs), Math.min(5_000, Math.max(100, slowMs / 4)));
    this.slowPassTimer.unref();
    log('info', 'leading: reconciling', { workers: this.options.workers });
  }

  /** Stops taking changes and lets running passes finish: this controller no longer leads. */
  async standDown(): Promise<void> {
    if (this.leading === 'stood-down') return;
    const was = this.leading;
    this.leading = 'stood-down';
    this.metrics.setLeader(false);
    clearInterval(this.slowPassTimer);
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.queue.shutdown();
    if (was === 'leading') this.options.log('info', 'stood down: the queue is stopped');
  }

  /** Stops taking changes, lets running passes finish, closes the servers. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await this.standDown();
    await this.server?.close();
    this.options.log('info', 'controller stopped');
  }

  private warnSlowPasses(slowMs: number): void {
    const running = this.queue.running();
    for (const key of this.slowPassWarned.keys()) if (!running.some((r) => r.key === key)) this.slowPassWarned.delete(key);
    for (const { key, forMs } of running) {
      const multiple = Math.floor(forMs / slowMs);
      if (multiple < 1 || multiple <= (this.slowPassWarned.get(key) ?? 0)) continue;
      this.slowPassWarned.set(key, multiple);
      this.options.log('warn', 'reconcile pass still running', { key, runningMs: forMs, hint: 'changes to this Rollout wait until the pass ends; a request to the API server without an answer is cut at the request timeout' });
    }
  }

  private async pass(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const started = performance.now();
    try {
      const outcome = await this.options.reconcile({ namespace: key.slice(0, slash), name: key.slice(slash + 1) }, this.specs);
      this.metrics.observeReconcile({ outcome, durationSeconds: (performance.now() - started) / 1000 });
    } catch (error) {
      this.metrics.observeReconcile({ outcome: 'error', durationSeconds: (performance.now() - started) / 1000 });
      throw error;
    }
  }
}
