/**
 * A route table compiled for the hot path: services in match order, matchers compiled, each
 * revision's instances resolved to their live {@link Instance} objects. Built on every swap
 * (cheap: no sockets, no allocation per request) and replaced by a single reference assignment.
 */
import type { InboundRequest } from './server/inbound-types.js';
import type { CompiledRelease } from './compiled-release.js';
import type { Instance } from './instance.js';
import { compileStringMatch, cookieValue, headerValue, underPrefix, type ValueTest } from './matchers.js';
import type { RevisionCounters } from './revision-stats.js';
import type { BalancerKind, MirrorRoute, RouteCondition, ServiceRoute } from './types.js';

/** The instances of one revision as of one table, with its balancer. */
export class RevisionGroup {
  private cursor = 0;

  constructor(
    readonly name: string,
    readonly instances: Instance[],
    readonly counters: RevisionCounters,
    private readonly balancer: BalancerKind,
  ) {}

  /**
   * Picks an instance for a new request, `avoid` excluded when another exists. Ejected instances
   * are used only when no other usable one is left (better a suspect instance than a 503); with
   * `lastResort`, then a running unready one (see `InstanceRoute.lastResort`).
   */
  pick(avoid?: Instance, lastResort = false): Instance | undefined {
    const list = this.instances;
    const n = list.length;
    if (n === 0) return undefined;
    const start = this.cursor++ % n;
    if (this.cursor > 1e9) this.cursor = 0;
    let best: Instance | undefined;
    for (let k = 0; k < n; k++) {
      const inst = list[(start + k) % n]!;
      if (inst === avoid || !inst.available) continue;
      if (this.balancer === 'round-robin') return inst;
      if (!best || inst.load < best.load) best = inst;
    }
    if (best) return best;
    for (let k = 0; k < n; k++) {
      const inst = list[(start + k) % n]!;
      if (inst !== avoid && inst.usable) return inst;
    }
    if (!lastResort) return undefined;
    for (let k = 0; k < n; k++) {
      const inst = list[(start + k) % n]!;
      if (inst === avoid || !inst.lastResortUsable) continue;
      if (!best || inst.load < best.load) best = inst;
    }
    return best;
  }
}

/** Whether a revision with no ready instance has one running that may serve as a last resort. */
export function hasLastResort(group: RevisionGroup): boolean {
  for (const inst of group.instances) if (inst.lastResortUsable) return true;
  return false;
}

/** Whether any instance of a revision can take requests (an ejected one included, as a last resort). */
export function hasReadyInstance(group: RevisionGroup): boolean {
  for (const inst of group.instances) if (inst.usable) return true;
  return false;
}

type RequestTest = (req: InboundRequest, cookies: string | undefined) => boolean;

function compileCondition(c: RouteCondition): RequestTest {
  if (c.headerName !== undefined) {
    const name = c.headerName.toLowerCase();
    const test = compileStringMatch(c.headerValue);
    return (req) => {
      const v = headerValue(req, name);
      return v !== undefined && test(v);
    };
  }
  const name = c.cookieName ?? '';
  const test = compileStringMatch(c.cookieValue);
  return (_req, cookies) => {
    const v = cookieValue(cookies, name);
    return v !== undefined && test(v);
  };
}

interface CompiledMirror {
  group: RevisionGroup;
  fraction: number;
  tests: ((req: InboundRequest) => boolean)[] | undefined;
}

function compileMirror(m: MirrorRoute, group: RevisionGroup): CompiledMirror {
  const tests = m.match?.map((mm) => {
    const method: ValueTest | undefined = mm.method ? compileStringMatch(mm.method) : undefined;
    const path: ValueTest | undefined = mm.path ? compileStringMatch(mm.path) : undefined;
    const headers = Object.entries(mm.headers ?? {}).map(([h, v]) => [h.toLowerCase(), compileStringMatch(v)] as const);
    return (req: InboundRequest) => {
      if (method && !method(req.method ?? '')) return false;
      if (path) {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        if (!path(q < 0 ? url : url.slice(0, q))) return false;
      }
      for (const [h, t] of headers) {
        const v = headerValue(req, h);
        if (v === undefined || !t(v)) return false;
      }
      return true;
    };
  });
  return { group, fraction: m.percentage / 100, tests };
}

