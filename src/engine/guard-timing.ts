/**
 * How long the guard takes from a failure to all traffic on stable, per place it runs. Pure.
 *
 * On a single host the guard reads the router's counters every second and the router switches
 * at once. On Kubernetes three delays add up (worst case, each from its configuration):
 *
 * - the scrape interval: a failing request reaches Prometheus at the next scrape of the data
 *   plane (Prometheus's `scrape_interval`; 15 s is the interval of the example configuration
 *   Prometheus ships and of most Helm charts);
 * - the guard: a fresh test starts within `restartEverySeconds` (rounded up to whole ticks), and
 *   one tick sees the failures and the next decides (two ticks);
 * - the data plane's propagation of the weights graylane writes back:
 *   - Istio: istiod debounces config pushes up to `PILOT_DEBOUNCE_MAX` (10 s by default) before
 *     Envoys get the new VirtualService;
 *   - Gateway API: the implementation's own push; Istio's (10 s) is assumed, as the common one;
 *   - ingress-nginx: canary weights are dynamic configuration (no reload), applied at the
 *     controller's next sync, rate-limited by `--sync-rate-limit` (0.3 syncs a second: 3.3 s,
 *     4 s rounded up);
 *   - Service selector: the EndpointSlice update then kube-proxy's sync (`minSyncPeriod` 1 s):
 *     2 s.
 */

/** A traffic provider on Kubernetes, as the plan names it. */
export type ClusterTrafficProvider = 'istio' | 'gatewayAPI' | 'nginx' | 'serviceSelector';

/** Worst time from a weight written to the data plane applying it, per provider (see the file comment). */
export const PROPAGATION_MS: Readonly<Record<ClusterTrafficProvider, number>> = Object.freeze({
  istio: 10_000,
  gatewayAPI: 10_000,
  nginx: 4_000,
  serviceSelector: 2_000,
});

/** Prometheus's scrape interval when none is given. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 15_000;

/** The guard's tick on Kubernetes when none is given (the controller's `--guard-interval`). */
export const DEFAULT_CLUSTER_GUARD_TICK_MS = 5_000;

/** Where the guard runs on Kubernetes, for the plan. */
export interface ClusterGuardTiming {
  /** The traffic provider that carries the canary's weight. */
  provider: ClusterTrafficProvider;
  /** The guard's tick (`--guard-interval`). */
  intervalMs: number;
  /** Prometheus's scrape interval of the data plane. */
  scrapeIntervalMs: number;
}

/** The parts of the worst case, and their sum. */
export interface GuardWorstCase {
  /** Failure to abort decided. */
  detectionMs: number;
  /** Abort decided to the data plane applying 100/0. */
  propagationMs: number;
  /** The sum. */
  totalMs: number;
  /** The parts in words, for the plan's note. */
  parts: string;
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

/** The guard's worst case from a failure to all traffic on stable: on a single host without `cluster`. */
export function guardWorstCase(restartEverySeconds: number, cluster?: ClusterGuardTiming): GuardWorstCase {
  if (!cluster) {
    const detectionMs = (restartEverySeconds + 2) * 1000;
    return { detectionMs, propagationMs: 0, totalMs: detectionMs, parts: `a fresh test within ${restartEverySeconds}s + 2 ticks of 1s; the router switches at once` };
  }
  const tick = cluster.intervalMs;
  const restartMs = Math.max(1, Math.ceil((restartEverySeconds * 1000) / tick)) * tick;
  const detectionMs = cluster.scrapeIntervalMs + restartMs + 2 * tick;
  const propagationMs = PROPAGATION_MS[cluster.provider];
  return {
    detectionMs, propagationMs, totalMs: detectionMs + propagationMs,
    parts: `scrape ${seconds(cluster.scrapeIntervalMs)} + a fresh test within ${seconds(restartMs)} + 2 guard ticks of ${seconds(tick)} + ${cluster.provider} propagation ${seconds(propagationMs)}`,
  };
}
