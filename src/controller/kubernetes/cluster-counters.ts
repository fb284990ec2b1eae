/**
 * Builds the cluster's Prometheus counters and the guard over them from the controller's caches:
 * which canaries are under way (valid Rollouts with a committed canary) and where each one's
 * Prometheus is (its `guard.prometheus.address`, else `--prometheus-url`). Kept apart from the
 * root so the root only wires.
 */
import type { ObjectCache } from '../../kube/object-cache.js';
import { PrometheusCounters, type CanaryCounterTarget } from '../../metrics/prometheus/prometheus-counters.js';
import type { KubernetesState } from '../../state/kubernetes/kubernetes-state.js';
import type { NewEvent, ObjectKey } from '../../state/state-port.js';
import type { Reconciler } from '../core/reconciler.js';
import type { ControllerLog } from './controller-loop.js';
import { KubernetesGuard, type ClusterGuardRollout } from './kubernetes-guard.js';
import type { RolloutObject, RolloutSpecSource } from './rollout-spec-source.js';

/** Options of {@link clusterCounters}. */
export interface ClusterCountersOptions {
  /** The cached Rollouts. */
  rollouts: ObjectCache<RolloutObject>;
  /** Their specs, checked. */
  specs: Pick<RolloutSpecSource, 'check'>;
  /** Their committed statuses. */
  state: Pick<KubernetesState, 'load'>;
  /** Commits the guard's aborts. */
  reconciler: Pick<Reconciler, 'operate'>;
  /** An Event about a Rollout. */
  emit: (key: ObjectKey, event: NewEvent) => void;
  /** A pass for a Rollout. */
  requeue: (key: ObjectKey) => void;
  /** Structured log. */
  log: ControllerLog;
  /** Clock, epoch ms. */
  nowMs: () => number;
  /** `--prometheus-url`. */
  prometheusUrl?: string | undefined;
  /** `--guard-interval`. */
  guardIntervalMs?: number | undefined;
}

/** The counters and the guard of one controller. */
export function clusterCounters(options: ClusterCountersOptions): { counters: PrometheusCounters; guard: KubernetesGuard } {
  const valid = (key: ObjectKey): ClusterGuardRollout['spec'] | undefined => {
    try {
      const c = options.specs.check(key);
      return c.state === 'valid' ? c.desired.spec : undefined;
    } catch {
      // Caches not listed yet: nothing to judge.
      return undefined;
    }
  };
  const rollouts = async (): Promise<ClusterGuardRollout[]> => {
    const out: ClusterGuardRollout[] = [];
    for (const object of options.rollouts.list()) {
      const key = { namespace: object.metadata?.namespace ?? '', name: object.metadata?.name ?? '' };
      const spec = valid(key);
      if (!spec) continue;
      const record = await options.state.load(key).catch(() => undefined);
      out.push({ key, spec, status: record?.status });
    }
    return out;
  };
  // The builtin provider names a Rollout as `namespace/name` (or by name when that is unique).
  const lookup = async (service: string): Promise<CanaryCounterTarget | undefined> => {
    const matches = options.rollouts.list().filter((o) => `${o.metadata?.namespace}/${o.metadata?.name}` === service || o.metadata?.name === service);
    if (matches.length !== 1) return undefined;
    const key = { namespace: matches[0]!.metadata?.namespace ?? '', name: matches[0]!.metadata?.name ?? '' };
    const spec = valid(key);
    const status = (await options.state.load(key).catch(() => undefined))?.status;
    if (!spec?.strategy.canary || !status?.canaryRevision || !status.stableRevision) return undefined;
    return { key: `${key.namespace}/${key.name}`, namespace: key.namespace, rollout: key.name, strategy: spec.strategy.canary, canaryRevision: status.canaryRevision, stableRevision: status.stableRevision };
  };
  const counters = new PrometheusCounters({ addressOf: (t) => t.strategy.guard?.prometheus?.address ?? options.prometheusUrl, lookup });
  const guard = new KubernetesGuard({
    rollouts, counters, reconciler: options.reconciler, requeue: options.requeue, emit: options.emit, log: options.log,
    intervalMs: options.guardIntervalMs, nowMs: options.nowMs,
  });
  return { counters, guard };
}
