/**
 * PURE: the rules an HTTPRoute or GRPCRoute should carry for one traffic decision, computed from
 * the rules it carries now. Every rule the user wrote is kept as it is, except the weights of the
 * backendRefs naming the canary and stable Services; the rules graylane adds (one per header
 * route, and per mirror route on an HTTPRoute) are named `<rollout>.graylane-<kind>-<route>`, so
 * they are found and replaced or removed by name — never by guessing from their shape, which is
 * how Argo's plugin came to delete users' own canary-only rules. Every default the API server
 * would fill in is written out, so a route read back compares equal to the plan.
 */
import type { HeaderRoute, MirrorRoute } from '../../engine/types.js';
import type { ReleasePin } from '../release-pin.js';
import type { GatewayRouteKind } from './gateway-api-config.js';
import { pinRules, withPinCookie } from './release-pinning.js';

/** A backendRef as the Gateway API types it (only the fields graylane reads or writes). */
export interface BackendRef {
  /** API group of the referent; `""` (core) when absent. */
  group?: string;
  /** Kind of the referent; `Service` when absent. */
  kind?: string;
  /** Name of the referent. */
  name: string;
  /** Another namespace (needs a ReferenceGrant); graylane weighs only Services of the route's own namespace. */
  namespace?: string;
  /** Port of the Service. */
  port?: number;
  /** Relative weight; 1 when absent. */
  weight?: number;
  /** Fields graylane carries as they are. */
  [field: string]: unknown;
}

/** A header match of an HTTPRoute or GRPCRoute. */
export interface HeaderMatch {
  /** How `value` is compared; `Exact` when absent. */
  type?: 'Exact' | 'RegularExpression';
  /** Header name, case-insensitive. */
  name: string;
  /** The value, or a regular expression. */
  value: string;
}

/** A match of an HTTPRoute (path, method, headers, queryParams) or of a GRPCRoute (method, headers). */
export interface RouteMatch {
  /** Header conditions, all of which must hold. */
  headers?: HeaderMatch[];
  /** Path, method, queryParams: carried as they are. */
  [field: string]: unknown;
}

/** A route rule (either kind; fields graylane does not touch are carried as they are). */
export interface RouteRule {
  /** Unique within the route if set; graylane's rules are named (see {@link managedRulePrefix}). */
  name?: string;
  /** Any one of them selects the rule. */
  matches?: RouteMatch[];
  /** Filters applied to requests the rule selects. */
  filters?: Record<string, unknown>[];
  /** Where the rule sends requests, by weight. */
  backendRefs?: BackendRef[];
  /** Timeouts, retries, sessionPersistence…: carried as they are. */
  [field: string]: unknown;
}

/** What the plan is computed from. */
export interface RulePlanInput {
  /** `HTTPRoute` or `GRPCRoute`. */
  kind: GatewayRouteKind;
  /** The Rollout, whose name marks the rules it adds. */
  rollout: string;
  /** The Service whose backendRefs take the canary weight. */
  canaryService: string;
  /** The Service whose backendRefs take the rest. */
  stableService: string;
  /** The canary's weight, out of {@link RulePlanInput.maxWeight}. */
  canaryWeight: number;
  /** The scale weights are on (`trafficRouting.maxTrafficWeight`; 100 when absent): the two backendRefs' weights sum to it. */
  maxWeight?: number | undefined;
  /** Header routes to add (empty when the route takes none). */
  headerRoutes: readonly HeaderRoute[];
  /** Mirror routes to add (HTTPRoute only; empty when the route takes none). */
  mirrorRoutes: readonly MirrorRoute[];
  /** The release's pins in force (HTTPRoute only; release-pinning.ts). */
  pin?: ReleasePin | undefined;
}

/** The plan, or why there is none. */
export type RulePlan =
  /** The rules to write (equal to the current ones when nothing is to change). */
  | { ok: true; rules: RouteRule[] }
  /** No rule names both the canary and the stable Service (or, with `conflict`, pinning cannot be written, as the sentence says). */
  | { ok: false; conflict?: string };

/** The prefix of the names of every rule graylane adds to a route for `rollout`. */
export function managedRulePrefix(rollout: string): string {
  return `${rollout}.graylane-`;
}

/** Whether `rule` was added by graylane for `rollout`. */
export function isManagedRule(rule: RouteRule, rollout: string): boolean {
  return typeof rule.name === 'string' && rule.name.startsWith(managedRulePrefix(rollout));
}

