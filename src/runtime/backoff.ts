/** Restart back-off, as Kubernetes' CrashLoopBackOff: doubling from `initialMs`, capped at `maxMs`. */
export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
  /** A process that ran this long before dying starts the sequence over. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 60_000 };

/** Delay before restart number `consecutiveFailures` (1 for the first failure in a row). */
export function backoffDelayMs(policy: BackoffPolicy, consecutiveFailures: number): number {
  if (consecutiveFailures < 1) return 0;
  // 2 ** 40 already exceeds any sane cap; clamping the exponent avoids Infinity.
  const exp = Math.min(consecutiveFailures - 1, 40);
  return Math.min(policy.maxMs, policy.initialMs * 2 ** exp);
}
