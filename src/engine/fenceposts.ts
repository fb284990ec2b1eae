import type { IntOrPercent } from '../documents/schema.js';

/** Default `maxSurge` and `maxUnavailable` of a canary (and of a Kubernetes Deployment). */
export const DEFAULT_MAX_SURGE: IntOrPercent = '25%';
export const DEFAULT_MAX_UNAVAILABLE: IntOrPercent = '25%';

/**
 * Resolves an IntOrString against a total, as Kubernetes' GetScaledValueFromIntOrPercent:
 * a percentage rounds up or down as asked, an integer is taken as it is.
 */
export function resolveIntOrPercent(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+)%$/.exec(value);
  if (!m) throw new RangeError(`not an integer or a percentage: "${value}" (use 1 or 25%)`);
  const scaled = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

/** The resolved surge and unavailability allowances of a rolling change of `replicas` instances. */
export interface Fenceposts {
  /** Instances allowed above `replicas` while changing. */
  maxSurge: number;
  /** Instances allowed to be unavailable below `replicas` while changing (never above `replicas`). */
  maxUnavailable: number;
}

/**
 * maxSurge rounds up, maxUnavailable rounds down; when both resolve to 0 (rounding can do that),
 * maxUnavailable becomes 1 so that a change can always make progress, as in Kubernetes.
 */
export function resolveFenceposts(options: { maxSurge?: IntOrPercent | undefined; maxUnavailable?: IntOrPercent | undefined; replicas: number }): Fenceposts {
  const { replicas } = options;
  const maxSurge = resolveIntOrPercent(options.maxSurge ?? DEFAULT_MAX_SURGE, replicas, true);
  let maxUnavailable = resolveIntOrPercent(options.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE, replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  if (replicas === 0) maxUnavailable = 0;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}