/** A managed route's name as a rule name segment: lower case, `-` for anything a rule name cannot hold. */
function segment(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return s === '' ? 'route' : s;
}

/** Whether `ref` names `service` (a Service in the route's namespace: group "" and kind Service, the defaults). */
function refersTo(ref: BackendRef, service: string): boolean {
  return ref.name === service && (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && ref.namespace === undefined;
}

/** Escapes `text` for a regular expression (RE2, as Gateway implementations use, takes the same escapes). */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The header matches of one header route: headers as given, a cookie as a match on the Cookie header. */
export function headerMatches(route: HeaderRoute): HeaderMatch[] {
  return route.match.map((m): HeaderMatch => {
    if (m.cookieName !== undefined) {
      const v = m.cookieValue;
      const value = v?.exact !== undefined ? `${escapeRegex(v.exact)}(;.*)?$` : v?.prefix !== undefined ? `${escapeRegex(v.prefix)}[^;]*(;.*)?$` : v?.regex !== undefined ? `(${v.regex})(;.*)?$` : '[^;]*(;.*)?$';
      return { name: 'Cookie', type: 'RegularExpression', value: `^(.*;\\s*)?${escapeRegex(m.cookieName)}=${value}` };
    }
    const v = m.headerValue;
    // Argo's plugin wrote a prefix as `<prefix>.*`, unescaped and unanchored: `v1.2` also matched `xv1x2`.
    if (v?.prefix !== undefined) return { name: m.headerName ?? '', type: 'RegularExpression', value: `^${escapeRegex(v.prefix)}.*` };
    if (v?.regex !== undefined) return { name: m.headerName ?? '', type: 'RegularExpression', value: v.regex };
    if (v?.exact !== undefined) return { name: m.headerName ?? '', type: 'Exact', value: v.exact };
    return { name: m.headerName ?? '', type: 'RegularExpression', value: '.*' };
  });
}

/** The HTTPRoute matches of a mirror route (path, method, headers), with the defaults written out. */
function mirrorMatches(route: MirrorRoute): RouteMatch[] {
  const out = route.match.map((m): RouteMatch => {
    const match: RouteMatch = { path: pathMatch(m.path) };
    if (m.method?.exact !== undefined) match.method = m.method.exact.toUpperCase();
    const headers = Object.entries(m.headers ?? {}).map(([name, v]) => headerMatches({ name: '', match: [{ headerName: name, headerValue: v }] })[0]!);
    if (headers.length > 0) match.headers = headers;
    return match;
  });
  return out.length > 0 ? out : [{ path: { type: 'PathPrefix', value: '/' } }];
}

function pathMatch(p: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined } | undefined): Record<string, string> {
  if (p?.exact !== undefined) return { type: 'Exact', value: p.exact };
  if (p?.regex !== undefined) return { type: 'RegularExpression', value: p.regex };
  return { type: 'PathPrefix', value: p?.prefix ?? '/' };
}

/** A backendRef to `ref`'s Service with every default written out. */
function explicitRef(ref: BackendRef, weight: number | undefined): BackendRef {
  const out: BackendRef = { group: '', kind: 'Service', name: ref.name };
  if (ref.port !== undefined) out.port = ref.port;
  if (weight !== undefined) out.weight = weight;
  return out;
}

/** A copy of a source rule's match with `headers` added (defaults written out, as the API server would). */
function withHeaders(kind: GatewayRouteKind, match: RouteMatch | undefined, headers: HeaderMatch[]): RouteMatch {
  const base: RouteMatch = { ...(match ?? {}) };
  if (kind === 'HTTPRoute' && base.path === undefined) base.path = { type: 'PathPrefix', value: '/' };
  base.headers = [...(match?.headers ?? []).map((h) => ({ ...h, type: h.type ?? 'Exact' })), ...headers];
  return base;
}

/**
 * See the file comment. Only rules whose backendRefs name both Services are split (and copied for
 * header routes): a rule naming one of them alone is the user's own routing (a preview path to the
 * canary, say), and weighing it would leave it with no weight at all at 0 or 100 percent.
 */
