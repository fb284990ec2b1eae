/**
 * The router's public data model: route tables (what the controller writes), options, events and
 * statistics (what analysis reads). Route-table field names follow graylane's documents (and so
 * Argo Rollouts): `headerName`/`headerValue`, `cookieName`/`cookieValue`, exact|prefix|regex.
 */

/** Exactly one of `exact`, `prefix`, `regex` (a JavaScript regular expression, unanchored). */
export interface StringMatch {
  /** The whole value equals this. */
  exact?: string;
  /** The value starts with this. */
  prefix?: string;
  /** The value matches this regular expression (unanchored; add ^…$ to anchor). */
  regex?: string;
}

/**
 * One condition on a request: a header or a cookie. Without a value matcher the header or cookie
 * only has to be present.
 */
export interface RouteCondition {
  /** Header name (case-insensitive). Exclusive with cookieName. */
  headerName?: string;
  /** What the header's value must match. */
  headerValue?: StringMatch;
  /** Cookie name (case-sensitive). Exclusive with headerName. */
  cookieName?: string;
  /** What the cookie's value must match. */
  cookieValue?: StringMatch;
}

/** Sends requests meeting every condition of `match` to `revision`, whatever the weights say. */
export interface RouteMatch {
  /** Conditions, all of which must hold (AND). */
  match: RouteCondition[];
  /** The revision that receives matching requests. */
  revision: string;
}

/** A condition for mirroring: every given field must match (AND). */
export interface MirrorMatch {
  /** The request method. */
  method?: StringMatch;
  /** The request path (without the query string). */
  path?: StringMatch;
  /** Header name (case-insensitive) → what its value must match. */
  headers?: Record<string, StringMatch>;
}

/** Copies a share of requests to another revision; the copy's response is discarded. */
export interface MirrorRoute {
  /** The revision receiving copies. */
  revision: string;
  /** Percentage (0–100) of matching requests that are copied. */
  percentage: number;
  /** Which requests may be copied: any of these (OR); all requests when absent. */
  match?: MirrorMatch[];
}

/** One upstream process of a revision. */
export interface InstanceRoute {
  /** Stable identity of the instance; with the address it keys pools and outlier state. */
  id: string;
  /** `host:port` (IPv6 as `[::1]:8080`). */
  address: string;
  /** Only ready instances receive requests. */
  ready: boolean;
  /** Draining: no new requests, in-flight ones finish up to the drain deadline. */
  draining?: boolean;
}

/** The instances of one revision. */
export interface RevisionRoute {
  /** The instances; those absent from a later table are drained. */
  instances: InstanceRoute[];
}

/** How requests are spread over the ready instances of a revision. */
export type BalancerKind = 'least-request' | 'round-robin';

/** Routing for one service. */
export interface ServiceRoute {
  /** Service name; unique in a table. */
  name: string;
  /** Host to match (case-insensitive, port ignored); any host when absent. */
  host?: string;
  /** Path prefix, matched on segment boundaries (`/api` matches `/api` and `/api/x`, not `/apix`). */
  pathPrefix: string;
  /** Revision serving users now. */
  stable: string;
  /** Revision being rolled out, if any. */
  canary?: string;
  /** Instances per revision name. */
  revisions: Record<string, RevisionRoute>;
  /** Percentage (0–100) of unmatched requests sent to the canary. */
  canaryWeight: number;
  /** Header/cookie routes, tried in order before weights. */
  matches?: RouteMatch[];
  /** Traffic mirroring. */
  mirror?: MirrorRoute;
  /** Cookie keeping a client on the side it was assigned by weight; none when absent. */
  stickyCookie?: string;
  /** Load balancing; `least-request` by default. */
  balancer?: BalancerKind;
}

/** The whole routing state; swapped atomically. */
export interface RouteTable {
  /**
   * Services. A request goes to the service with the longest matching prefix among those naming
   * its host; only when none of them matches, among those naming no host.
   */
  services: ServiceRoute[];
  /** Releases: groups of services rolled out as one, with version pinning; none when absent. */
  releases?: ReleaseRoute[];
}

/** A side of a release: always the member service's `stable` or `canary` revision. */
export type ReleaseSide = 'stable' | 'canary';

/**
 * Where a release stands. `progressing`: at each page load a client is on the canary iff its
 * token's position is below `canaryWeight`; the rest of the page keeps the page's side.
 * `promoted`: page loads get the canary; requests of stable pages keep stable until `skewUntilMs`.
 * `aborted`: everyone goes to stable at once.
 */
export type ReleasePhase = 'progressing' | 'promoted' | 'aborted';

/**
 * A frontend and its backends rolled out as one: a client gets a signed version token (cookie and
 * response header) carrying a stable random position and the side of its current page. Each page
 * load (navigation) decides the side afresh from the position and the weight in force, so raising
 * the weight moves clients from stable to canary only and lowering it the other way only; every
 * other request to any member service goes to the page's side. A member's own `matches` still
 * win; its own `canaryWeight` and `stickyCookie` are not used.
 */
