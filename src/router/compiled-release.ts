/**
 * A release compiled for the hot path: which side of its member services a request goes to, the
 * version token to hand back, and skew-error detection on the way out. See {@link ReleaseRoute}.
 *
 * Order for a request to a member (the member's own `matches` were tried before):
 * force header (when allowed) → token in the header → token in the cookie → a new position.
 *
 * Pinning keeps each page consistent, not each client frozen: a page load (navigation) puts the
 * client on the canary iff its token's position is below the weight in force, and its token then
 * records that side for the page's assets and API calls.
 */
import type { InboundRequest } from './server/inbound-types.js';
import { hasLastResort, hasReadyInstance, type RevisionGroup } from './compiled-table.js';
import { cookieValue, headerValue } from './matchers.js';
import type { ReleaseCounters } from './release-counters.js';
import { ReleasePositions } from './release-positions.js';
import { DEFAULT_ASSET_PATTERN, RELEASE_POSITIONS, ReleaseTokenVerifier, type VerifiedReleaseToken } from './release-token.js';
import type { ReleasePhase, ReleaseRoute, ReleaseSide } from './types.js';

/** The two sides of one member service in the current table. */
export interface MemberSides {
  stable: RevisionGroup;
  canary: RevisionGroup | undefined;
}

/** Where a release sends a request, and the headers to add to its response. */
export interface ReleaseDecision {
  group: RevisionGroup;
  /** Flat name/value pairs for the response, or undefined. */
  headers: string[] | undefined;
  /** The side has no ready instance: a running unready one serves (see {@link CompiledRelease.serve}). */
  lastResort?: boolean;
}

/** See the module comment. */
export class CompiledRelease {
  readonly name: string;
  private readonly headerName: string;
  private readonly verifier: ReleaseTokenVerifier;
  private readonly phase: ReleasePhase;
  /** `canaryWeight` in token positions: a page load is on the canary iff its position is below. */
  private readonly canaryPositions: number;
  private readonly skewUntilMs: number | undefined;
  private readonly abortGraceUntilMs: number | undefined;
  private readonly allowForce: boolean;
  private readonly assetPattern: RegExp;
  private readonly cookieSuffix = '; Path=/; SameSite=Lax; HttpOnly';

  constructor(
    private readonly route: ReleaseRoute,
    readonly counters: ReleaseCounters,
    private readonly random: () => number,
    private readonly positions: ReleasePositions = new ReleasePositions(),
    private readonly nowMs: () => number = Date.now,
  ) {
    this.name = route.name;
    this.headerName = route.header.toLowerCase();
    this.verifier = new ReleaseTokenVerifier(route.secret, route.name, route.generation);
    this.phase = route.phase;
    this.canaryPositions = (Math.min(100, Math.max(0, route.canaryWeight)) / 100) * RELEASE_POSITIONS;
    this.skewUntilMs = route.skewUntilMs;
    this.abortGraceUntilMs = route.abortGraceUntilMs;
    this.allowForce = route.allowForceHeader === true;
    this.assetPattern = new RegExp(route.assetPattern ?? DEFAULT_ASSET_PATTERN);
  }

  /** Response headers that (re)pin a client: Set-Cookie plus the token header. */
  private pinHeaders(side: ReleaseSide, position: number): string[] {
    const token = this.verifier.token(side, position);
    return ['set-cookie', `${this.route.cookie}=${token}${this.cookieSuffix}`, this.route.header, token];
  }

  /** Decides the side of a request to a member service whose `matches` did not apply. */
  decide(req: InboundRequest, cookies: string | undefined, sides: MemberSides): ReleaseDecision {
    const c = this.counters;
    const page = isNavigation(req);
    const header = headerValue(req, this.headerName);
    if (this.allowForce && (header === 'canary' || header === 'stable')) {
      const now = this.nowMs();
      c.pin(header, now);
      const { group } = this.serve(header, sides, false);
      c.served(this.servedBy(group, header, sides), page, now);
      return { group, headers: undefined };
    }
    let pinned: VerifiedReleaseToken | undefined;
    let given: string | undefined;
    // A genuine token of an earlier attempt: the client is on what is stable now; re-issue.
    let earlier = false;
    const check = (token: string) => {
      const claims = this.verifier.verify(token);
      if (claims !== undefined) {
        given = token;
        return claims;
      }
      if (this.verifier.isEarlierGeneration(token)) earlier = true;
      else c.forgedTokens++;
      return undefined;
    };
    if (header !== undefined) pinned = check(header);
    if (pinned === undefined && !earlier) {
      const fromCookie = cookieValue(cookies, this.route.cookie);
      if (fromCookie !== undefined) pinned = check(fromCookie);
    }
    if (pinned === undefined && earlier && !page) {
      // Assigned before this attempt began: on what is stable now. A new page load is where its
      // side may change (nothing loaded yet can skew); until then it stays on stable.
      const now = this.nowMs();
      const side = this.resolve('stable');
      c.pin(side, now);
      const { group, lastResort } = this.serve(side, sides, true);
      c.served(this.servedBy(group, side, sides), false, now);
      return { group, headers: undefined, lastResort };
    }
    if (pinned !== undefined) {
      // A page load decides the side afresh (nothing of the new page is loaded yet, so nothing can
      // skew); the page's own requests keep the side its token records.
      // A token from before positions gets one at its next page load (or when it must be re-pinned).
      const position = pinned.position ?? (page ? this.positionFor(pinned.side) : undefined);
      const wanted = page ? this.pageSide(position!) : this.resolve(pinned.side);
      const now = this.nowMs();
      c.pin(wanted, now);
      const { group, lastResort } = this.serve(wanted, sides, !page);
      const side = this.servedBy(group, wanted, sides);
      c.served(side, page, now);
      // Within a page a fallback does not re-pin: the page's other requests keep their side.
      const recorded = page ? side : wanted;
      if (recorded === pinned.side && position === pinned.position) return { group, headers: [this.route.header, given!], lastResort };
      return { group, headers: this.pinHeaders(recorded, position ?? this.positionFor(recorded)), lastResort };
    }
    const position = this.positions.take(this.random);
    const wanted = this.pageSide(position);
    const { group } = this.serve(wanted, sides, false);
    // Pin the client to the side it actually got, so the rest of its page stays consistent.
    const side = this.servedBy(group, wanted, sides);
    c.assigned[side]++;
    c.served(side, page, this.nowMs());
    return { group, headers: this.pinHeaders(side, position) };
  }