/** Where a request goes. */
export interface RouteDecision {
  group: RevisionGroup;
  /** Flat name/value pairs to add to the response (sticky cookie, release token), if any. */
  headers: string[] | undefined;
  /** The release that decided, watching the response for skew errors; undefined otherwise. */
  release?: CompiledRelease | undefined;
  /**
   * The release pinned the request to a side with no ready instance: its running unready
   * instances serve it (`InstanceRoute.lastResort`).
   */
  lastResort?: boolean | undefined;
}

/** One service, compiled. */
export class CompiledService {
  readonly host: string | undefined;
  readonly prefix: string;
  readonly groups = new Map<string, RevisionGroup>();
  private readonly stable: RevisionGroup;
  private readonly canary: RevisionGroup | undefined;
  private readonly canaryFraction: number;
  private readonly matches: { tests: RequestTest[]; decision: RouteDecision }[];
  // Decisions are read-only: shared rather than allocated per request.
  private readonly toStable: RouteDecision;
  private readonly toCanary: RouteDecision | undefined;
  private readonly assignStable: RouteDecision;
  private readonly assignCanary: RouteDecision | undefined;
  private readonly needsCookies: boolean;
  readonly mirror: CompiledMirror | undefined;
  private readonly sticky: string | undefined;
  private readonly stableCookie: string[] | undefined;
  private readonly canaryCookie: string[] | undefined;

  constructor(
    readonly route: ServiceRoute,
    groups: Map<string, RevisionGroup>,
    private readonly random: () => number,
    /** The release this service is a member of, which then decides instead of weights. */
    private readonly release?: CompiledRelease,
  ) {
    this.host = route.host?.toLowerCase();
    this.prefix = route.pathPrefix;
    this.groups = groups;
    this.stable = groups.get(route.stable)!;
    this.canary = route.canary !== undefined ? groups.get(route.canary) : undefined;
    this.canaryFraction = this.canary ? route.canaryWeight / 100 : 0;
    this.matches = (route.matches ?? []).map((m) => ({ tests: m.match.map(compileCondition), decision: { group: groups.get(m.revision)!, headers: undefined } }));
    this.sticky = route.stickyCookie;
    this.needsCookies = release !== undefined || this.sticky !== undefined || (route.matches ?? []).some((m) => m.match.some((c) => c.cookieName !== undefined));
    this.mirror = route.mirror && route.mirror.percentage > 0 ? compileMirror(route.mirror, groups.get(route.mirror.revision)!) : undefined;
    if (this.sticky !== undefined) {
      this.stableCookie = ['set-cookie', `${this.sticky}=${encodeURIComponent(route.stable)}; Path=/; HttpOnly; SameSite=Lax`];
      if (route.canary !== undefined) this.canaryCookie = ['set-cookie', `${this.sticky}=${encodeURIComponent(route.canary)}; Path=/; HttpOnly; SameSite=Lax`];
    }
    this.toStable = { group: this.stable, headers: undefined };
    this.toCanary = this.canary ? { group: this.canary, headers: undefined } : undefined;
    this.assignStable = { group: this.stable, headers: this.stableCookie };
    this.assignCanary = this.canary ? { group: this.canary, headers: this.canaryCookie } : undefined;
  }

  /**
   * Decides the revision for a request: matches first, then the release (for its members), else
   * the sticky cookie, then weight. A revision with no ready instance gets nothing: the request
   * goes to the other side when that side can serve it (a fallback, counted on the revision that
   * could not), so a crashed canary costs its users no 503s while stable is up.
   */
  decide(req: InboundRequest): RouteDecision {
    const d = this.choose(req);
    // A release falls back by itself, keeping its pinning consistent.
    return d.release !== undefined || hasReadyInstance(d.group) ? d : this.fallback(d);
  }

