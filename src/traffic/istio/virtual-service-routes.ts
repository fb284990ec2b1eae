/**
 * What a VirtualService's routes must say for one decision, computed from the routes it has now:
 * pure, so `apply` and `verify` agree by construction (verified means "nothing left to write").
 *
 * Everything not managed is kept as the user wrote it: other routes, their order, other
 * destinations of a split route (their weights are taken out of the stable's share, so the
 * route still sums to the scale), every other field of a route. What is managed:
 *
 * - the weights of the stable and canary destinations of the routes the spec names (HTTP routes
 *   by name, TLS routes by port and SNI hosts, TCP routes by port, as Argo Rollouts finds them);
 * - the header and mirror routes of the decision, named as its steps name them, placed first in
 *   the order of `managedRoutes` (Istio takes the first route that matches); a managed route the
 *   decision no longer has is removed;
 * - release pinning (release-pinning.ts): the pin cookie on the split HTTP destinations and the pin
 *   routes, placed before everything else, while the decision carries a pin.
 */
import type { HeaderRoute, HeaderRouteMatch, MirrorRoute } from '../../engine/types.js';
import type { ReleasePin } from '../release-pin.js';
import { IstioRoutingError } from './istio-routing-error.js';
import { PIN_ROUTE_PREFIX, pinRoutes, withPinCookie } from './release-pinning.js';

/** A JSON object as the API server returns it. */
export type Json = Record<string, unknown>;

/** How stable and canary destinations are told apart in a route. */
export type SplitTarget =
  /** Host-level: destinations by Service (`host`: the short name or `<name>.<namespace>…`). */
  | { kind: 'host'; namespace: string; stableService: string; canaryService: string }
  /** Subset-level: destinations by DestinationRule subset. */
  | { kind: 'subset'; stableSubset: string; canarySubset: string };

/** One VirtualService's part of a rollout's `trafficRouting.istio` (Argo's fields). */
export interface VirtualServiceRef {
  /** Its name. */
  name: string;
  /** HTTP routes to split, by name; none: the only HTTP route, or the first unnamed one. */
  routes?: string[] | undefined;
  /** TLS routes to split, by the port and the SNI hosts of their matches. */
  tlsRoutes?: { port?: number | undefined; sniHosts?: string[] | undefined }[] | undefined;
  /** TCP routes to split, by the port of their matches. */
  tcpRoutes?: { port?: number | undefined }[] | undefined;
}

/** What to compute one VirtualService's routes from. */
export interface RoutesInput {
  /** The VirtualService's spec as it is now. */
  spec: Json;
  /** What the rollout says of it. */
  ref: VirtualServiceRef;
  /** How destinations are recognised. */
  target: SplitTarget;
  /** The canary's weight on the scale (`maxTrafficWeight`). */
  canaryWeight: number;
  /** The scale every split route sums to (`maxTrafficWeight`, 100 by default). */
  maxWeight: number;
  /** Header routes in force. */
  headerRoutes: readonly HeaderRoute[];
  /** Mirror routes in force. */
  mirrorRoutes: readonly MirrorRoute[];
  /** `managedRoutes` names, in order. */
  managedRoutes: readonly string[];
  /** Route names graylane wrote into this VirtualService before (removed unless still in force). */
  previouslyManaged: readonly string[];
  /** The member's release pins in force, if any. */
  pin?: ReleasePin | undefined;
}

/** The route lists to write (each one the whole list, as a merge patch replaces lists). */
export interface RoutesOutput {
  http?: Json[] | undefined;
  tls?: Json[] | undefined;
  tcp?: Json[] | undefined;
}

const asList = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const vsName = (ref: VirtualServiceRef): string => `VirtualService "${ref.name}"`;

/** Whether `host` names Service `name` of `namespace` (short, namespaced or fully qualified). */
function hostIs(host: unknown, name: string, namespace: string): boolean {
  if (typeof host !== 'string') return false;
  return host === name || host === `${name}.${namespace}` || host.startsWith(`${name}.${namespace}.`);
}

/** Which side a destination is on, if any. */
function sideOf(routeDestination: Json, target: SplitTarget): 'stable' | 'canary' | undefined {
  const d = (routeDestination.destination ?? {}) as Json;
  if (target.kind === 'subset') {
    if (d.subset === target.stableSubset) return 'stable';
    if (d.subset === target.canarySubset) return 'canary';
    return undefined;
  }
  if (hostIs(d.host, target.stableService, target.namespace)) return 'stable';
  if (hostIs(d.host, target.canaryService, target.namespace)) return 'canary';
  return undefined;
}

const describeSide = (side: 'stable' | 'canary', target: SplitTarget): string =>
  target.kind === 'subset' ? `subset "${side === 'stable' ? target.stableSubset : target.canarySubset}" (${side}SubsetName)` : `Service "${side === 'stable' ? target.stableService : target.canaryService}" (${side}Service)`;

