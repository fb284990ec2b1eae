/**
 * Which guard a plan counts on, as the controller that runs the rollout would judge it: behind the
 * built-in router every canary (unless turned off), as the daemon does; on Kubernetes only a canary
 * that asks for one (it needs a Prometheus), paced by the controller's guard interval and the
 * scrape interval. Shared by `graylane plan` and the dashboard's plan of a cluster's Rollout.
 */
import { guardParamsFromSpec } from '../../analysis/guard-spec.js';
import type { RolloutSpec } from '../../documents/schema.js';
import { DEFAULT_CLUSTER_GUARD_TICK_MS, DEFAULT_SCRAPE_INTERVAL_MS, type ClusterGuardTiming, type ClusterTrafficProvider, type PlanRolloutInput } from '../../engine/index.js';

/** The guard's pacing on Kubernetes: the controller's `--guard-interval` and Prometheus's scrape interval. */
export type GuardPacing = Omit<ClusterGuardTiming, 'provider'>;

/** The controller's defaults (what `graylane plan` assumes without flags). */
export const DEFAULT_GUARD_PACING: GuardPacing = { intervalMs: DEFAULT_CLUSTER_GUARD_TICK_MS, scrapeIntervalMs: DEFAULT_SCRAPE_INTERVAL_MS };

/** The Kubernetes traffic provider a canary routes through, or undefined for the built-in router. */
function clusterProvider(r: NonNullable<NonNullable<RolloutSpec['strategy']['canary']>['trafficRouting']>): ClusterTrafficProvider | undefined {
  if (r.istio) return 'istio';
  if (r.nginx) return 'nginx';
  if (r.plugins?.['argoproj-labs/gatewayAPI'] !== undefined) return 'gatewayAPI';
  return undefined;
}

/** The guard input of planRollout for `spec`; see the file comment. */
export function planGuardOf(spec: RolloutSpec, timing: GuardPacing): PlanRolloutInput['guard'] {
  const canary = spec.strategy.canary;
  if (!canary?.trafficRouting) return undefined;
  const provider = clusterProvider(canary.trafficRouting);
  if (!provider) return guardParamsFromSpec(canary.guard);
  if (canary.guard === undefined) return undefined;
  const params = guardParamsFromSpec(canary.guard);
  return params && { ...params, cluster: { provider, ...timing } };
}
