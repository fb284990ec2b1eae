/**
 * The guard on Kubernetes: the core guard loop (the same sequential test as on a single host),
 * fed from Prometheus (metrics/prometheus/prometheus-counters.ts) instead of the built-in router,
 * ticking every few seconds on the leader only. Each tick reads every guarded canary's counters
 * first (Prometheus is asynchronous, the loop is not) and then judges only the canaries whose
 * figures came back: a canary with missing figures is not judged (its test starts afresh once
 * they return), never failed or passed on them, and the Rollout gets an Event saying why. A
 * Failed verdict commits the engine's `guardAbort` through the core reconciler, which puts
 * traffic back on stable in the same call; an abort that could not be committed is retried on
 * every tick.
 */
import { DEFAULT_CLUSTER_GUARD_TICK_MS, OperationError, type RolloutStatus } from '../../engine/index.js';
import type { CanaryStrategy, RolloutSpec } from '../../documents/schema.js';
import type { CanaryCounterTarget, PrometheusCounters } from '../../metrics/prometheus/prometheus-counters.js';
import type { NewEvent, ObjectKey } from '../../state/state-port.js';
import { GuardLoop, guardTargets, type GuardCandidate } from '../core/guard-loop.js';
import type { Reconciler } from '../core/reconciler.js';
import type { ControllerLog } from './controller-loop.js';

/** The guard's tick on Kubernetes when none is configured. */
export const DEFAULT_CLUSTER_GUARD_INTERVAL_MS = DEFAULT_CLUSTER_GUARD_TICK_MS;

/** One Rollout the guard may judge, as the caches have it now. */
export interface ClusterGuardRollout {
  /** Its key. */
  key: ObjectKey;
  /** Its spec (valid Rollouts only). */
  spec: RolloutSpec;
  /** Its committed status, if any. */
  status: RolloutStatus | undefined;
}

/** Options of {@link KubernetesGuard}. */
export interface KubernetesGuardOptions {
  /** The Rollouts now, valid ones only. */
  rollouts: () => Promise<ClusterGuardRollout[]>;
  /** Where the counters come from. */
  counters: PrometheusCounters;
  /** The reconciler that commits and acts on an abort. */
  reconciler: Pick<Reconciler, 'operate'>;
  /** A pass after an abort (the rest of the abort: scale-down timers, status). */
  requeue: (key: ObjectKey) => void;
  /** An Event about a Rollout (outside a commit). */
  emit: (key: ObjectKey, event: NewEvent) => void;
  /** Structured log. */
  log: ControllerLog;
  /** Tick interval; default {@link DEFAULT_CLUSTER_GUARD_INTERVAL_MS}. */
  intervalMs?: number | undefined;
  /** Clock, epoch ms. */
  nowMs: () => number;
}

const keyId = (k: ObjectKey): string => `${k.namespace}/${k.name}`;
const keyOf = (id: string): ObjectKey => ({ namespace: id.slice(0, id.indexOf('/')), name: id.slice(id.indexOf('/') + 1) });

/** See the file comment. */
export class KubernetesGuard {
  private readonly loop: GuardLoop;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The candidates of the tick under way, with figures. */
  private judged: GuardCandidate[] = [];
  /** Canaries whose figures are missing now, with the reason last said (said again only when it changes). */
  private readonly blind = new Map<string, string>();

  constructor(private readonly options: KubernetesGuardOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_CLUSTER_GUARD_INTERVAL_MS;
    this.loop = new GuardLoop({
      counters: {
        totals: (q) => options.counters.totals(q.service, q.revision),
        // No "last minute" of stable on a data plane read every few seconds: the latency threshold is
        // fixed from stable's first requests once the canary runs.
        recentLatency: () => ({ boundsMs: [], counts: [0] }),
      },
      candidates: () => this.judged,
      abort: (service, reason) => void this.abort(service, reason),
      tickMs: this.intervalMs,
      nowMs: options.nowMs,
    });
  }

  /** Starts ticking (the leader). Idempotent. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
  }

  /** Stops ticking; resolves once a tick under way has ended. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One tick: read every guarded canary's figures, then judge those that have them. */
  async tick(): Promise<void> {
    const rollouts = await this.options.rollouts();
    const candidates: GuardCandidate[] = rollouts.map((r) => ({ service: keyId(r.key), strategy: r.spec.strategy.canary, status: r.status }));
    const targets = guardTargets(candidates).filter((t) => guardWanted(t.strategy));
    const reads: CanaryCounterTarget[] = targets.map((t) => {
      const key = keyOf(t.service);
      return { key: t.service, namespace: key.namespace, rollout: key.name, strategy: t.strategy, canaryRevision: t.canaryRevision, stableRevision: t.stableRevision };
    });
    const failures = new Map((await this.options.counters.refresh(reads)).map((f) => [f.key, f.message]));
    for (const [service, message] of failures) this.sayBlind(service, message);
    for (const service of [...this.blind.keys()]) {
      if (failures.has(service)) continue;
      this.blind.delete(service);
      if (targets.some((t) => t.service === service)) this.say(service, 'info', 'GuardResumed', 'the guard reads the canary’s figures from Prometheus again and judges it');
    }
    this.judged = candidates.filter((c) => targets.some((t) => t.service === c.service) && !failures.has(c.service));
    this.loop.tick();
    this.loop.retryHeld();
  }

  /** The guard's live verdict on a Rollout's canary. */
  verdict(key: ObjectKey): ReturnType<GuardLoop['verdict']> {
    return this.loop.verdict(keyId(key));
  }

  private sayBlind(service: string, message: string): void {
    if (this.blind.get(service) === message) return;
    this.blind.set(service, message);
    this.say(service, 'warning', 'GuardNoData', `the guard cannot judge the canary: ${message}; it judges nothing until the figures are back`);
  }

  private say(service: string, level: NewEvent['level'], reason: string, message: string): void {
    this.options.emit(keyOf(service), { atMs: this.options.nowMs(), level, reason, message });
  }

  private async abort(service: string, reason: string): Promise<void> {
    const key = keyOf(service);
    try {
      await this.options.reconciler.operate(key, { type: 'guardAbort', reason });
      this.loop.releaseAbort(service);
      this.options.requeue(key);
    } catch (err) {
      // Aborted already, or nothing to abort any more: done.
      if (err instanceof OperationError) {
        this.loop.releaseAbort(service);
        return;
      }
      this.loop.holdAbort(service, reason);
      this.options.log('warn', 'guard: the abort failed; retried on the next tick', { rollout: service, error: (err as Error).message });
    }
  }
}

/** Whether a canary strategy asks for the guard (it is on unless `enabled: false`). */
export function guardWanted(canary: CanaryStrategy | undefined): boolean {
  return canary !== undefined && canary.guard !== undefined && canary.guard.enabled !== false;
}
