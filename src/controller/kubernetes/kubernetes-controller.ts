/**
 * The Kubernetes composition root, as far as it exists: the caches it is handed, the Rollout spec
 * source over them, the core's work queue fed by the caches' changes, and the health and metrics
 * servers. NOT YET WIRED: the reconcile pass itself (the core's reconciler over the Kubernetes
 * runtime, state and traffic adapters), the informers that fill the caches, and leader election.
 * They are options here, supplied at merge; nothing stands in for them, and
 * {@link KUBERNETES_CONTROLLER_MISSING} says what the `graylane controller` command still lacks.
 */
import type { KubernetesObject, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import type { AppsV1Api } from '@kubernetes/client-node';
import { WorkQueue, queueKey } from '../core/work-queue.js';
import type { ObjectCache } from '../../kube/object-cache.js';
import { ControllerMetrics, type InformerFigures, type ReconcileOutcome } from './controller-metrics.js';
import { HealthServer } from './health-server.js';
import { RolloutSpecSource, type RolloutObject } from './rollout-spec-source.js';

/**
 * Why `graylane controller` cannot run end to end yet: what must land before a KubernetesController
 * can be built from flags alone. Undefined once it can.
 */
export const KUBERNETES_CONTROLLER_MISSING: string | undefined =
  'the Kubernetes controller cannot run yet: its informers, leader election and the reconcile pass over the Kubernetes runtime, state and traffic adapters are not built';

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
}

/** Options of {@link KubernetesController}. */
export interface KubernetesControllerOptions {
  /** The caches; see {@link ControllerCaches}. */
  caches: ControllerCaches;
  /** Every informer's figures, for `/metrics`. */
  informerFigures?: (() => InformerFigures[]) | undefined;
  /** Where retired ReplicaSets are deleted. */
  apps: AppsV1Api;
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
export class KubernetesController {
  private readonly specs: RolloutSpecSource;
  private readonly metrics: ControllerMetrics;
  private readonly queue: WorkQueue;
  private server: HealthServer | undefined;
  private unsubscribe: (() => void)[] = [];
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(private readonly options: KubernetesControllerOptions) {
    const { caches, apps } = options;
    this.specs = new RolloutSpecSource({ ...caches, apps });
    this.queue = new WorkQueue({
      concurrency: options.workers,
      handler: (key) => this.pass(key),
      onError: ({ key, error, failures, retryInMs }) => options.log('error', 'reconcile failed', { key, error: (error as Error).message, failures, retryInMs }),
    });
    this.metrics = new ControllerMetrics({
      queueDepth: () => this.queue.length,
      informers: options.informerFigures,
      rolloutsByPhase: () => {
        const counts: Record<string, number> = {};
        for (const r of caches.rollouts.list()) {
          const phase = (r.status as { phase?: unknown } | undefined)?.phase;
          if (typeof phase === 'string') counts[phase] = (counts[phase] ?? 0) + 1;
        }
        return counts;
      },
    });
    // Without leader election this controller is the only one: it leads.
    this.metrics.setLeader(true);
  }

  /** Base URLs of the health and metrics servers once started. */
  get urls(): { health: string; metrics: string } | undefined {
    return this.server ? { health: this.server.healthUrl, metrics: this.server.metricsUrl } : undefined;
  }

  /** Starts the servers and feeds the queue from the caches' changes (each Rollout once at start). */
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
    const enqueue = (key: string | undefined): void => {
      if (key !== undefined && this.state === 'running') this.queue.add(key);
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
    for (const r of caches.rollouts.list()) enqueue(rolloutKey(r));
    log('info', 'controller started', { health: this.server.healthUrl, metrics: this.server.metricsUrl, workers: this.options.workers });
  }

  /** Stops taking changes, lets running passes finish, closes the servers. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.queue.shutdown();
    await this.server?.close();
    this.options.log('info', 'controller stopped');
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