  /** The side a page load at `position` gets in the current phase and weight. */
  private pageSide(position: number): ReleaseSide {
    if (this.phase === 'promoted') return 'canary';
    if (this.phase === 'aborted') return 'stable';
    return position < this.canaryPositions ? 'canary' : 'stable';
  }

  /**
   * A position for a token issued before positions existed, consistent with the side it holds at
   * the current weight (so its next page load does not move it for no reason), and uniform on that
   * side, as the weight assigned it.
   */
  private positionFor(side: ReleaseSide): number {
    const w = this.canaryPositions;
    const r = this.random();
    const p = side === 'canary' && w > 0 ? r * w : side === 'stable' && w < RELEASE_POSITIONS ? w + r * (RELEASE_POSITIONS - w) : r * RELEASE_POSITIONS;
    return Math.min(RELEASE_POSITIONS - 1, Math.floor(p));
  }

  /**
   * The side that served a request: the group's. A member with no canary (unchanged in this
   * release) serves both sides with one version: the client keeps the side it was on, for the
   * members that do change.
   */
  private servedBy(group: RevisionGroup, wanted: ReleaseSide, sides: MemberSides): ReleaseSide {
    return !sides.canary ? wanted : group === sides.stable ? 'stable' : 'canary';
  }

  /**
   * The side a valid token's side means, for a request within a page, in the current phase. After
   * an abort a canary page keeps the canary through the grace: its HTML came from the canary, so
   * stable's assets and APIs would not fit it (`serve` still falls back when no instance is ready).
   */
  private resolve(side: ReleaseSide): ReleaseSide {
    if (side === 'canary') {
      if (this.phase !== 'aborted') return 'canary';
      return this.abortGraceUntilMs !== undefined && this.nowMs() < this.abortGraceUntilMs ? 'canary' : 'stable';
    }
    if (this.phase !== 'promoted') return 'stable';
    return this.skewUntilMs !== undefined && this.nowMs() < this.skewUntilMs ? 'stable' : 'canary';
  }

  /**
   * The group serving `side`, or the other side (a fallback) when it is absent or has no ready
   * instance. Within a page (`withinPage`: a request pinned by the page's token) the other
   * version's answer would not fit the page: a running unready instance of its own side (a probe
   * timing out on a loaded host, say) serves it first, while the router does not see it fail.
   */
  private serve(side: ReleaseSide, sides: MemberSides, withinPage: boolean): { group: RevisionGroup; lastResort: boolean } {
    const want = side === 'canary' ? sides.canary : sides.stable;
    if (want && hasReadyInstance(want)) return { group: want, lastResort: false };
    // An unchanged member has one version for both sides: not a fallback.
    if (side === 'canary' && !sides.canary) return { group: sides.stable, lastResort: false };
    if (withinPage && want && hasLastResort(want)) {
      this.counters.unreadyServed++;
      want.counters.unreadyServe();
      return { group: want, lastResort: true };
    }
    const other = side === 'canary' ? sides.stable : sides.canary;
    if (other && (!want || hasReadyInstance(other))) {
      this.counters.fallbacks++;
      want?.counters.fallback();
      return { group: other, lastResort: false };
    }
    // Neither side can serve: the chosen one answers (503), which is the truthful outcome.
    return { group: want ?? sides.stable, lastResort: false };
  }

  /** Counts a skew error when an upstream 404 answered a GET of a hashed asset path. */
  notFound(req: InboundRequest, group: RevisionGroup): void {
    if (req.method !== 'GET') return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (!this.assetPattern.test(q < 0 ? url : url.slice(0, q))) return;
    this.counters.skew(group.counters.service, group.counters.revision, this.nowMs());
    group.counters.skewError();
  }
}

/** A browser loading a page (a navigation), as fetch metadata or the Accept header tell it. */
export function isNavigation(req: InboundRequest): boolean {
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
}
