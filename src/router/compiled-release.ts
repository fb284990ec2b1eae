/**
 * A release compiled for the hot path: which side of its member services a request goes to, the
 * version token to hand back, and skew-error detection on the way out. See {@link ReleaseRoute}.
 *
 * Order for a request to a member (the member's own `matches` were tried before):
 * force header (when allowed) → token in the header → token in the cookie → assignment by weight.
 */
import type { IncomingMessage } from 'node:http';
import { hasReadyInstance, type RevisionGroup } from './compiled-table.js';
import { cookieValue, headerValue } from './matchers.js';
import type { ReleaseCounters } from './release-counters.js';
import { DEFAULT_ASSET_PATTERN, ReleaseTokenVerifier } from './release-token.js';
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
}

/** See the module comment. */
export class CompiledRelease {
  readonly name: string;
  private readonly headerName: string;
  private readonly cookie: string;
  private readonly verifier: ReleaseTokenVerifier;
  private readonly phase: ReleasePhase;
  private readonly canaryFraction: number;
  private readonly skewUntilMs: number | undefined;
  private readonly allowForce: boolean;
  private readonly assetPattern: RegExp;
  /** Response headers that (re)pin a client to a side: Set-Cookie plus the token header. */
  private readonly pinHeaders: Record<ReleaseSide, string[]>;
  /** Response headers echoing a still-valid token (no cookie rewrite). */
  private readonly echoHeaders: Record<ReleaseSide, string[]>;

  constructor(
    route: ReleaseRoute,
    readonly counters: ReleaseCounters,
    private readonly random: () => number,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.name = route.name;
    this.headerName = route.header.toLowerCase();
    this.cookie = route.cookie;
    this.verifier = new ReleaseTokenVerifier(route.secret, route.name, route.generation);
    this.phase = route.phase;
    this.canaryFraction = route.canaryWeight / 100;
    this.skewUntilMs = route.skewUntilMs;
    this.allowForce = route.allowForceHeader === true;
    this.assetPattern = new RegExp(route.assetPattern ?? DEFAULT_ASSET_PATTERN);
    const pin = (side: ReleaseSide) => {
      const token = this.verifier.token(side);
      return ['set-cookie', `${route.cookie}=${token}; Path=/; SameSite=Lax; HttpOnly`, route.header, token];
    };
    const echo = (side: ReleaseSide) => [route.header, this.verifier.token(side)];
    this.pinHeaders = { stable: pin('stable'), canary: pin('canary') };
    this.echoHeaders = { stable: echo('stable'), canary: echo('canary') };
  }

  /** Decides the side of a request to a member service whose `matches` did not apply. */
  decide(req: IncomingMessage, cookies: string | undefined, sides: MemberSides): ReleaseDecision {
    const c = this.counters;
    const header = headerValue(req, this.headerName);
    if (this.allowForce && (header === 'canary' || header === 'stable')) {
      c.pin(header, this.nowMs());
      return { group: this.serve(header, sides), headers: undefined };
    }
    let pinned: ReleaseSide | undefined;
    // A genuine token of an earlier attempt: the client is on what is stable now; re-issue.
    let earlier = false;
    const check = (token: string) => {
      const side = this.verifier.verify(token);
      if (side !== undefined) return side;
      if (this.verifier.isEarlierGeneration(token)) {
        earlier = true;
        return 'stable' as const;
      }
      c.forgedTokens++;
      return undefined;
    };
    if (header !== undefined) pinned = check(header);
    if (pinned === undefined) {
      const fromCookie = cookieValue(cookies, this.cookie);
      if (fromCookie !== undefined) pinned = check(fromCookie);
    }
    if (pinned !== undefined) {
      if (earlier) {
        // Assigned before this attempt began: on what is stable now. A new page load is where its
        // side may change (nothing loaded yet can skew); until then it stays on stable.
        if (isNavigation(req)) pinned = undefined;
        else {
          const side = this.resolve('stable');
          c.pin(side, this.nowMs());
          return { group: this.serve(side, sides), headers: undefined };
        }
      }
    }
    if (pinned !== undefined) {
      // Once promoted, a page load of a client still on the old version gets the new one: nothing
      // of the new page is loaded yet, so nothing can skew; its old pages keep the old side.
      const side = this.phase === 'promoted' && pinned === 'stable' && isNavigation(req) ? 'canary' : this.resolve(pinned);
      c.pin(side, this.nowMs());
      // A client moved by the phase gets a token of its new side; others get theirs echoed.
      return { group: this.serve(side, sides), headers: side === pinned ? this.echoHeaders[side] : this.pinHeaders[side] };
    }
    const wanted: ReleaseSide =
      this.phase === 'promoted' ? 'canary'
      : this.phase === 'aborted' ? 'stable'
      : this.canaryFraction > 0 && this.random() < this.canaryFraction ? 'canary'
      : 'stable';
    const group = this.serve(wanted, sides);
    // Pin the client to the side it actually got, so the rest of its page stays consistent. A
    // member with no canary (unchanged in this release) serves both sides with one version: the
    // client keeps the side it was assigned, for the members that do change.
    const side: ReleaseSide = !sides.canary ? wanted : group === sides.stable ? 'stable' : 'canary';
    c.assigned[side]++;
    return { group, headers: this.pinHeaders[side] };
  }

  /** The side a valid token's side means in the current phase. */
  private resolve(side: ReleaseSide): ReleaseSide {
    if (side === 'canary') return this.phase === 'aborted' ? 'stable' : 'canary';
    if (this.phase !== 'promoted') return 'stable';
    return this.skewUntilMs !== undefined && this.nowMs() < this.skewUntilMs ? 'stable' : 'canary';
  }

  /** The group serving `side`, or the other side (a fallback) when it is absent or has no ready instance. */
  private serve(side: ReleaseSide, sides: MemberSides): RevisionGroup {
    const want = side === 'canary' ? sides.canary : sides.stable;
    if (want && hasReadyInstance(want)) return want;
    // An unchanged member has one version for both sides: not a fallback.
    if (side === 'canary' && !sides.canary) return sides.stable;
    const other = side === 'canary' ? sides.stable : sides.canary;
    if (other && (!want || hasReadyInstance(other))) {
      this.counters.fallbacks++;
      want?.counters.fallback();
      return other;
    }
    // Neither side can serve: the chosen one answers (503), which is the truthful outcome.
    return want ?? sides.stable;
  }

  /** Counts a skew error when an upstream 404 answered a GET of a hashed asset path. */
  notFound(req: IncomingMessage, group: RevisionGroup): void {
    if (req.method !== 'GET') return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (!this.assetPattern.test(q < 0 ? url : url.slice(0, q))) return;
    this.counters.skew(group.counters.service, group.counters.revision);
    group.counters.skewError();
  }
}

/** A browser loading a page (a navigation), as fetch metadata or the Accept header tell it. */
export function isNavigation(req: IncomingMessage): boolean {
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
}
