/**
 * Builds a service's route for the built-in router from what is in force (the engine's last
 * traffic decision) and what is running (the runtime's instances). Pure: same inputs, same route.
 */
import type { InstanceInfo } from '../../runtime/runtime.js';
import type { InstanceRoute, ServiceRoute } from '../../router/index.js';
import type { AppService, RolloutSpec } from '../../spec/schema.js';
import type { SetTrafficAction } from '../../engine/index.js';

/** The traffic decision in force for a service, persisted beside its status. */
export type TrafficInForce = Omit<SetTrafficAction, 'type'>;

/** Cookie that keeps a browser on the side of a weighted split it was assigned to. */
export const STICKY_COOKIE = 'graylane-canary';

function instanceRoutes(instances: InstanceInfo[]): InstanceRoute[] {
  return instances
    // An instance still choosing its port has no address to route to yet.
    .filter((i) => i.state !== 'stopped' && !i.address.endsWith(':0'))
    .map((i) => ({ id: i.id, address: i.address, ready: i.state === 'ready', draining: i.state === 'stopping' }));
}

/**
 * The route of one service. Without traffic routing (rolling updates, replica-ratio canaries)
 * requests spread over every ready instance of both revisions, so the split follows instance
 * counts as it does behind a Kubernetes Service; with it, the engine's weight holds.
 */
export function buildServiceRoute(options: {
  service: AppService;
  spec: RolloutSpec | undefined;
  traffic: TrafficInForce;
  instances: InstanceInfo[];
}): ServiceRoute {
  const { service, traffic, instances } = options;
  const stable = traffic.stableRevision;
  const canary = traffic.canaryRevision && traffic.canaryRevision !== stable ? traffic.canaryRevision : undefined;
  const revisions: ServiceRoute['revisions'] = { [stable]: { instances: instanceRoutes(instances.filter((i) => i.revision === stable)) } };
  if (canary) revisions[canary] = { instances: instanceRoutes(instances.filter((i) => i.revision === canary)) };
  const routed = !!options.spec?.strategy.blueGreen || !!options.spec?.strategy.canary?.trafficRouting;
  let canaryWeight = canary ? traffic.canaryWeight : 0;
  if (canary && !routed) {
    const ready = (r: string) => instances.filter((i) => i.revision === r && i.state === 'ready').length;
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
  if (canary) {
    route.canary = canary;
    const matches = traffic.headerRoutes.map((h) => ({
      revision: canary,
      match: h.match.map((m) => ({ ...m })),
    }));
    if (matches.length > 0) route.matches = matches;
    const mirror = traffic.mirrorRoutes[0];
    if (mirror) route.mirror = { revision: canary, percentage: mirror.percentage, ...(mirror.match.length > 0 ? { match: mirror.match } : {}) };
  }
  return route;
}
