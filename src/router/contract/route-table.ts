/**
 * The route table: what a control plane writes and every part of the data plane routes by.
 * Field names follow graylane's documents (and so Argo Rollouts): `headerName`/`headerValue`,
 * `cookieName`/`cookieValue`, exact|prefix|regex. Plain data, so that it crosses a process
 * boundary as JSON unchanged.
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
  /**
   * Not ready, but running: it was ready and its readiness probe now fails (a probe timing out on
   * a loaded host, say). A release's within-page request pinned to a side with no ready instance
   * goes here rather than to the other version, whose answer would not fit the page; nothing else
   * does. The router stops using it once it sees it fail (an ejection).
   */
  lastResort?: boolean;
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
 * `aborted`: page loads go to stable at once; requests of canary pages (a page loading when the
 * abort came) keep the canary until `abortGraceUntilMs`, while it has a ready instance, then stable.
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
  /**
   * After an abort, requests of pages on the canary (not page loads) keep the canary until this
   * wall-clock time (ms since the epoch), so that a page half-loaded when the abort came gets its
   * assets and API calls from the version that served its HTML. None when absent: stable at once.
   */
  abortGraceUntilMs?: number;
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
