/**
 * Builds a service's route for the built-in router from what is in force (the engine's last
 * traffic decision) and what is running (the runtime's instances). Pure: same inputs, same route.
 */
import type { InstanceRoute, ServiceRoute } from '../../router/contract/index.js';
import type { RolloutSpec } from '../../documents/schema.js';
import type { TrafficInForce } from '../../engine/index.js';
import type { TrafficEndpoint } from '../traffic-provider.js';

export type { TrafficInForce };

/** The service fields a route is built from (an App service, or a traffic decision's). */
export interface RoutedService {
  /** Service name. */
  name: string;
  /** Host it answers for; any when absent. */
  host?: string | undefined;
  /** Path prefix it owns; `/` when absent. */
  pathPrefix?: string | undefined;
}

/** Cookie that keeps a browser on the side of a weighted split it was assigned to. */
export const STICKY_COOKIE = 'graylane-canary';

/** Header a tester sets (value `1`) to reach a blue-green preview before promotion. */
export const PREVIEW_HEADER = 'x-graylane-preview';
/** Cookie a tester's browser carries (value: the service's name) to reach its blue-green preview. */
export const PREVIEW_COOKIE = 'graylane-preview';

function instanceRoutes(endpoints: TrafficEndpoint[]): InstanceRoute[] {
  return endpoints
    // An instance still choosing its port has no address to route to yet.
    .filter((e) => !e.address.endsWith(':0'))
    .map((e) => ({ id: e.id, address: e.address, ready: e.ready, draining: e.draining, ...(e.lastResort === true && !e.ready && { lastResort: true }) }));
}

/**
 * The route of one service. Without traffic routing (rolling updates, replica-ratio canaries)
 * requests spread over every ready instance of both revisions, so the split follows instance
 * counts as it does behind a Kubernetes Service; with it, the engine's weight holds.
 */
export function buildServiceRoute(options: {
  service: RoutedService;
  spec: RolloutSpec | undefined;
  traffic: TrafficInForce;
  /** The service's instances that are not stopped (see `toTrafficEndpoints`). */
  endpoints: TrafficEndpoint[];
}): ServiceRoute {
  const { service, traffic, endpoints: instances } = options;
  const stable = traffic.stableRevision;
  const canary = traffic.canaryRevision && traffic.canaryRevision !== stable ? traffic.canaryRevision : undefined;
  const revisions: ServiceRoute['revisions'] = { [stable]: { instances: instanceRoutes(instances.filter((i) => i.revision === stable)) } };
  if (canary) revisions[canary] = { instances: instanceRoutes(instances.filter((i) => i.revision === canary)) };
  const routed = !!options.spec?.strategy.blueGreen || !!options.spec?.strategy.canary?.trafficRouting;
  // The router splits in percent; the engine's weight is on the rollout's scale (maxTrafficWeight).
  const scale = options.spec?.strategy.canary?.trafficRouting?.maxTrafficWeight ?? 100;
  let canaryWeight = canary ? Math.round((traffic.canaryWeight * 100) / scale) : 0;
  if (canary && !routed) {
    const ready = (r: string) => instances.filter((i) => i.revision === r && i.ready).length;
    const total = ready(stable) + ready(canary);
    canaryWeight = total === 0 ? 0 : Math.round((100 * ready(canary)) / total);
  }
  const route: ServiceRoute = {
    name: service.name,
    pathPrefix: service.pathPrefix ?? '/',
    stable,
    revisions,
    canaryWeight,
    stickyCookie: `${STICKY_COOKIE}-${service.name}`,
  };
  if (service.host) route.host = service.host;
  const preview = previewRoute(options.spec, traffic, instances, service.name);
  if (preview) {
    revisions[preview.revision] ??= { instances: instanceRoutes(instances.filter((i) => i.revision === preview.revision)) };
    route.matches = [...preview.matches];
  }
  if (canary) {
    route.canary = canary;
    const matches = traffic.headerRoutes.map((h) => ({
      revision: canary,
      match: h.match.map((m) => ({ ...m })),
    }));
    if (matches.length > 0) route.matches = [...(route.matches ?? []), ...matches];
    const mirror = traffic.mirrorRoutes[0];
    if (mirror) route.mirror = { revision: canary, percentage: mirror.percentage, ...(mirror.match.length > 0 ? { match: mirror.match } : {}) };
  }
  return route;
}

/**
 * The preview's address on a single host, when `allowPreviewHeader` is on and a preview is up
 * and not yet active: header `x-graylane-preview: 1`, or cookie `graylane-preview=<service>`
 * (so a tester's browser reaches one service's preview, not every service's).
 */
function previewRoute(spec: RolloutSpec | undefined, traffic: TrafficInForce, instances: TrafficEndpoint[], serviceName: string): { revision: string; matches: NonNullable<ServiceRoute['matches']> } | undefined {
  const preview = traffic.previewRevision;
  if (!spec?.strategy.blueGreen?.allowPreviewHeader || !preview || preview === traffic.stableRevision) return undefined;
  // No instance of it left (aborted and scaled down): nothing to send testers to.
  if (!instances.some((i) => i.revision === preview)) return undefined;
  return {
    revision: preview,
    matches: [
      { revision: preview, match: [{ headerName: PREVIEW_HEADER, headerValue: { exact: '1' } }] },
      { revision: preview, match: [{ cookieName: PREVIEW_COOKIE, cookieValue: { exact: serviceName } }] },
    ],
  };
}
