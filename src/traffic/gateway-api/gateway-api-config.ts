/**
 * The Gateway API traffic provider's validate half: Argo's plugin configuration
 * `trafficRouting.plugins."argoproj-labs/gatewayAPI"` read into the routes graylane writes, and
 * every problem with it reported by path before anything is applied. A plugin key graylane does
 * not carry out, or a field of the Gateway API block it would ignore, is an issue, never a
 * silent no-op.
 */
import type { RolloutSpec } from '../../documents/schema.js';
import { capabilityIssues } from '../capability-checks.js';
import type { TrafficCapability, TrafficIssue } from '../traffic-provider.js';
import type { TrafficValidator } from '../traffic-validator.js';

/** The key under `trafficRouting` that selects the provider (Argo's plugin map). */
export const GATEWAY_API_TYPE = 'plugins';

/** The plugin name Argo Rollouts manifests use for the Gateway API plugin. */
export const GATEWAY_API_PLUGIN = 'argoproj-labs/gatewayAPI';

/**
 * Weights on backendRefs, header and cookie matches as added rules, `RequestMirror`, release
 * pinning on HTTPRoutes (`ResponseHeaderModifier` on the backendRefs, pin rules), and reading
 * routes back.
 */
export const GATEWAY_API_CAPABILITIES: ReadonlySet<TrafficCapability> = new Set(['weight', 'headerRoute', 'cookieRoute', 'mirror', 'releasePinning', 'verify']);

/** The route kinds the provider writes. */
export type GatewayRouteKind = 'HTTPRoute' | 'GRPCRoute';

/** One route the configuration names. */
export interface GatewayRouteRef {
  /** `HTTPRoute` or `GRPCRoute`. */
  kind: GatewayRouteKind;
  /** Its name. */
  name: string;
  /** Its namespace: the block's `namespace`, else the Rollout's. */
  namespace: string;
  /** Whether header and mirror routes are added to it (`useHeaderRoutes`; always for the single-route form). */
  managedRoutes: boolean;
}

/** What a Rollout routed through the Gateway API writes. */
export interface GatewayApiSettings {
  /** The routes, HTTPRoutes first, in the order the configuration names them. */
  routes: GatewayRouteRef[];
  /** `canaryService`. */
  canaryService: string;
  /** `stableService`. */
  stableService: string;
}

/** graylane's own key for the same block (`trafficRouting.gatewayAPI`); selects the same provider. */
export const GATEWAY_API_ALIAS = 'gatewayAPI';

const ROUTING_PATH = ['strategy', 'canary', 'trafficRouting'];
const PLUGIN_PATH = [...ROUTING_PATH, 'plugins', GATEWAY_API_PLUGIN];
const ALIAS_PATH = [...ROUTING_PATH, GATEWAY_API_ALIAS];

