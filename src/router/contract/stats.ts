/**
 * The data plane's figures, per revision and per release: what analysis, the guard and the views
 * read. Declared once here; every reader uses these types rather than a copy of their shape.
 */

/** Cumulative figures of one release since the router started; see `ReleaseRoute`. */
export interface ReleaseStats {
  /** Requests of clients without a valid token, by the side they were assigned to (and routed). */
  assigned: { stable: number; canary: number };
  /** Requests routed by a valid token or the force header, by the side the token resolves to. */
  pinned: { stable: number; canary: number };
  /** Requests sent to the other side because the chosen side's revision was absent or had no ready instance. */
  fallbacks: number;
  /**
   * Within-page requests pinned to a side with no ready instance, served by its running but unready
   * (`lastResort`) instances rather than by the other version.
   */
  unreadyServed: number;
  /** Tokens ignored: bad signature, another release or generation, or an unknown side. */
  forgedTokens: number;
  /** 404s from a member to a GET of a hashed asset path. */
  skewErrors: number;
  /** Wall-clock time (ms since the epoch) of the last request pinned to each side. */
  lastPinnedMs: { stable?: number; canary?: number };
}

/** Recent traffic of one release by the side that served it; see `RouterControl.releaseTraffic`. */
export interface ReleaseTraffic {
  /** The window counted, ms (whole seconds, the current one included). */
  windowMs: number;
  /** Page loads (navigations: `Sec-Fetch-Mode: navigate`, or a GET accepting `text/html` without fetch metadata). */
  pageLoads: { stable: number; canary: number };
  /** Every request to a member of the release, page loads included. */
  requests: { stable: number; canary: number };
  /** Skew errors in the window: as {@link ReleaseStats.skewErrors} counts them. */
  skewErrors: number;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Slowest response. */
  max: number;
}

/** Responses by status class. */
export interface StatusClassCounts {
  /** Informational responses. */
  '1xx': number;
  /** Successes. */
  '2xx': number;
  /** Redirects and not-modified. */
  '3xx': number;
  /** The client's errors. */
  '4xx': number;
  /** Server errors, the router's own 502/503/504 included. */
  '5xx': number;
}

/** What a revision's requests came to, each request counted once: shared by windowed figures and totals. */
export interface RequestCounts {
  /** Requests routed to the revision (client traffic only: mirrored copies are counted apart). */
  requests: number;
  /** Responses by status class, including the router's own 502/503/504 (each request once). */
  responses: StatusClassCounts;
  /**
   * Requests that failed for the revision's sake, each once: a 5xx (the upstream's, or the
   * router's 502/503/504 on its behalf) or a response cut off mid-body by the upstream. The error
   * rate is `failed / requests`; it never counts {@link clientErrors}.
   */
  failed: number;
  /** Of the failures, connection failures and resets talking to instances (a breakdown, not extra errors). */
  upstreamErrors: number;
  /** Of the failures, connect, response-header and idle timeouts. */
  timeouts: number;
  /** Of the failures, 503s from circuit breaking or no ready instance. */
  rejected: number;
  /**
   * Requests refused or cut for the client's fault after they were routed here (400 a request
   * the router cannot forward, 408 a body too slow, 413 a body too large, a client that stopped
   * reading): visible, never the revision's errors.
   */
  clientErrors: number;
  /** 404s to a GET of a hashed asset path, for members of a release (see `ReleaseRoute.assetPattern`). */
  skewErrors: number;
  /**
   * Requests meant for this revision (by weight, match, sticky cookie or release) that went to the
   * other side because it had no ready instance.
   */
  fallbacks: number;
  /**
   * Within-page requests of a release pinned to this revision while it had no ready instance,
   * served by its running but unready (`lastResort`) instances rather than by the other version.
   */
  unreadyServed: number;
}

/** Statistics of one revision of one service over a window. */
export interface RevisionStats extends RequestCounts {
  /** Full-response latency percentiles (0 when there were no responses). */
  latencyMs: LatencySummary;
  /** Requests per second over the part of the window the router has been running. */
  requestsPerSecond: number;
  /** The window these figures cover. */
  windowMs: number;
}

/** Query of `RouterControl.stats`: one revision of one service over a recent window. */
export interface StatsQuery {
  /** Service name, as in the route table. */
  service: string;
  /** Revision name, as in the route table. */
  revision: string;
  /** Window length; default 60000, at most the configured stats window. */
  windowMs?: number;
}

/** A latency histogram: upper bounds in ms, and `boundsMs.length + 1` counts (the last is +Inf). */
export interface LatencyCounts {
  /** Increasing upper bounds in ms. */
  boundsMs: number[];
  /** Requests per bin, not cumulative. */
  counts: number[];
}

/** Counters of one revision since the router started: per-tick deltas of these feed the guard. */
export interface RevisionTotals extends RequestCounts {
  /** Mirrored copies the revision received, and those that failed (5xx, connection error, timeout). */
  mirrored: { requests: number; failures: number };
  /** Latency histogram since the router started. */
  latency: LatencyCounts;
}