export interface ReleaseRoute {
  /** Release name; unique in a table; letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Member services (ServiceRoute names); a service belongs to at most one release. */
  services: string[];
  /** Changes with every new release attempt; tokens of another generation are ignored. Same characters as `name`. */
  generation: string;
  /** Percentage (0–100) of new (unpinned) clients assigned to the canary side. */
  canaryWeight: number;
  /** See {@link ReleasePhase}. */
  phase: ReleasePhase;
  /** After promotion, stable-pinned clients keep stable until this wall-clock time (ms since the epoch). */
  skewUntilMs?: number;
  /** Cookie carrying the version token, e.g. `graylane-release`. */
  cookie: string;
  /** Request header read for a token (before the cookie) and response header carrying it, e.g. `x-graylane-release`. */
  header: string;
  /** HMAC-SHA256 key signing tokens; at least 16 characters. */
  secret: string;
  /** Lets a request header value of exactly `canary` or `stable` pick that side (no token is set). */
  allowForceHeader?: boolean;
  /**
   * Regular expression (unanchored, tested on the path without the query) of hashed asset paths;
   * a 404 from a member to a GET of such a path is a skew error. Default `DEFAULT_ASSET_PATTERN`
   * (e.g. `app.3f9a1c2b7d.js`, `index-BXk3z9aQ.css`).
   */
  assetPattern?: string;
}

/** Cumulative figures of one release since the router started; see {@link ReleaseRoute}. */
export interface ReleaseStats {
  /** Requests of clients without a valid token, by the side they were assigned to (and routed). */
  assigned: { stable: number; canary: number };
  /** Requests routed by a valid token or the force header, by the side the token resolves to. */
  pinned: { stable: number; canary: number };
  /** Requests sent to the other side because the chosen side's revision was absent or had no ready instance. */
  fallbacks: number;
  /** Tokens ignored: bad signature, another release or generation, or an unknown side. */
  forgedTokens: number;
  /** 404s from a member to a GET of a hashed asset path. */
  skewErrors: number;
  /** Wall-clock time (ms since the epoch) of the last request pinned to each side. */
  lastPinnedMs: { stable?: number; canary?: number };
}

/** Recent traffic of one release by the side that served it; see `Router.releaseTraffic`. */
export interface ReleaseTraffic {
  /** The window counted, ms (whole seconds, the current one included). */
  windowMs: number;
  /** Page loads (navigations: `Sec-Fetch-Mode: navigate`, or a GET accepting `text/html` without fetch metadata). */
  pageLoads: { stable: number; canary: number };
  /** Every request to a member of the release, page loads included. */
  requests: { stable: number; canary: number };
}

/**
 * Proxy timeouts. The upstream's (`connectMs`, `responseHeaderMs`, `idleMs`) give a 502/504
 * counted under `timeouts`; the client's (`clientHeaderMs`, `clientBodyMs`, `sendMs`) are the
 * client's fault and charged to no revision.
 */
export interface TimeoutOptions {
  /** Establishing a new upstream connection (504 when exceeded). */
  connectMs: number;
  /**
   * From dispatch (including time queued) to the upstream's response headers (504); while the
   * client is still sending the request body the clock waits, as the upstream cannot answer yet.
   */
  responseHeaderMs: number;
  /** No bytes in either direction on an exchange or an idle client connection. */
  idleMs: number;
  /** The client's whole request header section must arrive within this (else 408, nginx's client_header_timeout). */
  clientHeaderMs: number;
  /** No byte of the request body for this long gives 408 (nginx's client_body_timeout). */
  clientBodyMs: number;
  /** A client that reads none of its response for this long loses the connection (nginx's send_timeout). */
  sendMs: number;
  /** A WebSocket/upgrade tunnel with no bytes either way for this long is closed. */
  tunnelIdleMs: number;
}

/** Per-instance limits and outlier detection. */
export interface CircuitBreakerOptions {
  /** Concurrent requests per instance before queueing. */
  maxConcurrentRequests: number;
  /** Queued requests per instance before answering 503. */
  maxPendingRequests: number;
  /** Consecutive connect errors or 5xx that eject an instance. */
  consecutiveErrors: number;
  /** First ejection time; doubles with each consecutive ejection. */
  baseEjectionMs: number;
  /** Upper bound of the ejection time. */
  maxEjectionMs: number;
  /** Path probed (GET) before readmission; passes on any status below 500. */
  probePath: string;
}