  /** The decision for a request whose chosen revision has no ready instance. */
  private fallback(d: RouteDecision): RouteDecision {
    const toStable = d.group !== this.stable;
    // Stable's users go to the canary only when it is meant to serve users by weight: a preview
    // (blue-green) or a canary at 0% has not been judged fit for them.
    const other = toStable ? this.stable : this.canaryFraction > 0 ? this.canary : undefined;
    // Neither side can serve: the chosen one answers (503), which is the truthful outcome.
    if (!other || !hasReadyInstance(other)) return d;
    d.group.counters.fallback();
    // A client being assigned a side is assigned the one it actually got.
    if (toStable) return d.headers ? this.assignStable : this.toStable;
    return d.headers ? this.assignCanary! : this.toCanary!;
  }

  private choose(req: InboundRequest): RouteDecision {
    const cookies = this.needsCookies ? headerValue(req, 'cookie') : undefined;
    for (const m of this.matches) {
      let ok = true;
      for (const t of m.tests) if (!t(req, cookies)) { ok = false; break; }
      if (ok) return m.decision;
    }
    const release = this.release;
    if (release) {
      const d = release.decide(req, cookies, { stable: this.stable, canary: this.canary });
      return { group: d.group, headers: d.headers, release, lastResort: d.lastResort };
    }
    const toCanary = this.toCanary;
    if (!toCanary || this.canaryFraction === 0) return this.toStable;
    if (this.canaryFraction >= 1) return toCanary;
    if (this.sticky !== undefined) {
      const side = cookieValue(cookies, this.sticky);
      // A cookie naming a revision no longer stable or canary (or a canary at weight 0) is reassigned.
      if (side === this.stable.name) return this.toStable;
      if (side === toCanary.group.name) return toCanary;
      return this.random() < this.canaryFraction ? this.assignCanary! : this.assignStable;
    }
    return this.random() < this.canaryFraction ? toCanary : this.toStable;
  }

  /**
   * Where to mirror a request served by `served`, this time: never to the revision serving it
   * (that would run the request twice there, POSTs included).
   */
  mirrorTarget(req: InboundRequest, served: RevisionGroup): RevisionGroup | undefined {
    const m = this.mirror;
    if (!m || m.group === served) return undefined;
    if (m.fraction < 1 && this.random() >= m.fraction) return undefined;
    if (m.tests && !m.tests.some((t) => t(req))) return undefined;
    return m.group;
  }
}

/** A compiled route table. */
export class CompiledTable {
  private readonly byHost = new Map<string, CompiledService[]>();
  private readonly anyHost: CompiledService[];
  private readonly hostSensitive: boolean;

  constructor(readonly services: CompiledService[]) {
    const ordered = [...services].sort((a, b) => b.prefix.length - a.prefix.length);
    this.anyHost = ordered.filter((s) => s.host === undefined);
    for (const s of ordered) {
      if (s.host === undefined) continue;
      let list = this.byHost.get(s.host);
      if (!list) this.byHost.set(s.host, (list = []));
      list.push(s);
    }
    // Host-specific services first, then the host-agnostic ones, each longest prefix first.
    for (const [host, list] of this.byHost) this.byHost.set(host, [...list, ...this.anyHost]);
    this.hostSensitive = this.byHost.size > 0;
  }

  /** The service for a request, or undefined. */
  match(req: InboundRequest): CompiledService | undefined {
    let list = this.anyHost;
    if (this.hostSensitive) {
      const h = req.headers.host;
      if (h !== undefined) {
        const colon = h.startsWith('[') ? h.indexOf(']:') + 1 : h.lastIndexOf(':');
        let host = (colon > 0 ? h.slice(0, colon) : h).toLowerCase();
        // `example.com.` is the same (fully qualified) name as `example.com`.
        if (host.endsWith('.')) host = host.slice(0, -1);
        list = this.byHost.get(host) ?? this.anyHost;
      }
    }
    const url = req.url ?? '/';
    for (const s of list) if (underPrefix(url, s.prefix)) return s;
    return undefined;
  }
}