/** The route with its stable and canary weights set (and, for HTTP, their pin cookies); throws when it lacks either destination. */
function split(route: Json, label: string, input: RoutesInput, http = false): Json {
  const destinations = asList(route.route);
  for (const side of ['stable', 'canary'] as const) {
    if (!destinations.some((d) => sideOf(d, input.target) === side)) {
      throw new IstioRoutingError('destination-not-found', `VirtualService/${input.ref.name}`, `${label} of ${vsName(input.ref)} has no destination for ${describeSide(side, input.target)}`);
    }
  }
  // Others keep their share; the stable gives it up, so the route still sums to the scale.
  const others = destinations.filter((d) => sideOf(d, input.target) === undefined).reduce((sum, d) => sum + (typeof d.weight === 'number' ? d.weight : 0), 0);
  const stable = Math.max(0, input.maxWeight - input.canaryWeight - others);
  return { ...route, route: destinations.map((d) => {
    const side = sideOf(d, input.target);
    if (side === undefined) return d;
    const weighted = { ...d, weight: side === 'stable' ? stable : input.canaryWeight };
    return http ? withPinCookie(weighted, side, input.pin, input.ref.name) : weighted;
  }) };
}

/** Indexes of the HTTP routes to split, Argo's way; throws naming a route that is not there. */
function httpIndexes(routes: readonly Json[], ref: VirtualServiceRef): number[] {
  const names = ref.routes ?? [];
  if (names.length === 0) {
    if (routes.length === 1) return [0];
    const unnamed = routes.findIndex((r) => typeof r.name !== 'string' || r.name === '');
    if (unnamed >= 0) return [unnamed];
    throw new IstioRoutingError('route-not-found', `VirtualService/${ref.name}`, `${vsName(ref)} has no unnamed HTTP route to split and the rollout names none in virtualService.routes`);
  }
  return names.map((name) => {
    const i = routes.findIndex((r) => r.name === name);
    if (i < 0) throw new IstioRoutingError('route-not-found', `VirtualService/${ref.name}`, `${vsName(ref)} has no HTTP route named "${name}" (named in virtualService.routes)`);
    return i;
  });
}

/** The one port a route's matches name (0 when none does), or undefined when they name several. */
function onePort(route: Json): number | undefined {
  const ports = new Set(asList(route.match).map((m) => (typeof m.port === 'number' ? m.port : 0)));
  if (ports.size > 1) return undefined;
  return [...ports][0] ?? 0;
}

/** Indexes of the TLS or TCP routes matching `wanted` (port, and for TLS the exact set of SNI hosts). */
function portIndexes(routes: readonly Json[], wanted: { port?: number | undefined; sniHosts?: string[] | undefined }, tls: boolean, ref: VirtualServiceRef): number[] {
  const want = [...new Set(wanted.sniHosts ?? [])].sort();
  const out: number[] = [];
  routes.forEach((route, i) => {
    if (onePort(route) !== (wanted.port ?? 0)) return;
    if (tls) {
      const sni = [...new Set(asList(route.match).flatMap((m) => (Array.isArray(m.sniHosts) ? (m.sniHosts as string[]) : [])))].sort();
      if (JSON.stringify(sni) !== JSON.stringify(want)) return;
    }
    out.push(i);
  });
  if (out.length === 0) {
    const what = tls ? `TLS route on port ${wanted.port ?? 0} with SNI hosts [${want.join(', ')}]` : `TCP route on port ${wanted.port ?? 0}`;
    throw new IstioRoutingError('route-not-found', `VirtualService/${ref.name}`, `${vsName(ref)} has no ${what} (named in virtualService.${tls ? 'tlsRoutes' : 'tcpRoutes'})`);
  }
  return out;
}

/** Characters RE2 treats as syntax, escaped for a literal. */
const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The Cookie header pattern for one cookie condition: the cookie anywhere among the others. */
function cookiePattern(m: HeaderRouteMatch): string {
  const name = literal(m.cookieName ?? '');
  const v = m.cookieValue;
  const value = v?.exact !== undefined ? literal(v.exact) : v?.prefix !== undefined ? `${literal(v.prefix)}[^;]*` : v?.regex !== undefined ? `(?:${v.regex})` : '[^;]*';
  return `^(.*?;\\s*)?${name}=${value}(;.*)?$`;
}

/** An Istio StringMatch for a graylane one (presence when none is given). */
const stringMatch = (v: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined } | undefined): Json =>
  v?.exact !== undefined ? { exact: v.exact } : v?.prefix !== undefined ? { prefix: v.prefix } : v?.regex !== undefined ? { regex: v.regex } : { regex: '.*' };