/** Where the admin API listens; always loopback, always token-protected. */
export interface AdminOptions {
  /** A loopback address (127.0.0.0/8, ::1 or localhost). */
  host: string;
  /** Port; 0 lets the OS choose. */
  port: number;
  /** Bearer token required on every admin request (see `metricsWithoutToken`). */
  token: string;
  /** Serve `GET /metrics` without the token (off by default: loopback is shared by every local user). */
  metricsWithoutToken?: boolean;
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  /** The proxy listener. */
  listen: { host: string; port: number };
  /** The admin listener; none when absent. */
  admin?: AdminOptions;
  /**
   * Proxy timeouts; defaults connect 2000, responseHeader 30000, idle 60000, clientHeader 60000,
   * clientBody 60000, send 60000, tunnelIdle 300000 ms.
   */
  timeouts?: Partial<TimeoutOptions>;
  /** Request bodies larger than this get 413 and are charged to nobody; 0 = no limit. Default 1 GiB. */
  maxRequestBodyBytes?: number;
  /** Client connections open at once; more are closed on accept. 0 = no limit. Default 10000. */
  maxClientConnections?: number;
  /**
   * Peers (addresses or CIDRs, IPv4 or IPv6) whose `X-Forwarded-*` and `Forwarded` headers are
   * kept and appended to; from everyone else they are replaced by what the router saw. None by
   * default: the router is the edge.
   */
  trustedProxies?: string[];
  /** Circuit breaking and outlier ejection. */
  circuitBreaker?: Partial<CircuitBreakerOptions>;
  /** How long removed/draining instances (and stop()) let in-flight work finish; default 30000. */
  drainTimeoutMs?: number;
  /** Mirrored requests in flight at once, router-wide; extra copies are skipped. Default 64. */
  mirrorMaxConcurrent?: number;
  /** Length of the statistics window in seconds (1-second buckets); default 300, minimum 60. */
  statsWindowSeconds?: number;
  /** The initial route table. */
  routes?: RouteTable;
  /** Notable events (ejections, readmissions, drains). */
  onEvent?: (event: RouterEvent) => void;
  /** Source of randomness for weighted splits, mirroring and assignment; Math.random by default (tests pass a seeded one). */
  random?: () => number;
}

/** Kinds of {@link RouterEvent}. */
export type RouterEventType =
  | 'instance-ejected'
  | 'instance-readmitted'
  | 'instance-draining'
  | 'instance-drained'
  | 'instance-drain-timeout';

/** Something an operator would want to see in an event log. */
export interface RouterEvent {
  /** What happened. */
  type: RouterEventType;
  /** Service of the instance (as of the latest table naming it). */
  service: string;
  /** Revision of the instance. */
  revision: string;
  /** Instance id. */
  instance: string;
  /** Instance address. */
  address: string;
  /** Wall-clock time, ms since the epoch. */
  atMs: number;
  /** Why, for ejections. */
  reason?: string;
  /** How long the instance stays out, for ejections. */
  ejectionMs?: number;
  /** Requests or streams cut at the deadline, for drain timeouts. */
  abandoned?: number;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Responses by status class. */
export interface StatusClassCounts {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** Statistics of one revision of one service over a window. */
export interface RevisionStats {
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
  /** 404s to a GET of a hashed asset path, for members of a release (see {@link ReleaseRoute.assetPattern}). */
  skewErrors: number;
  /**
   * Requests meant for this revision (by weight, match, sticky cookie or release) that went to the
   * other side because it had no ready instance.
   */
  fallbacks: number;
  /** Full-response latency percentiles (0 when there were no responses). */
  latencyMs: LatencySummary;
  /** Requests per second over the part of the window the router has been running. */
  requestsPerSecond: number;
  /** The window these figures cover. */
  windowMs: number;
}

/** Query of {@link Router.stats}. */
export interface StatsQuery {
  service: string;
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
export interface RevisionTotals {
  /** Requests routed to the revision (client traffic only: mirrored copies are in `mirrored`). */
  requests: number;
  /** Responses by status class (each request once). */
  responses: StatusClassCounts;
  /** Requests that failed for the revision's sake, each once; see {@link RevisionStats.failed}. */
  failed: number;
  /** Of the failures, connection failures and resets talking to instances. */
  upstreamErrors: number;
  /** Of the failures, connect, response-header and idle timeouts. */
  timeouts: number;
  /** Of the failures, 503s from circuit breaking or no ready instance. */
  rejected: number;
  /** Requests refused or cut for the client's fault; see {@link RevisionStats.clientErrors}. */
  clientErrors: number;
  /** 404s to a GET of a hashed asset path, for members of a release. */
  skewErrors: number;
  /** Requests meant for this revision that went to the other side: it had no ready instance. */
  fallbacks: number;
  /** Mirrored copies the revision received, and those that failed (5xx, connection error, timeout). */
  mirrored: { requests: number; failures: number };
  /** Latency histogram since the router started. */
  latency: LatencyCounts;
}
