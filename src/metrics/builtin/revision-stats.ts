/**
 * What the builtin provider reads: per-revision traffic figures kept by graylane's router over a
 * recent window. The router implements this interface (exactly this shape); the provider only
 * reads it.
 */

/** Responses by status class. */
export interface StatusClassCounts {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** One revision's figures over a window. */
export interface RevisionStats {
  /** Requests that completed in the window. */
  requests: number;
  /** Of those, by the status class the client received. */
  responses: StatusClassCounts;
  /**
   * Requests that failed, each once (a 5xx, the router's own included, or a response cut off);
   * never requests refused for the client's fault. Sources without it are read as having
   * disjoint 5xx, upstream-error, timeout and rejection counts.
   */
  failed?: number;
  /** Requests whose upstream connection failed (the client got a router error). */
  upstreamErrors: number;
  /** Requests that timed out waiting for the upstream. */
  timeouts: number;
  /** Requests refused by the router (no ready instance, overload). */
  rejected: number;
  /** Latency quantiles in ms (0 when there were no requests). */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** requests / window. */
  requestsPerSecond: number;
  /** The window actually covered (shorter right after start). */
  windowMs: number;
}

/** The router's figures, per service and revision. */
export interface RevisionStatsSource {
  /**
   * Figures for `revision` of `service` over the last `windowMs`. Rejects (or throws) when the
   * service or revision is unknown.
   */
  stats(query: { service: string; revision: string; windowMs: number }): RevisionStats | Promise<RevisionStats>;
}