export function planRules(current: readonly RouteRule[], input: RulePlanInput): RulePlan {
  const max = input.maxWeight ?? 100;
  const weight = Math.max(0, Math.min(max, Math.round(input.canaryWeight)));
  const kept: RouteRule[] = [];
  const sources: RouteRule[] = [];
  for (const rule of current) {
    if (isManagedRule(rule, input.rollout)) continue;
    const refs = rule.backendRefs ?? [];
    if (!refs.some((r) => refersTo(r, input.canaryService)) || !refs.some((r) => refersTo(r, input.stableService))) {
      kept.push(rule);
      continue;
    }
    const backendRefs: BackendRef[] = [];
    for (const r of refs) {
      const side = refersTo(r, input.canaryService) ? 'canary' : refersTo(r, input.stableService) ? 'stable' : undefined;
      if (side === undefined) {
        backendRefs.push(r);
        continue;
      }
      const weighted = { ...r, weight: side === 'canary' ? weight : max - weight };
      // Only an attempt in progress pins anyone new; after it, pinned clients keep what they have.
      const pinned = input.kind === 'HTTPRoute' ? withPinCookie(weighted, side, input.pin?.phase === 'progressing' ? input.pin : undefined) : { ok: true as const, ref: weighted };
      if (!pinned.ok) return { ok: false, conflict: pinned.conflict };
      backendRefs.push(pinned.ref);
    }
    const updated = { ...rule, backendRefs };
    kept.push(updated);
    sources.push(updated);
  }
  if (sources.length === 0) return { ok: false };

  const prefix = managedRulePrefix(input.rollout);
  const added: RouteRule[] = [];
  for (const route of input.headerRoutes) {
    const headers = headerMatches(route);
    sources.forEach((source, i) => {
      const canaryRef = (source.backendRefs ?? []).find((r) => refersTo(r, input.canaryService))!;
      const matches = (source.matches?.length ?? 0) > 0 ? source.matches!.map((m) => withHeaders(input.kind, m, headers)) : [withHeaders(input.kind, undefined, headers)];
      const rule: RouteRule = { name: `${prefix}header-${segment(route.name)}${i > 0 ? `-${i}` : ''}`, matches };
      if (source.filters !== undefined) rule.filters = source.filters;
      rule.backendRefs = [explicitRef(canaryRef, 1)];
      added.push(rule);
    });
  }
  if (input.kind === 'HTTPRoute') {
    const source = sources[0]!;
    const stableRef = (source.backendRefs ?? []).find((r) => refersTo(r, input.stableService))!;
    const canaryRef = (source.backendRefs ?? []).find((r) => refersTo(r, input.canaryService))!;
    for (const route of input.mirrorRoutes) {
      const mirror: Record<string, unknown> = { backendRef: explicitRef(canaryRef, undefined), percent: route.percentage ?? 100 };
      added.push({
        name: `${prefix}mirror-${segment(route.name)}`,
        matches: mirrorMatches(route),
        filters: [{ type: 'RequestMirror', requestMirror: mirror }],
        // Mirrored requests are still answered as the split says: the mirror copies, it never diverts.
        backendRefs: [explicitRef(stableRef, 100 - weight), explicitRef(canaryRef, weight)],
      });
    }
  }
  if (input.kind === 'HTTPRoute' && input.pin) {
    const service = (side: 'stable' | 'canary'): string => (side === 'canary' ? input.canaryService : input.stableService);
    const pins = pinRules({
      pin: input.pin, prefix, sources,
      refOf: (rule, side) => {
        const source = (rule.backendRefs ?? []).find((r) => refersTo(r, service(side)))!;
        // The user's own filters of that backendRef serve pinned clients too; the pin cookie is not set again.
        const cleared = withPinCookie(source, side, undefined);
        const filters = cleared.ok ? cleared.ref.filters : undefined;
        return { ...explicitRef(source, 1), ...(filters === undefined ? {} : { filters }) };
      },
      match: (m, headers) => withHeaders(input.kind, m, headers),
    });
    if (!Array.isArray(pins)) return { ok: false, conflict: pins.conflict };
    added.unshift(...pins);
  }
  // Added rules first: where a Gateway's precedence ties, the earlier rule of a route wins.
  return { ok: true, rules: [...added, ...kept] };
}

/** The route's rules with graylane's rules for `rollout` taken out (weights left as they are). */
export function withoutManagedRules(current: readonly RouteRule[], rollout: string): RouteRule[] {
  return current.filter((r) => !isManagedRule(r, rollout));
}