/** Whether a spec names the Gateway API in either spelling (or any Argo plugin). */
export function namesGatewayApi(spec: RolloutSpec | undefined): boolean {
  const routing = spec?.strategy.canary?.trafficRouting;
  return routing?.plugins !== undefined || routing?.gatewayAPI !== undefined;
}
/** Fields of the plugin's block graylane does not carry out (TCP/TLS routes, discovery by label selector, the in-progress label). */
const UNSUPPORTED = ['tcpRoute', 'tcpRoutes', 'tlsRoute', 'tlsRoutes', 'httpRouteSelector', 'grpcRouteSelector', 'tcpRouteSelector', 'tlsRouteSelector', 'inProgressLabelKey', 'inProgressLabelValue'];
const KNOWN = new Set(['httpRoute', 'httpRoutes', 'grpcRoute', 'grpcRoutes', 'namespace', 'disableInProgressLabel', ...UNSUPPORTED]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one kind's routes from the single (`httpRoute`) and the list (`httpRoutes`) form. */
function readRoutes(block: Record<string, unknown>, kind: GatewayRouteKind, namespace: string, issues: TrafficIssue[], blockPath: readonly (string | number)[]): GatewayRouteRef[] {
  const single = kind === 'HTTPRoute' ? 'httpRoute' : 'grpcRoute';
  const list = `${single}s`;
  const out: GatewayRouteRef[] = [];
  const one = block[single];
  if (one !== undefined) {
    if (typeof one === 'string' && one !== '') out.push({ kind, name: one, namespace, managedRoutes: true });
    else issues.push({ path: [...blockPath, single], reason: `${single} must be the name of a ${kind}` });
  }
  const many = block[list];
  if (many !== undefined) {
    if (!Array.isArray(many)) issues.push({ path: [...blockPath, list], reason: `${list} must be a list of {name, useHeaderRoutes}` });
    else {
      many.forEach((entry: unknown, i) => {
        if (!isRecord(entry) || typeof entry.name !== 'string' || entry.name === '') {
          issues.push({ path: [...blockPath, list, i, 'name'], reason: `each of ${list} needs the name of a ${kind}` });
        } else if (entry.useHeaderRoutes !== undefined && typeof entry.useHeaderRoutes !== 'boolean') {
          issues.push({ path: [...blockPath, list, i, 'useHeaderRoutes'], reason: 'useHeaderRoutes must be true or false' });
        } else {
          out.push({ kind, name: entry.name, namespace, managedRoutes: entry.useHeaderRoutes === true });
        }
      });
    }
  }
  const seen = new Set<string>();
  for (const r of out) {
    if (seen.has(r.name)) issues.push({ path: [...blockPath, list], reason: `${kind} "${r.name}" is named twice` });
    seen.add(r.name);
  }
  return out;
}

/**
 * The settings of a spec routed through the Gateway API block (`trafficRouting.gatewayAPI` or
 * Argo's plugin block, one of the two), and every problem with
 * them. `namespace` is the Rollout's, the routes' default namespace. Settings are undefined when
 * any problem stands in the way of writing a route.
 */
export function readGatewayApiSettings(spec: RolloutSpec | undefined, namespace: string): { settings?: GatewayApiSettings | undefined; issues: TrafficIssue[] } {
  const canary = spec?.strategy.canary;
  const plugins = canary?.trafficRouting?.plugins;
  const alias = canary?.trafficRouting?.gatewayAPI;
  const issues: TrafficIssue[] = [];
  if (plugins === undefined && alias === undefined) {
    return { issues: [{ path: [...ROUTING_PATH, 'plugins'], reason: `the Gateway API provider needs trafficRouting.${GATEWAY_API_ALIAS} or trafficRouting.plugins."${GATEWAY_API_PLUGIN}"` }] };
  }
  for (const name of Object.keys(plugins ?? {})) {
    if (name !== GATEWAY_API_PLUGIN) issues.push({ path: [...ROUTING_PATH, 'plugins', name], reason: `graylane carries out the plugin "${GATEWAY_API_PLUGIN}" only, not "${name}"` });
  }
  if (alias !== undefined && plugins?.[GATEWAY_API_PLUGIN] !== undefined) {
    issues.push({ path: ALIAS_PATH, reason: `trafficRouting.${GATEWAY_API_ALIAS} and trafficRouting.plugins."${GATEWAY_API_PLUGIN}" are two spellings of the same routes: keep one` });
    return { issues };
  }
  const blockPath = alias !== undefined ? ALIAS_PATH : PLUGIN_PATH;
  const block: unknown = alias ?? plugins?.[GATEWAY_API_PLUGIN];
  if (!isRecord(block)) {
    issues.push({ path: blockPath, reason: 'must name the routes to write: httpRoute(s) or grpcRoute(s)' });
    return { issues };
  }
  for (const key of Object.keys(block)) {
    if (!KNOWN.has(key)) issues.push({ path: [...blockPath, key], reason: `unknown field of the Gateway API plugin: ${key}` });
    else if (UNSUPPORTED.includes(key)) issues.push({ path: [...blockPath, key], reason: `${key} is not supported by graylane's Gateway API provider: name HTTPRoutes and GRPCRoutes with httpRoute(s) and grpcRoute(s)` });
  }
  let routeNamespace = namespace;
  if (block.namespace !== undefined) {
    if (typeof block.namespace === 'string' && block.namespace !== '') routeNamespace = block.namespace;
    else issues.push({ path: [...blockPath, 'namespace'], reason: 'namespace must be a namespace name' });
  }
  const routes = [...readRoutes(block, 'HTTPRoute', routeNamespace, issues, blockPath), ...readRoutes(block, 'GRPCRoute', routeNamespace, issues, blockPath)];
  if (routes.length === 0 && !issues.some((i) => i.path.length > blockPath.length)) {
    issues.push({ path: blockPath, reason: 'names no route: set httpRoute, httpRoutes, grpcRoute or grpcRoutes' });
  }
  const canaryService = canary?.canaryService;
  const stableService = canary?.stableService;
  if (!canaryService) issues.push({ path: ['strategy', 'canary', 'canaryService'], reason: 'the Gateway API provider weighs the canaryService\'s backendRef: name it' });
  if (!stableService) issues.push({ path: ['strategy', 'canary', 'stableService'], reason: 'the Gateway API provider weighs the stableService\'s backendRef: name it' });
  if (canaryService && canaryService === stableService) issues.push({ path: ['strategy', 'canary', 'canaryService'], reason: 'canaryService and stableService must be two Services: a backendRef cannot carry two weights' });
  issues.push(...stepIssues(spec, routes));
  if (issues.length > 0 || !canaryService || !stableService) return { issues };
  return { settings: { routes, canaryService, stableService }, issues };
}

/** Steps the configured routes cannot carry: a header or mirror route with no route taking managed routes, a mirror by method other than exact. */
function stepIssues(spec: RolloutSpec | undefined, routes: readonly GatewayRouteRef[]): TrafficIssue[] {
  const out: TrafficIssue[] = [];
  const takes = routes.filter((r) => r.managedRoutes);
  (spec?.strategy.canary?.steps ?? []).forEach((step, i) => {
    const at = ['strategy', 'canary', 'steps', i];
    if ('setHeaderRoute' in step && (step.setHeaderRoute.match?.length ?? 0) > 0) {
      if (takes.length === 0) out.push({ path: [...at, 'setHeaderRoute'], reason: 'no route takes header routes: use httpRoute or grpcRoute, or set useHeaderRoutes: true on one of httpRoutes or grpcRoutes' });
      const cookies = (step.setHeaderRoute.match ?? []).filter((m) => m.cookieName !== undefined).length;
      const headers = (step.setHeaderRoute.match ?? []).map((m) => m.headerName?.toLowerCase()).filter((n) => n !== undefined);
      // A Gateway API match keys its header matches by name: a second one of a name would replace the first.
      if (cookies > 1 || new Set(headers).size !== headers.length || (cookies > 0 && headers.includes('cookie'))) {
        out.push({ path: [...at, 'setHeaderRoute'], reason: 'a Gateway API match holds one condition per header: at most one cookie match, and each header named once' });
      }
      if (takes.some((r) => r.kind === 'GRPCRoute') && cookies > 0) out.push({ path: [...at, 'setHeaderRoute'], reason: 'a GRPCRoute cannot match a cookie' });
    }
    if ('setMirrorRoute' in step && (step.setMirrorRoute.match?.length ?? 0) > 0) {
      if (!takes.some((r) => r.kind === 'HTTPRoute')) out.push({ path: [...at, 'setMirrorRoute'], reason: 'no HTTPRoute takes mirror routes: use httpRoute, or set useHeaderRoutes: true on one of httpRoutes' });
      (step.setMirrorRoute.match ?? []).forEach((m, j) => {
        if (m.method !== undefined && m.method.exact === undefined) out.push({ path: [...at, 'setMirrorRoute', 'match', j, 'method'], reason: 'an HTTPRoute matches a method exactly: use method.exact' });
      });
    }
  });
  return out;
}

/** Checks a rollout spec naming the Gateway API (either spelling): the block and every step it must carry. */
export function validateGatewayApi(spec: RolloutSpec): TrafficIssue[] {
  const needs = capabilityIssues('the Gateway API provider', GATEWAY_API_CAPABILITIES, spec);
  if (!namesGatewayApi(spec)) return needs;
  const reported = new Set(needs.map((i) => JSON.stringify(i.path)));
  return [...needs, ...readGatewayApiSettings(spec, 'default').issues.filter((i) => !reported.has(JSON.stringify(i.path)))];
}

/** The Gateway API provider's validate half, for loading documents without a cluster at hand. */
export const gatewayApiTrafficValidator: TrafficValidator = { type: GATEWAY_API_TYPE, capabilities: GATEWAY_API_CAPABILITIES, validate: validateGatewayApi };