/** A header route: every condition of the step in one Istio match (all must hold), to the canary only. */
function headerRoute(route: HeaderRoute, canary: Json, input: RoutesInput): Json {
  const headers: Json = {};
  const cookies = route.match.filter((m) => m.cookieName !== undefined);
  if (cookies.length > 1) {
    throw new IstioRoutingError('cookie-conditions', `VirtualService/${input.ref.name}`, `header route "${route.name}" matches ${cookies.length} cookies; Istio matches the one Cookie header with one pattern, so a route can match one cookie`);
  }
  for (const m of route.match) {
    if (m.headerName !== undefined) headers[m.headerName.toLowerCase()] = stringMatch(m.headerValue);
  }
  if (cookies[0]) headers.cookie = { regex: cookiePattern(cookies[0]) };
  return { name: route.name, match: [{ headers }], route: [{ ...canary, weight: input.maxWeight }] };
}

/** A mirror route: matching requests go on as the split says, and a share of them is copied to the canary. */
function mirrorRoute(route: MirrorRoute, weighted: Json[], canary: Json): Json {
  const match = route.match.map((m) => ({
    ...(m.method ? { method: stringMatch(m.method) } : {}),
    ...(m.path ? { uri: stringMatch(m.path) } : {}),
    ...(m.headers ? { headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), stringMatch(v)])) } : {}),
  }));
  return {
    name: route.name,
    ...(match.length > 0 ? { match } : {}),
    route: copy(weighted),
    mirror: copy(canary.destination),
    mirrorPercentage: { value: route.percentage },
  };
}

/** The routes `input.spec` must have; throws {@link IstioRoutingError} when the spec and the VirtualService disagree. */
export function desiredRoutes(input: RoutesInput): RoutesOutput {
  const out: RoutesOutput = {};
  const managedNow = [...input.headerRoutes.map((r) => r.name), ...input.mirrorRoutes.map((r) => r.name)];
  const strip = new Set([...input.managedRoutes, ...input.previouslyManaged, ...managedNow]);
  const http = asList(input.spec.http);
  // Pin routes are recognised by name too: written by a controller that crashed before recording them.
  const pinPrefix = input.pin ? `${PIN_ROUTE_PREFIX}${input.pin.release}-` : undefined;
  const userHttp = http.filter((r) => typeof r.name !== 'string' || (!strip.has(r.name) && (pinPrefix === undefined || !r.name.startsWith(pinPrefix))));
  const named = (input.ref.routes?.length ?? 0) > 0 || ((input.ref.tlsRoutes?.length ?? 0) === 0 && (input.ref.tcpRoutes?.length ?? 0) === 0);
  const indexes = named ? httpIndexes(userHttp, input.ref) : [];
  const splitHttp = userHttp.map((r, i) => (indexes.includes(i) ? split(r, typeof r.name === 'string' ? `HTTP route "${r.name}"` : `HTTP route ${i}`, input, true) : r));
  const pins = input.pin
    ? pinRoutes({ pin: input.pin, weighted: indexes.map((i) => splitHttp[i]!), vsName: input.ref.name, destinationOf: (r, side) => asList(r.route).find((d) => sideOf(d, input.target) === side)! })
    : [];
  if (managedNow.length > 0) {
    const weighted = indexes.map((i) => splitHttp[i]!);
    const first = weighted[0];
    if (!first) {
      throw new IstioRoutingError('route-not-found', `VirtualService/${input.ref.name}`, `${vsName(input.ref)}: header and mirror routes need an HTTP route to split, and the rollout names none in virtualService.routes`);
    }
    const canary = asList(first.route).find((d) => sideOf(d, input.target) === 'canary')!;
    const canaryDestination = { destination: copy(canary.destination) };
    const made = new Map<string, Json>([
      ...input.headerRoutes.map((r) => [r.name, headerRoute(r, canaryDestination, input)] as const),
      ...input.mirrorRoutes.map((r) => [r.name, mirrorRoute(r, asList(first.route), canary)] as const),
    ]);
    const order = [...input.managedRoutes, ...managedNow.filter((n) => !input.managedRoutes.includes(n))];
    out.http = [...pins, ...order.flatMap((n) => (made.has(n) ? [made.get(n)!] : [])), ...splitHttp];
  } else {
    out.http = [...pins, ...splitHttp];
  }
  if (out.http.length === 0 && !Array.isArray(input.spec.http)) delete out.http;
  for (const [key, refs, tls] of [['tls', input.ref.tlsRoutes, true], ['tcp', input.ref.tcpRoutes, false]] as const) {
    if (!refs || refs.length === 0) continue;
    const routes = asList(input.spec[key]);
    const chosen = new Set(refs.flatMap((r) => portIndexes(routes, r, tls, input.ref)));
    out[key] = routes.map((r, i) => (chosen.has(i) ? split(r, `${tls ? 'TLS' : 'TCP'} route ${i}`, input) : r));
  }
  return out;
}

/** JSON with object keys sorted: an API server may hand fields back in another order (Go maps are sorted). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Json).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether writing `desired` would change `spec` (deep; list order counts: Istio takes the first route that matches). */
export function routesDiffer(spec: Json, desired: RoutesOutput): boolean {
  return (['http', 'tls', 'tcp'] as const).some((k) => desired[k] !== undefined && canonicalJson(desired[k]) !== canonicalJson(spec[k] ?? []));
}
